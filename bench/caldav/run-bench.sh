#!/usr/bin/env bash
# run-bench.sh [N] [BIG]
#
# CalDAV provider vs vdirsyncer on the same Radicale (127.0.0.1, temp folder), the
# same N seeded events (seed-events.sh, BULK=1), in one run:
#   1. ours: first full fetch (ChangesSince("")), requests counted in Radicale's log
#   2. vdirsyncer: bench-vdirsyncer.sh (discover+full, no-change, 1% edited with curl,
#      incremental) - its own figures
#   3. ours: incremental fetch from the cursor of 1 (sees the same 1% curl edits)
#   4. curl: the same minimal requests ours made (sync-collection REPORT, empty token
#      and the stored token), to compare our time with the server's own
#   5. (BIG > 0) a second Radicale with BIG events: peak memory (VmHWM) of our first
#      fetch, streaming (StreamChangesSince) and collecting (ChangesSince)
# Env: FETCH (path of caldav_fetch; default build-caldav/bench/caldav/caldav_fetch),
#      PEERS (default: ../shared/peers beside the project), KEEP=1 keeps the work folder.
set -euo pipefail
N=${1:-10000}
BIG=${2:-0}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
FETCH=${FETCH:-$ROOT/build-caldav/bench/caldav/caldav_fetch}
PEERS=${PEERS:-$(cd "$(dirname "$0")/../../../shared/peers" && pwd)}
WORK=$(mktemp -d /tmp/tandem-bench-caldav.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
dt() { awk "BEGIN{printf \"%.2f\", $2-$1}"; }
reqs() {  # reqs LOG FROMLINE -> "N (METHOD:n ...)"
  tail -n +"$(( $2 + 1 ))" "$1" | sed -nE 's/.*\] ([A-Z]+) request for .*/\1/p' | sort | uniq -c |
    awk '{t+=$1; s=s sprintf(" %s:%d", $2, $1)} END{printf "%d (%s)\n", t, (t ? substr(s,2) : "none")}'
}
field() { sed -nE "s/^$1: //p" "$2"; }

body() {
  printf '<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">%s<D:sync-level>1</D:sync-level><D:prop><D:getetag/><C:calendar-data/></D:prop></D:sync-collection>' "$1"
}
curl_report() {
  curl -s -o "$WORK/curl.out" -w '%{time_total}' -u test:test -X REPORT -H 'Depth: 0' \
    -H 'Content-Type: application/xml; charset=utf-8' --data-binary "$1" "$URL"
}

if [ "$N" -gt 0 ]; then
PORT=$(free_port)
PID=$("$PEERS/start-radicale.sh" "$PORT" "$WORK/radicale" test test calendar 2>"$WORK/start.log")
PIDS+=("$PID")
URL="http://127.0.0.1:$PORT/test/calendar/"
LOG="$WORK/radicale/radicale.log"
t=$(now); BULK=1 "$PEERS/seed-events.sh" "$URL" test test "$N" >/dev/null 2>"$WORK/seed.log"
echo "seeded $N events in $(dt "$t" "$(now)") s (BULK=1)"

# Radicale parses every item on the first request after seeding (its cache):
# pay that once, outside every measurement.
echo "server warm-up   : $(curl_report "$(body '<D:sync-token/>')") s (curl sync-collection, cold cache)"
echo "curl full        : $(curl_report "$(body '<D:sync-token/>')") s ($(wc -c < "$WORK/curl.out") bytes)"

# 1. ours, first full fetch
m=$(wc -l < "$LOG")
"$FETCH" "$URL" test test --cursor-out "$WORK/cursor" > "$WORK/ours-full.txt"
echo "ours full        : $(field seconds "$WORK/ours-full.txt") s, $(field items "$WORK/ours-full.txt") items," \
  "VmHWM $(( $(field vmhwm_kib "$WORK/ours-full.txt") / 1024 )) MiB, requests: $(reqs "$LOG" "$m")"

# 2. vdirsyncer (also makes the 1% edits with curl)
SERVER_LOG="$LOG" "$PEERS/bench-vdirsyncer.sh" "$URL" test test "$WORK/vds" > "$WORK/vds.txt" 2>"$WORK/vds.err" ||
  { cat "$WORK/vds.err" >&2; exit 1; }
sed 's/^/vdirsyncer       : /' "$WORK/vds.txt"

# 3. ours, incremental after the edits
m=$(wc -l < "$LOG")
"$FETCH" "$URL" test test --cursor-in "$WORK/cursor" --cursor-out "$WORK/cursor2" > "$WORK/ours-incr.txt"
echo "ours incremental : $(field seconds "$WORK/ours-incr.txt") s, $(field items "$WORK/ours-incr.txt") changed," \
  "$(field deleted "$WORK/ours-incr.txt") deleted, requests: $(reqs "$LOG" "$m")"
m=$(wc -l < "$LOG")
"$FETCH" "$URL" test test --cursor-in "$WORK/cursor2" > "$WORK/ours-none.txt"
echo "ours no-change   : $(field seconds "$WORK/ours-none.txt") s, $(field items "$WORK/ours-none.txt") changed, requests: $(reqs "$LOG" "$m")"

# 4. curl: the same REPORT with the same stored token
TOKEN=$(sed -e 's/^sync1://' "$WORK/cursor")
echo "curl incremental : $(curl_report "$(body "<D:sync-token>$TOKEN</D:sync-token>")") s ($(wc -c < "$WORK/curl.out") bytes)"

fi

# 5. peak memory at BIG events. The same seed-events.sh events, written as files
# (its XANDIKOS_DIR fast path into a scratch git folder) and served by
# replay_server.py, which streams Radicale-shaped sync-collection XML without the
# server-side build-up Radicale needs for BIG items (its first request parses
# every item: minutes at 10,000 on this machine).
if [ "$BIG" -gt 0 ]; then
  mkdir -p "$WORK/big-ics"; git -C "$WORK/big-ics" init -q; echo '[DEFAULT]' > "$WORK/big-ics/.xandikos"
  t=$(now); XANDIKOS_DIR="$WORK/big-ics" "$PEERS/seed-events.sh" "http://127.0.0.1:1/test/calendar/" test test "$BIG" >/dev/null 2>"$WORK/seed-big.log"
  echo "generated $BIG events in $(dt "$t" "$(now)") s ($(du -sm "$WORK/big-ics" | cut -f1) MiB on disk incl. git)"
  PORT2=$(free_port)
  python3 "$HERE/replay_server.py" "$PORT2" "$WORK/big-ics" "$WORK/replay.log" &
  PIDS+=("$!")
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT2/" && break; sleep 0.1; done
  URL2="http://127.0.0.1:$PORT2/test/calendar/"
  touch "$WORK/replay.log"
  for mode in --stream --collect; do
    m=$(wc -l < "$WORK/replay.log")
    "$FETCH" "$URL2" test test $([ "$mode" = --stream ] && echo --stream) > "$WORK/big$mode.txt"
    echo "ours full $mode @ $BIG: $(field seconds "$WORK/big$mode.txt") s, $(field items "$WORK/big$mode.txt") items," \
      "$(( $(field ical_bytes "$WORK/big$mode.txt") / 1048576 )) MiB of iCalendar, VmHWM $(( $(field vmhwm_kib "$WORK/big$mode.txt") / 1024 )) MiB," \
      "requests: $(reqs "$WORK/replay.log" "$m")"
  done
  echo "curl same REPORT @ $BIG: $(curl -s -o /dev/null -w '%{time_total}' -X REPORT -H 'Depth: 0' \
    -H 'Content-Type: application/xml; charset=utf-8' --data-binary "$(body '<D:sync-token/>')" "$URL2") s"
fi
