# What the smoke scripts of examples/smoke/ share. Sourced by each of them
# (`source "$(dirname "$0")/lib/smoke.sh"`), never run on its own; it lives
# in lib/ so that the runner's `examples/smoke/*.sh` does not pick it up.

# Strict mode, from the workspace root, for the smoke test of example $1.
smoke() {
  set -euo pipefail
  cd "$(dirname "$0")/../.."
  smoke_name=$1
}

# Fails the smoke test, saying why.
fail() {
  echo "$smoke_name smoke test FAILED: $*" >&2
  exit 1
}

# Runs "$@" (a command that runs the example), keeps its standard output in
# $out and prints it; fails, saying so, if the command exits non-zero. With
# --merged first, its standard error goes into $out too.
run() {
  local status=0
  if [ "$1" = --merged ]; then
    shift
    out=$("$@" 2>&1) || status=$?
  else
    out=$("$@") || status=$?
  fi
  printf '%s\n' "$out"
  [ "$status" -eq 0 ] || fail "\`$*\` exited with status $status"
}

# Prints a free TCP port on the loopback interface.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits up to 5 s until something listens on loopback port $1.
wait_for_port() {
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
}
