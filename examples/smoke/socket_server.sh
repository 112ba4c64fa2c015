#!/usr/bin/env bash
# Smoke test of the socket_server example: the seed text's C client, built
# with gcc, talks to the server on a free loopback port; the server answers
# each client and exits by itself after --max-connections connections.
source "$(dirname "$0")/lib/smoke.sh"
smoke socket_server

command -v gcc >/dev/null || fail "gcc is needed to build examples/seed_client.c"

scratch

gcc -Wall -Wextra -Werror -o "$tmp/seed_client" examples/seed_client.c
cargo build -q --example socket_server

# --help and a refused address.
usage=$(cargo run -q --example socket_server -- --help) || fail "--help exited with an error"
grep -q -- '--max-connections N' <<<"$usage" || fail "--help shows no usage"
if cargo run -q --example socket_server -- --addr 0.0.0.0:0 >/dev/null 2>&1; then
  fail "the server accepted a non-loopback address"
fi

clients=3
# Created here: the background job opens it only once it gets to run.
: >"$tmp/server.log"
cargo run -q --example socket_server -- --port 0 --max-connections "$clients" >"$tmp/server.log" &
server=$!
stop_at_exit "$server"
addr=$(await_match "$tmp/server.log" '1s/^listening on (127\.0\.0\.1:[0-9]+)$/\1/p' \
  "the server did not print its address on its first line")
port=${addr##*:}

for i in $(seq "$clients"); do
  reply=$(timeout 10 "$tmp/seed_client" "$port") || fail "client $i failed"
  echo "client $i: $reply"
  grep -qE '^Received: Hello, Client! Connection [0-9]+ received "Hello, Server!"$' <<<"$reply" ||
    fail "client $i got an unexpected reply"
done

# The server exits on its own once every connection has closed.
await_exit "$server" "the server is still running after $clients connections"
cat "$tmp/server.log"
[ "$status" -eq 0 ] || fail "the server exited with status $status"
n=$(grep -cE '^connection [0-9]+ from 127\.0\.0\.1:[0-9]+ sent "Hello, Server!"$' "$tmp/server.log" || true)
[ "$n" -eq "$clients" ] || fail "the server logged $n of $clients messages"
n=$(grep -cE '^connection [0-9]+ closed, replies sent: 1$' "$tmp/server.log" || true)
[ "$n" -eq "$clients" ] || fail "the server logged $n of $clients closed sessions"
grep -qx "connections served: $clients, exiting" "$tmp/server.log" || fail "no exit line"
echo "socket_server smoke test passed"
