#!/usr/bin/env bash
# Smoke test of the pipe_parent_child example: every line the parent sends
# down the Unix socket must come back shouted, in order, and the child
# process must exit on its own once its actor is stopped.
source "$(dirname "$0")/lib/smoke.sh"
smoke pipe_parent_child

run --merged timeout 60 cargo run -q --example pipe_parent_child -- --lines 20
sent=$(grep -c '^parent -> child: hello from the parent, line ' <<<"$out" || true)
[ "$sent" -eq 20 ] || fail "expected 20 lines sent, got $sent"
for i in 1 2 19 20; do
  grep -qx "child -> parent: $i: HELLO FROM THE PARENT, LINE $i" <<<"$out" || fail "line $i did not come back"
done
grep -qE '^child: shouter stopped \(stopped normally\)' <<<"$out" || fail "the child did not see its actor stop"
grep -qE '^child exited \(exit status: 0\); 20 lines went down the pipe and 20 came back$' <<<"$out" ||
  fail "the child did not exit cleanly"
echo "pipe_parent_child smoke test passed"
