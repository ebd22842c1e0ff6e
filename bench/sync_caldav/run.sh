#!/usr/bin/env bash
# run.sh [N] [PORT]: Tandem's full two-way sync (CRM SQLite store <-> CalDAV) and
# vdirsyncer on the same Radicale server, same events (docs/bench-sync-caldav.md).
#
# Starts Radicale on 127.0.0.1:PORT (default 5299) in a temp folder, makes two
# calendars of one user and seeds both with the same N events (default 10000;
# seed-events.sh BULK=1, same SEED and RUN, so the same UIDs and content):
#   /test/vds/    -> bench-vdirsyncer.sh (discover + full, no-change, 1% edited)
#   /test/tandem/ -> bench_sync_caldav first, noop, incremental (after ceil(N/100)
#                    events were edited on the server with curl: GET, SUMMARY/
#                    SEQUENCE/LAST-MODIFIED changed, PUT with If-Match)
# Requests per phase are counted from Radicale's log ("X request for" lines).
# Env: BUILD (build dir, default build-syncbench), PEERS (../shared/peers beside the project),
#      SKIP_VDIRSYNCER=1 (Tandem only, e.g. for a large N memory run),
#      RESTART=0 (keep one Radicale process for both tools; default: each tool,
#      and the curl measurement of the server's own time, meets a freshly
#      started Radicale on the same data).
# Radicale is stopped by PID at the end, also on failure.
set -euo pipefail
N=${1:-10000}
PORT=${2:-5299}
. "$(dirname "$0")/common.sh"

bench_tmp bench-sync-caldav

RADDIR=$TMP/radicale
LOG=$RADDIR/radicale.log
SERVER_PID=$("$PEERS/start-radicale.sh" "$PORT" "$RADDIR" test test vds)
BASE=http://127.0.0.1:$PORT
curl -s -o /dev/null -w '%{http_code}' -u test:test -X MKCALENDAR "$BASE/test/tandem/" \
  | grep -qE '^20' || { echo "MKCALENDAR tandem failed" >&2; exit 1; }

RUN=bench$N
SKIP_VDIRSYNCER=${SKIP_VDIRSYNCER:-0}
CALS=(tandem); [ "$SKIP_VDIRSYNCER" = 1 ] || CALS=(vds tandem)
seed_radicale "$N" "$RUN" "${CALS[@]}"

field() { sed -nE "s/.*(^| )$1=([^ ]*).*/\2/p" <<<"$2"; }

# ---- vdirsyncer
VDS_FULL=- VDS_NOOP=- VDS_INCR=- VDS_DISC=-
if [ "$SKIP_VDIRSYNCER" != 1 ]; then
  sync  # the seeding's file writes
  radicale_warm vds
  SERVER_LOG=$LOG "$PEERS/bench-vdirsyncer.sh" "$BASE/test/vds/" test test "$TMP/vds" | tee "$TMP/vds.out"
  VDS_DISC=$(sed -nE 's/^1 discover +: ([0-9.]+) s.*/\1/p' "$TMP/vds.out")
  VDS_FULL=$(sed -nE 's/^1 full sync +: ([0-9.]+) s.*/\1/p' "$TMP/vds.out")
  VDS_NOOP=$(sed -nE 's/^2 no-change sync +: ([0-9.]+) s.*/\1/p' "$TMP/vds.out")
  VDS_INCR=$(sed -nE 's/^3 incremental sync: ([0-9.]+) s.*/\1/p' "$TMP/vds.out")
fi

restart_radicale
radicale_warm tandem

# ---- Tandem
phase() {  # phase NAME -> driver line; sets R_<NAME>
  local m out
  sleep 1; m=$(radicale_marks)
  out=$("$DRIVER" "$1" --url "$BASE/test/tandem/" --user test --password test --data-dir "$TMP/tandem")
  echo "$out" >&2
  eval "R_$1=\"\$(radicale_reqs $m)\""
  eval "S_$1=\"\$(radicale_time $m)\""
  eval "L_$1=\"\$out\""
}
phase first
phase noop

# edit ceil(N/100) events on the server (every 100th UID), outside Tandem
M=$(( (N + 99) / 100 ))
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$TMP/edits"
edit() {
  local href=/test/tandem/seed-$RUN-$1.ics f=$TMP/edits/$1.ics etag
  etag=$(curl -s -u test:test -D - -o "$f" "$BASE$href" | tr -d '\r' | sed -nE 's/^[Ee][Tt][Aa][Gg]: *//p')
  sed -i -E -e "0,/^SUMMARY:/s/^SUMMARY:/SUMMARY:[edited $STAMP] /" \
    -e 's/^SEQUENCE:[0-9]+/SEQUENCE:1/' -e "s/^LAST-MODIFIED:[0-9TZ]+/LAST-MODIFIED:$STAMP/" "$f"
  curl -s -o /dev/null -w '%{http_code}\n' -u test:test -X PUT -H 'Expect:' \
    -H 'Content-Type: text/calendar; charset=utf-8' -H "If-Match: $etag" --data-binary @"$f" "$BASE$href"
}
ok=0
for k in $(seq 0 $(( M - 1 ))); do
  code=$(edit $(( 1 + 100 * k )))
  case "$code" in 2*) ok=$((ok + 1)) ;; esac
done
echo "[run.sh] edited $ok/$M events on the server" >&2
[ "$ok" -eq "$M" ] || { echo "edits failed" >&2; exit 1; }
phase incremental

# ---- the server's own time for the requests of Tandem's first sync, made with
# curl (the identity PROPFIND Depth 0, then one sync-collection REPORT with
# calendar-data inline), on a fresh server process, after Tandem's phases
restart_radicale
radicale_warm tandem
curl_first() {
  curl -s -o /dev/null -u test:test -X PROPFIND -H 'Depth: 0' -H 'Content-Type: application/xml' \
    --data-binary '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:resource-id/></D:prop></D:propfind>' \
    "$BASE/test/tandem/"
  curl -s -o "$TMP/curl-report.xml" -u test:test -X REPORT -H 'Depth: 1' -H 'Content-Type: application/xml' \
    --data-binary '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/><C:calendar-data/></D:prop></D:sync-collection>' \
    "$BASE/test/tandem/"
}
t=$(date +%s.%N); curl_first; SERVER_FIRST=$(awk "BEGIN{printf \"%.3f\", $(date +%s.%N)-$t}")
CURL_ITEMS=$(grep -o '<[A-Za-z:]*calendar-data' "$TMP/curl-report.xml" | wc -l)
echo "[run.sh] server's own time for the first sync's requests (curl): $SERVER_FIRST s, $CURL_ITEMS items" >&2

EDITED=$(sqlite3 "$TMP/tandem/tandem.db" "SELECT count(*) FROM activities WHERE subject LIKE '[edited $STAMP]%'" 2>/dev/null || echo "?")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "-" || b <= 0) print "-"; else printf "%.1fx", a / b }'; }
row() {  # row PHASE VDS LINE REQS
  local s; s=$(field seconds "$3")
  printf '| %-22s | %8s | %8s | %7s | %s |\n' "$1" "$2" "$s" "$(ratio "$2" "$s")" "$4"
}
echo
echo "Radicale $(radicale --version 2>/dev/null || echo '?'), $N events, $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| phase                  | vdirsyncer s | Tandem s | ratio | Tandem requests |"
echo "| --- | --- | --- | --- | --- |"
VDS_FIRST=$VDS_FULL
[ "$VDS_DISC" != - ] && VDS_FIRST=$(awk -v a="$VDS_DISC" -v b="$VDS_FULL" 'BEGIN{printf "%.2f", a + b}')
row "first (vds disc+full)" "$VDS_FIRST" "$L_first" "$R_first"
row "first (vds full only)" "$VDS_FULL" "$L_first" "$R_first"
row "no-change" "$VDS_NOOP" "$L_noop" "$R_noop"
row "incremental ($M edits)" "$VDS_INCR" "$L_incremental" "$R_incremental"
echo
echo "Server's own time for the first sync's requests (curl, fresh server): $SERVER_FIRST s ($CURL_ITEMS items); Tandem first sync / server = $(awk -v a="$(field seconds "$L_first")" -v b="$SERVER_FIRST" 'BEGIN{printf "%.2f", a / b}')"
echo "Tandem: first pulled $(field crm_activities "$L_first") activities, summary: ${L_first##*summary=}"
echo "Tandem: incremental summary: ${L_incremental##*summary=}; edited subjects in CRM: $EDITED/$M"
for p in first noop incremental; do
  eval "l=\$L_$p; st=\$S_$p"; echo "Tandem $p: VmHWM $(( $(field vmhwm_kib "$l") / 1024 )) MiB, client-counted requests $(field requests_sent "$l"), Radicale's logged time for them $st s"
done
