#!/usr/bin/env bash
# Smoke test of the debugging example: ask cycles fail at once on one node
# and across two, an ask that gave up is skipped and reported expired, a
# panic comes back with its flight record, and a lossy simulated network
# replays the same faults from the same seed.
source "$(dirname "$0")/lib/smoke.sh"
smoke debugging

run cargo run -q --example debugging

grep -qx 'ask cycle on one node: deadlock: a cycle of 2 actors' <<<"$out" || fail "no local deadlock"
grep -qx 'ask cycle across two nodes: deadlock: a cycle of 2 actors' <<<"$out" || fail "no cross-node deadlock"
grep -qx 'its message was skipped, not handled: dead letter Expired for debugging::Work' <<<"$out" ||
  fail "the expired ask was not reported"
grep -qx 'messages the worker handled: 2' <<<"$out" || fail "the expired ask was handled"
grep -qx 'debugging::Work; debugging::Work; debugging::Crash' <<<"$out" || fail "no flight record"
grep -qE '^lossy network, seed 7: [1-9][0-9]* faults logged; of 40 asks [0-9]+ answered, [1-9][0-9]* failed with NodeDown' <<<"$out" ||
  fail "the lossy network lost nothing, or its summary is missing"
grep -qx 'same seed, same faults and outcomes: true' <<<"$out" || fail "the run did not replay"
echo "debugging smoke test passed"
