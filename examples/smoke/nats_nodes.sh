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
serve "$port" "$nats" -a 127.0.0.1 -p "$port" 2>/dev/null
url="nats://127.0.0.1:$port"

run timeout 60 cargo run -q --example nats_nodes -- --server "$url"
expect_line "worker listening as $url/worker" "the worker did not start"
expect_line "discovered node worker at $url/worker" "the front did not discover the worker"
expect_line '1000 tells then an ask: total 1000' "tells or the ask went wrong"
expect_match '^the queue group answered from process [0-9]+$' "the queue group did not answer"
expect_line 'monitor fired after the worker process was killed: its node is down' "no node-loss report"
expect_match '^ask to the lost node failed at once: ' "the ask to the lost node did not fail"
expect_line 'done' "the run did not finish"

# Two processes, one command each.
cargo build -q --example nats_nodes
bin=${CARGO_TARGET_DIR:-target}/debug/examples/nats_nodes
"$bin" --server "$url" --worker >/dev/null &
stop_at_exit "$!"
out=$(timeout 30 "$bin" --server "$url" --front) || fail "the front process failed"
printf '%s\n' "$out"
expect_line "discovered node worker at $url/worker" "two-process discovery failed"
expect_line '1000 tells then an ask: total 1000' "two-process messaging failed"
echo "nats_nodes smoke test passed"
