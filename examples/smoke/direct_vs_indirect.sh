#!/usr/bin/env bash
# Smoke test of the direct_vs_indirect example: a note must reach its actors
# by reference, by registered name and through a topic, and a note sent to an
# unknown name must come back and be reported as a dead letter.
source "$(dirname "$0")/lib/smoke.sh"
smoke direct_vs_indirect

run cargo run -q --example direct_vs_indirect

expect() { grep -qx -- "$1" <<<"$out" || fail "missing line: $1"; }
expect 'ann got "hi ann" via a direct reference'
expect 'bob got "my printer" via the name help-desk'
expect 'bob got "still broken" via a lookup of help-desk'
for member in ann bob cid; do
  expect "$member got \"lunch at noon\" via the topic news"
done
expect 'the topic reached 3 subscribers'
expect 'tell_named("nobody") failed: no actor holds that name'
expect 'the sender got its message back: "anyone there?"'
grep -qE '^dead letter: UnknownName to name "nobody", a [A-Za-z_:]*Note$' <<<"$out" || fail "no dead letter line"
expect 'dead letters counted: 1'
echo "direct_vs_indirect smoke test passed"
