# Sourced by run.sh and memory.sh: where the driver and the peer scripts are.
# Env: BUILD (build dir, default build-syncbench), PEERS (../shared/peers beside the project).
HERE=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-syncbench}
PEERS=${PEERS:-$(cd "$ROOT/../shared/peers" && pwd)}
DRIVER=$BUILD/bench/sync_caldav/bench_sync_caldav
[ -x "$DRIVER" ] || { echo "build it first: cmake --build $BUILD --target bench_sync_caldav" >&2; exit 2; }
