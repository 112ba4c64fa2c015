#!/usr/bin/env bash
# Smoke test of the observer example, end to end, in its three modes:
# - the page: the example serves it on loopback, headless Chromium loads it
#   (the page's own JS polls /stats.json and renders), and the rendered DOM
#   must show the actor tree, a restart with the panic and its flight
#   record, the rate history and the dead letters grouped;
# - until interrupted: without --seconds it runs until SIGINT, then prints
#   its summary and exits 0;
# - the terminal view: --tui in a real pseudo-terminal (tmux), read back
#   from the screen, an actor selected with the arrow keys, quit with Ctrl-C.
# Installs Debian's chromium and tmux packages when they are missing.
source "$(dirname "$0")/lib/smoke.sh"
smoke observer

if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium"
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
command -v chromium >/dev/null 2>&1 || fail "chromium is not installed and could not be"
if ! command -v tmux >/dev/null 2>&1; then
  echo "installing tmux"
  apt-get update -qq && apt-get install -y -qq tmux >/dev/null
fi
command -v tmux >/dev/null 2>&1 || fail "tmux is not installed and could not be"

# Build first, so compile time does not eat into the example's run.
exe=$(cargo build -q --example observer --message-format=json |
  grep '"kind":\["example"\]' | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
[ -x "$exe" ] || fail "no executable for the observer example"

work=$(mktemp -d)
pid=
# A tmux server of this run's own, so no other session is touched.
tmux_socket="observer-smoke-$$"
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  tmux -L "$tmux_socket" kill-server 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$exe" --seconds 10 >"$work/out" 2>&1 &
pid=$!

url=
for _ in $(seq 200); do
  url=$(sed -n 's|^observer at \(http://127\.0\.0\.1:[0-9]*/\)$|\1|p' "$work/out")
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$url" ] || fail "the example printed no address: $(cat "$work/out")"
echo "observer at $url"

# Let the flaky worker crash once (about 2 s in) before looking.
sleep 3

# The page polls every 500 ms; 3 s of virtual time lets it fetch and render
# several times before the DOM is dumped.
status=0
timeout 60 chromium --headless --no-sandbox --disable-gpu --virtual-time-budget=3000 \
  --dump-dom "$url" >"$work/dom.html" 2>"$work/chromium.err" || status=$?
if [ "$status" -ne 0 ]; then
  cat "$work/chromium.err" >&2
  fail "chromium exited with status $status"
fi
dom=$(cat "$work/dom.html")
# One table row per line.
rows=$(sed 's|</tr>|</tr>\n|g' <<<"$dom" | grep 'class="actor-row' || true)

row_of() { grep -F "<span class=\"name\">$1<" <<<"$rows" || grep -F "<span class=\"name\">└ $1<" <<<"$rows" || true; }
attr() { sed -n "s/.* $1=\"\\([^\"]*\\)\".*/\\1/p" <<<"$2" | head -n 1; }

grep -q 'id="status" class="ok"' <<<"$dom" || fail "the page did not load /stats.json: $(grep -o '<span id="status"[^<]*' <<<"$dom")"

workers=$(row_of workers)
[ -n "$workers" ] || fail "no row for the supervisor 'workers'"
grep -q 'actor_core::supervision::Supervisor' <<<"$workers" || fail "'workers' is not shown as a Supervisor"
workers_id=$(attr data-actor-id "$workers")
[ -n "$workers_id" ] || fail "the supervisor's row has no id"
for child in steady-1 steady-2 flaky; do
  row=$(row_of "$child")
  [ -n "$row" ] || fail "no row for '$child'"
  [ "$(attr data-parent "$row")" = "$workers_id" ] || fail "'$child' is not shown under 'workers'"
  grep -q 'observer::Worker' <<<"$row" || fail "'$child' is not shown as a Worker"
  grep -q 'class="state">running<' <<<"$row" || fail "'$child' is not shown running"
done
grep -q 'class="restarts restarted">[1-9]' <<<"$(row_of flaky)" || fail "the flaky worker's restart is not shown"
grep -q 'class="panic"[^>]*>flaky worker fails on purpose at job [0-9]*<' <<<"$(row_of flaky)" ||
  fail "the flaky worker's last panic is not in its row"
grep -qE 'class="rate">[1-9][0-9]*\.[0-9]<' <<<"$(row_of steady-1)" || fail "no message rate for steady-1"
grep -qE 'class="spark"[^>]*data-points="([2-9]|[1-9][0-9]+)"' <<<"$(row_of steady-1)" ||
  fail "no rate history for steady-1"
slow=$(row_of slow)
[ -n "$slow" ] || fail "no row for 'slow'"
[ -z "$(attr data-parent "$slow")" ] || fail "'slow' should be a root actor"

# Why the flaky worker restarts: its panic, the jobs before it, the times.
failure=$(sed 's|<div class="failure"|\n<div class="failure"|g' <<<"$dom" | grep '^<div class="failure"' |
  grep '<b class="name">flaky<' || true)
[ -n "$failure" ] || fail "no failure section for the flaky worker"
grep -q 'class="panic-message">flaky worker fails on purpose at job [0-9]*<' <<<"$failure" ||
  fail "the flaky worker's panic message is not shown"
grep -qE '<li class="last-record">Job \{ n: [0-9]+ \}</li>' <<<"$failure" ||
  fail "the flaky worker's flight record is not shown"
grep -q 'class="restart-times">last restarts: ' <<<"$failure" || fail "the restart times are not shown"

groups=$(sed 's|</tr>|</tr>\n|g' <<<"$dom" | grep 'class="dead-letter-group"' || true)
[ -n "$groups" ] || fail "no dead letters on the page"
[ "$(wc -l <<<"$groups")" -eq 1 ] || fail "the letters to 'missing' are not one group: $groups"
grep -qE '<td class="count">[1-9][0-9]*</td><td class="reason">UnknownName</td><td class="message">observer::Job → "missing" \(observer::Worker\)</td>' <<<"$groups" ||
  fail "the dead letters to 'missing' are not shown grouped: $groups"
echo "page shows $(wc -l <<<"$rows") actors, the flaky worker's panic and $(wc -l <<<"$groups") dead-letter group"

status=0
wait "$pid" || status=$?
pid=
cat "$work/out"
[ "$status" -eq 0 ] || fail "the example exited with status $status"
grep -qE '^after 10 s: 5 actors, [0-9]+ messages handled, [1-9][0-9]* restarts, [1-9][0-9]* dead letters in 1 group\(s\)$' "$work/out" ||
  fail "no summary line"

# Without --seconds it runs until interrupted.
"$exe" >"$work/out2" 2>&1 &
pid=$!
for _ in $(seq 100); do
  grep -q '^press Ctrl-C to stop$' "$work/out2" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
sleep 1
kill -0 "$pid" 2>/dev/null || fail "the example stopped by itself: $(cat "$work/out2")"
kill -INT "$pid"
status=0
wait "$pid" || status=$?
pid=
[ "$status" -eq 0 ] || fail "the example exited with status $status after SIGINT: $(cat "$work/out2")"
grep -qE '^after [0-9]+ s: 5 actors, ' "$work/out2" || fail "no summary after SIGINT: $(cat "$work/out2")"
echo "stops on SIGINT: $(grep '^after' "$work/out2")"

# The terminal view, in a real pseudo-terminal of 140x45.
tmux -L "$tmux_socket" new-session -d -s observer -x 140 -y 45 "$exe --tui; echo EXIT=\$?; sleep 60"
screen() { tmux -L "$tmux_socket" capture-pane -t observer -p; }
wait_screen() { # wait_screen PATTERN WHAT: up to 15 s for PATTERN (grep -E) on the screen
  for _ in $(seq 150); do
    screen | grep -qE "$1" && return 0
    sleep 0.1
  done
  fail "the terminal view never showed $2: $(screen)"
}
wait_screen '^┌ actor observer: http://127\.0\.0\.1:[0-9]+/' "its title"
# Wait for the flaky worker's first restart (about 2 s in), then select it:
# the fourth row (workers, steady-1, steady-2, flaky).
wait_screen '└ flaky +Worker +[0-9]+ +[0-9.]+ +[0-9]+ +[1-9]' "a restart of the flaky worker"
for _ in 1 2 3 4; do tmux -L "$tmux_socket" send-keys -t observer Down; done
wait_screen '^│>   └ flaky ' "the flaky worker selected"
wait_screen 'flight record, oldest first:' "the flight record"
wait_screen '│  Job \{ n: [0-9]+ \}' "the jobs before the panic"
wait_screen '│flaky worker fails on purpose at job [0-9]+' "the panic message"
wait_screen '│restarts: [1-9][0-9]* \(last: [0-9.]+ s ago' "the restart times"
wait_screen '[1-9][0-9]*× UnknownName Job → "missing" \(Worker\)' "the dead letters grouped"
tmux -L "$tmux_socket" send-keys -t observer C-c
wait_screen '^EXIT=0$' "a clean exit after Ctrl-C"
screen | grep -qE '^after [0-9]+ s: 5 actors, ' || fail "no summary after the terminal view: $(screen)"
echo "terminal view: $(screen | grep '^after')"
echo "observer smoke test passed"
