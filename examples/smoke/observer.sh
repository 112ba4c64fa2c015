#!/usr/bin/env bash
# Smoke test of the observer example and its page, end to end: the example
# serves the page on loopback, headless Chromium loads it (the page's own JS
# polls /stats.json and renders), and the rendered DOM must show the actor
# tree, a restart and the dead letters. Installs Debian's chromium package
# when it is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() {
  echo "observer smoke test FAILED: $*" >&2
  exit 1
}

if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium"
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
command -v chromium >/dev/null 2>&1 || fail "chromium is not installed and could not be"

# Build first, so compile time does not eat into the example's run.
exe=$(cargo build -q --example observer --message-format=json |
  grep '"kind":\["example"\]' | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
[ -x "$exe" ] || fail "no executable for the observer example"

work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
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
grep -qE 'class="rate">[1-9][0-9]*\.[0-9]<' <<<"$(row_of steady-1)" || fail "no message rate for steady-1"
slow=$(row_of slow)
[ -n "$slow" ] || fail "no row for 'slow'"
[ -z "$(attr data-parent "$slow")" ] || fail "'slow' should be a root actor"

letters=$(sed 's|</li>|</li>\n|g' <<<"$dom" | grep 'class="dead-letter"' || true)
[ -n "$letters" ] || fail "no dead letters on the page"
grep -q 'observer::Job → "missing" (observer::Worker): </span><span class="reason">UnknownName<' <<<"$letters" ||
  fail "the dead letter to 'missing' is not shown: $letters"
echo "page shows $(wc -l <<<"$rows") actors and $(wc -l <<<"$letters") dead letters"

status=0
wait "$pid" || status=$?
pid=
cat "$work/out"
[ "$status" -eq 0 ] || fail "the example exited with status $status"
grep -qE '^after 10 s: 5 actors, [0-9]+ messages handled, [1-9][0-9]* restarts, [1-9][0-9]* dead letters$' "$work/out" ||
  fail "no summary line"
echo "observer smoke test passed"
