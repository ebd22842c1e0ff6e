# Sourced by run.sh and memory.sh: where the driver and the peer scripts are.
# Env: BUILD (build dir, default build-syncbench), PEERS (../shared/peers beside the project).
HERE=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-syncbench}
PEERS=${PEERS:-$(cd "$ROOT/../shared/peers" && pwd)}
DRIVER=$BUILD/bench/sync_caldav/bench_sync_caldav
[ -x "$DRIVER" ] || { echo "build it first: cmake --build $BUILD --target bench_sync_caldav" >&2; exit 2; }

# bench_tmp NAME: a temporary folder for the run ($TMP), removed at exit with the
# server whose PID the script puts in $SERVER_PID (stopped by PID, also on
# failure). KEEP=1 keeps the folder.
bench_tmp() {
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  SERVER_PID=""
  trap bench_cleanup EXIT
}
bench_cleanup() {
  if [ -n "${SERVER_PID:-}" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
  if [ "${KEEP:-0}" != 1 ]; then rm -rf "$TMP"; else echo "kept $TMP" >&2; fi
}
