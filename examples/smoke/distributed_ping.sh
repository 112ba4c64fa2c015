#!/usr/bin/env bash
# Smoke test of the distributed_ping example: the one-command run (which
# starts the pong process, plays, and kills it) must play every round both
# ways and report the lost node; then the two-process form, one command
# each, on a free loopback port.
source "$(dirname "$0")/lib/smoke.sh"
smoke distributed_ping

run timeout 60 cargo run -q --example distributed_ping -- --rounds 200
expect_match '^200 pings asked and answered in order' "the asks did not all come back"
expect_line '200 serves returned through a reference sent across the wire' "the tells did not all come back"
expect_line 'monitor fired after the pong process was killed: its node is down' "no node-loss report"
expect_match '^ask to the lost node failed at once: ' "the ask to the lost node did not fail"
expect_line 'match over' "the match did not end"

# Two processes, one command each.
cargo build -q --example distributed_ping
bin=target/debug/examples/distributed_ping
port=$(free_port)
serve "$port" "$bin" --serve --listen "tcp://127.0.0.1:$port"
out=$(timeout 30 "$bin" --connect "tcp://127.0.0.1:$port" --rounds 50) || fail "the pinger failed"
printf '%s\n' "$out"
expect_match '^50 pings asked and answered in order' "two-process asks failed"
expect_line '50 serves returned through a reference sent across the wire' "two-process tells failed"
# A second server on the same port fails, and says why in words (its
# error's message and causes), not in its Debug form.
status=0
err=$(timeout 30 "$bin" --serve --listen "tcp://127.0.0.1:$port" 2>&1 >/dev/null) || status=$?
printf '%s\n' "$err"
[ "$status" -ne 0 ] || fail "a second server on a taken port did not fail"
grep -qE '^error: ' <<<"$err" || fail "the error was not printed as a message"
! grep -qE '^Error: [A-Z][A-Za-z]*\(' <<<"$err" || fail "the error was printed in its Debug form"
echo "distributed_ping smoke test passed"
