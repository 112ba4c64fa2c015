#!/usr/bin/env bash
# Smoke test of the nats_nodes example: a nats-server on a free loopback
# port, then the one-command run (a worker process and a front process that
# find each other only through the server), then the two-process form.
source "$(dirname "$0")/lib/smoke.sh"
smoke nats_nodes

nats=$(command -v nats-server || true)
[ -n "$nats" ] || [ ! -x /usr/sbin/nats-server ] || nats=/usr/sbin/nats-server
[ -n "$nats" ] || fail "nats-server is not installed (apt-get install nats-server)"

port=$(free_port)
"$nats" -a 127.0.0.1 -p "$port" >/dev/null 2>&1 &
server=$!
pids=("$server")
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
wait_for_port "$port"
url="nats://127.0.0.1:$port"

run timeout 60 cargo run -q --example nats_nodes -- --server "$url"
grep -qx "worker listening as $url/worker" <<<"$out" || fail "the worker did not start"
grep -qx "discovered node worker at $url/worker" <<<"$out" || fail "the front did not discover the worker"
grep -qx '1000 tells then an ask: total 1000' <<<"$out" || fail "tells or the ask went wrong"
grep -qE '^the queue group answered from process [0-9]+$' <<<"$out" || fail "the queue group did not answer"
grep -qx 'monitor fired after the worker process was killed: its node is down' <<<"$out" || fail "no node-loss report"
grep -qE '^ask to the lost node failed at once: ' <<<"$out" || fail "the ask to the lost node did not fail"
grep -qx 'done' <<<"$out" || fail "the run did not finish"

# Two processes, one command each.
cargo build -q --example nats_nodes
bin=${CARGO_TARGET_DIR:-target}/debug/examples/nats_nodes
"$bin" --server "$url" --worker >/dev/null &
pids+=("$!")
out=$(timeout 30 "$bin" --server "$url" --front) || fail "the front process failed"
printf '%s\n' "$out"
grep -qx "discovered node worker at $url/worker" <<<"$out" || fail "two-process discovery failed"
grep -qx '1000 tells then an ask: total 1000' <<<"$out" || fail "two-process messaging failed"
echo "nats_nodes smoke test passed"
