# What the smoke scripts of examples/smoke/ share. Sourced by each of them
# (`source "$(dirname "$0")/lib/smoke.sh"`), never run on its own; it lives
# in lib/ so that the runner's `examples/smoke/*.sh` does not pick it up.

# Background processes to stop, and scratch directories to remove, when
# the script exits, whatever its outcome (see `stop_at_exit`, `scratch`).
smoke_pids=()
smoke_dirs=()

smoke_cleanup() {
  local pid
  for pid in "${smoke_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "${smoke_dirs[@]}"
}

# Strict mode, from the workspace root, for the smoke test of example $1.
# A script that sets its own EXIT trap replaces the cleanup above.
smoke() {
  set -euo pipefail
  cd "$(dirname "$0")/../.."
  smoke_name=$1
  trap smoke_cleanup EXIT
}

# Stops the background process $1 when the script exits, unless
# `await_exit` saw it end first.
stop_at_exit() {
  smoke_pids+=("$1")
}

# Makes a scratch directory, named in $tmp, removed when the script exits.
scratch() {
  tmp=$(mktemp -d)
  smoke_dirs+=("$tmp")
}

# Prints what `sed -nE "$2"` prints of file $1 (an example's log), once it
# prints anything, waiting up to 10 s; fails, saying $3, if it never does.
await_match() {
  local found=""
  for _ in $(seq 100); do
    found=$(sed -nE "$2" "$1")
    [ -n "$found" ] && break
    sleep 0.1
  done
  [ -n "$found" ] || fail "$3"
  printf '%s\n' "$found"
}

# Waits up to 10 s for the background process $1 to exit by itself (fails,
# saying $2, if it is still running), and sets $status to its exit status.
await_exit() {
  local pid=$1 kept=() other
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then fail "$2"; fi
  status=0
  wait "$pid" || status=$?
  for other in "${smoke_pids[@]}"; do
    [ "$other" = "$pid" ] || kept+=("$other")
  done
  smoke_pids=("${kept[@]}")
}

# Fails the smoke test, saying why.
fail() {
  echo "$smoke_name smoke test FAILED: $*" >&2
  exit 1
}

# Fails, saying $2, unless a line of $out (see `run`) is exactly $1.
expect_line() {
  grep -qx -- "$1" <<<"$out" || fail "$2"
}

# Fails, saying $2, unless a line of $out matches the extended regex $1.
expect_match() {
  grep -qE -- "$1" <<<"$out" || fail "$2"
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

# Starts "${@:2}" in the background, stopped when the script exits, and
# waits until it listens on loopback port $1; its standard output is dropped.
serve() {
  local port=$1
  shift
  "$@" >/dev/null &
  stop_at_exit "$!"
  wait_for_port "$port"
}
