#!/usr/bin/env bash
# Smoke test of the chat example: the self-test with many TCP clients must
# deliver every line to every other member of its room, and the server alone
# (`--serve`) must relay a line between two raw connections.
source "$(dirname "$0")/lib/smoke.sh"
smoke chat

# 1. The self-test, with the issue's sizes and then with many more clients.
for args in "--clients 20 --messages 10" "--clients 100 --messages 20 --rooms 5"; do
  # shellcheck disable=SC2086 # the options are meant to split
  run cargo run -q --example chat -- $args
  grep -qE '^delivered ([0-9]+) of \1 expected, each sender.s lines in order$' <<<"$out" ||
    fail "chat $args did not deliver every line in order"
  if grep -qE '^delivered 0 of' <<<"$out"; then fail "chat $args expected nothing to deliver"; fi
done

# 2. The server alone, on a free loopback port, driven through bash's /dev/tcp.
scratch
log=$tmp/server.log

cargo build -q --example chat
cargo run -q --example chat -- --serve 127.0.0.1:0 >"$log" &
stop_at_exit "$!"
addr=$(await_match "$log" 's/^chat server listening on (127\.0\.0\.1:[0-9]+)$/\1/p' \
  "the server did not report its address")
port=${addr##*:}

# Reads lines from a descriptor until one matches, or fails after 10 s.
expect_line() {
  local fd=$1 pattern=$2 line
  while IFS= read -r -t 10 -u "$fd" line; do
    printf '  [%s] %s\n' "$fd" "$line"
    if grep -qE "$pattern" <<<"$line"; then return 0; fi
  done
  fail "no line matching '$pattern' on connection $fd"
}

exec 3<>"/dev/tcp/127.0.0.1/$port"
exec 4<>"/dev/tcp/127.0.0.1/$port"
printf '/nick ann\n/join lobby\n' >&3
expect_line 3 '^\* you joined lobby as ann \(1 here\)$'
printf '/nick bob\n/join lobby\n' >&4
expect_line 4 '^\* you joined lobby as bob \(2 here\)$'
expect_line 3 '^\* bob joined$'
printf 'hello from bob\n' >&4
expect_line 3 '^bob: hello from bob$'
printf '/quit\n' >&4
expect_line 3 '^\* bob left$'
echo "chat smoke test passed"
