#!/usr/bin/env bash
# Smoke test of the bank example: after 10,000 concurrent transfers, some of
# which crash an account, the total is unchanged, both as the accounts report
# it and as the ledger records it.
source "$(dirname "$0")/lib/smoke.sh"
smoke bank

run cargo run -q --example bank

grep -qE '^audit: total before ([0-9]+), total after \1, ledger \1$' <<<"$out" ||
  fail "the totals before and after differ (or the audit line is missing)"
grep -qx 'audit passed: no money lost or created' <<<"$out" || fail "no 'audit passed' line"

summary=$(grep -E '^10000 concurrent transfers: ' <<<"$out") || fail "no transfer summary"
refunded=$(sed -nE 's/.* ([0-9]+) refunded after a crash$/\1/p' <<<"$summary")
restarts=$(grep -cE '^account [0-9]+ restarted, balance [0-9]+ restored from the ledger$' <<<"$out" || true)
[ "${refunded:-0}" -gt 0 ] || fail "no transfer crashed an account, so no restart was exercised"
[ "$restarts" -eq "$refunded" ] || fail "$refunded crashed transfers but $restarts account restarts"
echo "bank smoke test passed"
