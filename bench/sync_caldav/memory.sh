#!/usr/bin/env bash
# memory.sh [N] [PORT]: peak memory of Tandem's first sync (and the no-change run
# after it) of an N-event calendar (default 100000), against Xandikos on
# 127.0.0.1:PORT (default 5320). docs/bench-sync-caldav.md, "100,000 events".
#
# Xandikos, not Radicale: Radicale needs hours to index 100,000 items (its cache
# warm-up PROPFIND had not finished after 37 minutes), while seed-events.sh fills
# Xandikos's git store directly in seconds. Xandikos sends no calendar-data in
# sync-collection answers, so Tandem reads the data with one calendar-query
# REPORT (a multiget of 100,000 hrefs is quadratic there); the server needs
# ~100 s for that answer, which dominates the wall time. The figure measured is
# the driver's VmHWM (and /usr/bin/time's maximum RSS), not time.
# Env: BUILD (default build-syncbench), PEERS (../shared/peers), KEEP=1.
# Xandikos is stopped by PID at the end, also on failure.
set -euo pipefail
N=${1:-100000}
PORT=${2:-5320}
. "$(dirname "$0")/common.sh"

bench_tmp bench-sync-memory

SERVER_PID=$("$PEERS/start-xandikos.sh" "$PORT" "$TMP/xandikos" test calendar)
URL=http://127.0.0.1:$PORT/test/calendars/calendar/
SEED=42 RUN=mem$N XANDIKOS_DIR=$TMP/xandikos/store/test/calendars/calendar \
  "$PEERS/seed-events.sh" "$URL" test x "$N" >&2
# Untimed: Xandikos builds its state on the first listings of the collection.
for body in \
  '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>'; do
  curl -s -o /dev/null -X REPORT -H 'Depth: 1' -H 'Content-Type: application/xml' --data-binary "$body" "$URL"
done

run() {  # run PHASE
  local out
  out=$( { /usr/bin/time -f "maxrss_kib=%M" "$DRIVER" "$1" --url "$URL" --user test --password x \
            --data-dir "$TMP/tandem"; } 2>&1 )
  echo "$out" | grep -E '^phase=|^maxrss' | tr '\n' ' '
  echo
}
mkdir -p "$TMP/tandem"
echo "Xandikos $(xandikos --version 2>/dev/null | head -1 || echo '?'), $N events, $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
run first
run noop
