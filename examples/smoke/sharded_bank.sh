#!/usr/bin/env bash
# Smoke test of the sharded_bank example: three host processes and a
# client; accounts are durable sharded entities; one host is killed with
# SIGKILL half-way through the transfers; its accounts must answer again
# from the other hosts, from their journals, and the audit must balance.
source "$(dirname "$0")/lib/smoke.sh"
smoke sharded_bank

cargo build -q --example sharded_bank

run timeout 120 cargo run -q --example sharded_bank
grep -qE '^cluster of 3 hosts, 16 shards: \{"n1": [0-9]+, "n2": [0-9]+, "n3": [0-9]+\}$' <<<"$out" \
  || fail "the three hosts did not share the shards"
grep -qx 'opened 100 accounts with 1000 each' <<<"$out" || fail "the accounts were not opened"
grep -qx 'killed n2 (SIGKILL) after 300 transfers' <<<"$out" || fail "n2 was not killed"
grep -qE '^transfers: [0-9]+ made, [0-9]+ declined for lack of money, [0-9]+ retried steps$' <<<"$out" \
  || fail "the transfers did not finish"
grep -qE '^accounts by node after the kill: \{"n1": [0-9]+, "n3": [0-9]+\}$' <<<"$out" \
  || fail "the accounts are not all on the survivors"
grep -qx 'audit: 100 accounts hold 100000 in all, 100000 expected' <<<"$out" || fail "money was lost or made"
grep -qx 'the audit balances' <<<"$out" || fail "the audit did not balance"
grep -qx 'done' <<<"$out" || fail "the run did not finish"
echo "sharded_bank smoke test passed"
