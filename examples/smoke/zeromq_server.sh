#!/usr/bin/env bash
# Smoke test of the zeromq_server example: the server binds a free loopback
# port and answers a REQ client in the seed text's Python shape
# (examples/seed_zmq_client.py, with pyzmq); if pyzmq cannot be installed,
# the example's own Rust REQ client (--client) stands in, and the test says
# so. The server exits by itself after --requests N.
source "$(dirname "$0")/lib/smoke.sh"
smoke zeromq_server

scratch

cargo build -q --example zeromq_server

usage=$(cargo run -q --example zeromq_server -- --help) || fail "--help exited with an error"
grep -q -- '--requests N' <<<"$usage" || fail "--help shows no usage"

# The self-test: server and Rust client in one process.
out=$(timeout 30 cargo run -q --example zeromq_server -- --self-test --requests 2) || fail "--self-test failed"
printf '%s\n' "$out"
[ "$(grep -cx 'client got: Message Received' <<<"$out")" -eq 2 ] || fail "the self-test did not get 2 replies"
grep -qx 'requests answered: 2, exiting' <<<"$out" || fail "the self-test did not finish"

# pyzmq from PyPI for the Python client, if it is not there already.
have_pyzmq() { python3 -c 'import zmq' 2>/dev/null; }
use_python=no
if command -v python3 >/dev/null; then
  if ! have_pyzmq; then
    timeout 60 python3 -m pip install --quiet pyzmq >/dev/null 2>&1 || true
  fi
  have_pyzmq && use_python=yes
fi
if [ "$use_python" = no ]; then
  echo "pyzmq is not available: using the example's Rust REQ client (--client) instead"
fi

requests=3
timeout 60 cargo run -q --example zeromq_server -- --bind tcp://127.0.0.1:0 --requests "$requests" >"$tmp/server.log" &
server=$!
stop_at_exit "$server"
endpoint=$(await_match "$tmp/server.log" '1s/^listening on (tcp:\/\/127\.0\.0\.1:[0-9]+)$/\1/p' \
  "the server did not print its endpoint on its first line")

if [ "$use_python" = yes ]; then
  replies=$(timeout 20 python3 examples/seed_zmq_client.py "$endpoint" "$requests") || fail "the Python client failed"
  printf '%s\n' "$replies"
  n=$(grep -cx 'Received: Message Received' <<<"$replies" || true)
else
  replies=$(timeout 20 cargo run -q --example zeromq_server -- --client "$endpoint" --requests "$requests") ||
    fail "the Rust client failed"
  printf '%s\n' "$replies"
  n=$(grep -cx 'client got: Message Received' <<<"$replies" || true)
fi
[ "$n" -eq "$requests" ] || fail "the client got $n of $requests replies"

# The server exits on its own after --requests replies.
await_exit "$server" "the server is still running after $requests requests"
cat "$tmp/server.log"
[ "$status" -eq 0 ] || fail "the server exited with status $status"
n=$(grep -cE '^Received: .+ \(request [0-9]+\)$' "$tmp/server.log" || true)
[ "$n" -eq "$requests" ] || fail "the server logged $n of $requests requests"
grep -qx "requests answered: $requests, exiting" "$tmp/server.log" || fail "no exit line"
echo "zeromq_server smoke test passed (client: $([ "$use_python" = yes ] && echo "Python, pyzmq" || echo "Rust"))"
