#!/usr/bin/env bash
# Smoke test of the cluster_kv example: one command starts three replica
# processes, writes with a quorum, checks every replica agrees, kills one
# with SIGKILL, and must keep serving writes and quorum reads from the
# survivors. Then two replica nodes started by hand (--node) serve a client
# (--seed).
source "$(dirname "$0")/lib/smoke.sh"
smoke cluster_kv

scratch

cargo build -q --example cluster_kv

run timeout 90 cargo run -q --example cluster_kv
expect_line 'cluster of 4 nodes, 3 replicas' "the cluster did not form"
for kv in alpha=1 beta=2 gamma=3; do
  expect_line "put $kv: ok, 3 acks (quorum 2 of 3)" "put $kv did not reach every replica"
done
for n in n1 n2 n3; do
  expect_line "$n holds alpha=1 beta=2 gamma=3" "$n does not hold the first writes"
done
expect_line 'every replica agrees' "the replicas disagree"
expect_line 'killed n2 (SIGKILL)' "n2 was not killed"
expect_line 'put beta=20: ok, 2 acks (quorum 2 of 3)' "no quorum write right after the kill"
expect_line 'get beta: 20 (quorum read)' "the quorum read missed the new value"
expect_line 'event: n2 is down' "no NodeDown for the killed node"
expect_line 'n2 is gone from the group; 2 replicas left' "n2's replica did not leave the group"
expect_line 'put delta=4: ok, 2 acks (quorum 2 of 3)' "no write on the survivors"
for n in n1 n3; do
  expect_line "$n holds alpha=1 beta=20 delta=4 gamma=3" "$n does not hold every write"
done
grep -q '^n2 holds' <<<"$(sed -n '/killed n2/,$p' <<<"$out")" && fail "the dead n2 still answered"
expect_line 'the survivors agree' "the survivors disagree"
expect_line 'done' "the run did not finish"

# One command per node: two replicas by hand, then a client through them.
bin=${CARGO_TARGET_DIR:-target}/debug/examples/cluster_kv
"$bin" --node a >"$tmp/a.log" &
stop_at_exit "$!"
addr=$(await_match "$tmp/a.log" 's/^replica a joined at (tcp:\/\/[^ ]+)$/\1/p' "node a did not print its address")
"$bin" --node b --seed "$addr" >"$tmp/b.log" &
stop_at_exit "$!"
out=$(timeout 30 "$bin" --seed "$addr") || fail "the client of hand-started nodes failed"
printf '%s\n' "$out"
expect_line 'put hello=world: ok, 2 acks (quorum 2 of 3)' "the client could not write"
expect_line 'get hello: world (quorum read)' "the client could not read"
expect_line 'every replica agrees' "the hand-started replicas disagree"
echo "cluster_kv smoke test passed"
