# Sourced by install_test.sh and package_test.sh (which set -euo pipefail first): the
# failure exit, the check for the tools a test needs, a scratch directory whose
# servers are stopped by PID and which is removed on exit, and the port helpers.

fail() { echo "FAIL: $*" >&2; exit 1; }

need_tools() {  # tool...: each must be on PATH (or a path that exists)
  for tool in "$@"; do
    command -v "$tool" >/dev/null || fail "$tool not found (scripts/install-deps.sh installs it)"
  done
}

# Makes $work, a new /tmp/<prefix>.XXXXXX. Every PID added to `pids` is killed and
# waited for on exit, before $work is removed.
make_work() {  # prefix
  work=$(mktemp -d "/tmp/$1.XXXXXX")
  pids=()
  trap cleanup EXIT
}
cleanup() {
  for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]+"${pids[@]}"}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {  # port: until something accepts, at most 10 s
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
