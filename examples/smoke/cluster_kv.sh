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
grep -qx 'cluster of 4 nodes, 3 replicas' <<<"$out" || fail "the cluster did not form"
for kv in alpha=1 beta=2 gamma=3; do
  grep -qx "put $kv: ok, 3 acks (quorum 2 of 3)" <<<"$out" || fail "put $kv did not reach every replica"
done
for n in n1 n2 n3; do
  grep -qx "$n holds alpha=1 beta=2 gamma=3" <<<"$out" || fail "$n does not hold the first writes"
done
grep -qx 'every replica agrees' <<<"$out" || fail "the replicas disagree"
grep -qx 'killed n2 (SIGKILL)' <<<"$out" || fail "n2 was not killed"
grep -qx 'put beta=20: ok, 2 acks (quorum 2 of 3)' <<<"$out" || fail "no quorum write right after the kill"
grep -qx 'get beta: 20 (quorum read)' <<<"$out" || fail "the quorum read missed the new value"
grep -qx 'event: n2 is down' <<<"$out" || fail "no NodeDown for the killed node"
grep -qx 'n2 is gone from the group; 2 replicas left' <<<"$out" || fail "n2's replica did not leave the group"
grep -qx 'put delta=4: ok, 2 acks (quorum 2 of 3)' <<<"$out" || fail "no write on the survivors"
for n in n1 n3; do
  grep -qx "$n holds alpha=1 beta=20 delta=4 gamma=3" <<<"$out" || fail "$n does not hold every write"
done
grep -q '^n2 holds' <<<"$(sed -n '/killed n2/,$p' <<<"$out")" && fail "the dead n2 still answered"
grep -qx 'the survivors agree' <<<"$out" || fail "the survivors disagree"
grep -qx 'done' <<<"$out" || fail "the run did not finish"

# One command per node: two replicas by hand, then a client through them.
bin=${CARGO_TARGET_DIR:-target}/debug/examples/cluster_kv
"$bin" --node a >"$tmp/a.log" &
stop_at_exit "$!"
addr=$(await_match "$tmp/a.log" 's/^replica a joined at (tcp:\/\/[^ ]+)$/\1/p' "node a did not print its address")
"$bin" --node b --seed "$addr" >"$tmp/b.log" &
stop_at_exit "$!"
out=$(timeout 30 "$bin" --seed "$addr") || fail "the client of hand-started nodes failed"
printf '%s\n' "$out"
grep -qx 'put hello=world: ok, 2 acks (quorum 2 of 3)' <<<"$out" || fail "the client could not write"
grep -qx 'get hello: world (quorum read)' <<<"$out" || fail "the client could not read"
grep -qx 'every replica agrees' <<<"$out" || fail "the hand-started replicas disagree"
echo "cluster_kv smoke test passed"
