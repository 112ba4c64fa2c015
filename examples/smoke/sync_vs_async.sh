#!/usr/bin/env bash
# Smoke test of the sync_vs_async example: the ask run and the tell run must
# compute the same result and say who was blocked. Timings vary from machine
# to machine, so they are shown but never asserted on.
source "$(dirname "$0")/lib/smoke.sh"
smoke sync_vs_async

run cargo run -q --example sync_vs_async

# 1^2 + ... + 5^2 = 55
jobs=$(grep -cE '^ask: job [1-5] -> [0-9]+, the caller waited [0-9]+ ms for the reply$' <<<"$out" || true)
[ "$jobs" -eq 5 ] || fail "expected 5 ask replies that the caller waited for, got $jobs"
expect_match '^ask: result 55 in [0-9]+ ms; blocked: the caller, for every job$' "no ask result line"
expect_match '^tell: 5 jobs queued in [0-9]+ ms; blocked: nobody, the caller is free$' "no line saying the tell caller was free"
expect_match '^tell: the caller did [0-9]+ ms of its own work meanwhile$' "no own-work line"
expect_match '^tell: result 55 in [0-9]+ ms; blocked: the caller, once, for [0-9]+ ms at the barrier ask$' "no tell result line"
expect_line 'same result both ways: 55' "the two ways disagree"
echo "sync_vs_async smoke test passed"
