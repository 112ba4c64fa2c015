#!/usr/bin/env bash
# Smoke test of the parallel_map example: the single actor and the pool must
# print the same prime count. Timings vary from machine to machine, so they
# are shown but never asserted on.
source "$(dirname "$0")/lib/smoke.sh"
smoke parallel_map

run cargo run -q --example parallel_map -- --limit 1000000

single=$(sed -nE 's/^one actor: ([0-9]+) primes in .*/\1/p' <<<"$out")
pooled=$(sed -nE 's/^pool of [0-9]+ workers: ([0-9]+) primes in .*/\1/p' <<<"$out")
[ -n "$single" ] || fail "no result line for the single actor"
[ -n "$pooled" ] || fail "no result line for the pool"
[ "$single" = "$pooled" ] || fail "the single actor counted $single primes, the pool $pooled"
# 78498 primes lie below one million.
[ "$single" = 78498 ] || fail "expected 78498 primes below 1000000, got $single"
grep -qE '^speed-up: [0-9.]+x$' <<<"$out" || fail "no speed-up line"
grep -qx "the results agree: $pooled primes" <<<"$out" || fail "no agreement line"
echo "parallel_map smoke test passed"
