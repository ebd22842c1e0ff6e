#!/usr/bin/env bash
# run.sh [USERS] [EVENTS] [PORT]: the server job (S7) over USERS users (default
# 1000), each with one pair to its own calendar (EVENTS events, default 20) on
# ONE Radicale at 127.0.0.1:PORT (default 5298), through CalendarSync; then the
# scheduler's own overhead with no-op runs over 100,000 pairs.
# docs/bench-scheduler.md has the figures.
#
# Seeding: one calendar of a template user is seeded over HTTP (seed-events.sh
# BULK=1); its folder in Radicale's file storage is then copied to u1..uN (the
# same event files; Radicale reads its storage per request, so the running server
# serves them; the same way seed-events.sh's XANDIKOS_DIR fast path fills
# Xandikos). Users u<i> with password p<i> go into Radicale's htpasswd file.
# Env: BUILD (default build-syncbench), PEERS (../shared/peers beside the project), WORKERS (2),
#      OVERHEAD_PAIRS (100000), KEEP=1 keeps the temp folder.
set -euo pipefail
USERS=${1:-1000}
EVENTS=${2:-20}
PORT=${3:-5298}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-syncbench}
PEERS=${PEERS:-$(cd "$(dirname "$0")/../../../shared/peers" && pwd)}
WORKERS=${WORKERS:-2}
OVERHEAD_PAIRS=${OVERHEAD_PAIRS:-100000}
BIN=$BUILD/bench/scheduler/bench_scheduler
[ -x "$BIN" ] || { echo "build it first: cmake --build $BUILD --target bench_scheduler" >&2; exit 2; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-scheduler.XXXXXX")
RPID=""
cleanup() {
  if [ -n "$RPID" ]; then kill "$RPID" 2>/dev/null || true; wait "$RPID" 2>/dev/null || true; fi
  if [ "${KEEP:-0}" != 1 ]; then rm -rf "$TMP"; else echo "kept $TMP" >&2; fi
}
trap cleanup EXIT

RADDIR=$TMP/radicale
RPID=$("$PEERS/start-radicale.sh" "$PORT" "$RADDIR" template template cal)
BASE=http://127.0.0.1:$PORT
BULK=1 SEED=42 RUN=sched "$PEERS/seed-events.sh" "$BASE/template/cal/" template template "$EVENTS"
ROOTDIR=$RADDIR/collections/collection-root
[ -d "$ROOTDIR/template/cal" ] || { echo "no $ROOTDIR/template/cal" >&2; exit 1; }
t0=$(date +%s.%N)
for i in $(seq 1 "$USERS"); do
  printf 'u%d:p%d\n' "$i" "$i" >> "$RADDIR/users"
  mkdir -p "$ROOTDIR/u$i"
  cp -r "$ROOTDIR/template/cal" "$ROOTDIR/u$i/cal"
done
echo "[run.sh] $USERS calendars of $EVENTS events copied in $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N)-$t0}") s" >&2
code=$(curl -s -o /dev/null -w '%{http_code}' -u "u$USERS:p$USERS" -X PROPFIND -H 'Depth: 0' "$BASE/u$USERS/cal/")
[ "$code" = 207 ] || { echo "u$USERS cannot read its calendar: HTTP $code" >&2; exit 1; }

LOG=$RADDIR/radicale.log
m0=$(wc -l < "$LOG")
echo "== CalendarSync rounds: $USERS users, one pair each, one Radicale, $WORKERS workers"
"$BIN" round --base "$BASE" --users "$USERS" --data-dir "$TMP/tandem" --workers "$WORKERS"
echo "Radicale requests during setup + both rounds: $(tail -n +$((m0 + 1)) "$LOG" | grep -c ' request for ' || true)"

echo "== scheduler overhead: no-op runs, $OVERHEAD_PAIRS pairs"
"$BIN" overhead --pairs "$OVERHEAD_PAIRS" --workers 0
"$BIN" overhead --pairs "$OVERHEAD_PAIRS" --workers 2
"$BIN" overhead --pairs "$OVERHEAD_PAIRS" --workers 2 --lease-db "$TMP/leases.db"
echo "cores: $(nproc), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
