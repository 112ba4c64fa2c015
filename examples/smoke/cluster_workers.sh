#!/usr/bin/env bash
# Smoke test of the cluster_workers example: one command starts three
# worker processes, spreads jobs over them through a process group, kills
# one with SIGKILL, and must see it reported down and every job done.
source "$(dirname "$0")/lib/smoke.sh"
smoke cluster_workers

run timeout 90 cargo run -q --example cluster_workers
grep -qx 'cluster of 4 nodes, 6 workers in the group' <<<"$out" || fail "the cluster did not form"
grep -qE '^60 jobs done: \{"w1": [0-9]+, "w2": [0-9]+, "w3": [0-9]+\}$' <<<"$out" || fail "work did not spread over every node"
grep -qx 'event: w2 is down' <<<"$out" || fail "no NodeDown for the killed worker"
grep -qE '^w2 detected down after .*; 4 workers left$' <<<"$out" || fail "the killed worker's members did not vanish"
grep -qx 'all 160 jobs done' <<<"$out" || fail "not every job was done"
# A retry goes to another node: at most the jobs in flight on w2's two
# workers when it died fail (one each), never a run of retries landing on
# w2 again.
retries=$(grep -c 'retrying on another node' <<<"$out" || true)
[ "$retries" -le 2 ] || fail "$retries failed attempts: retries landed on the dead node again"
echo "cluster_workers smoke test passed"
