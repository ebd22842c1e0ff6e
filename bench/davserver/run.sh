#!/usr/bin/env bash
# bench/davserver/run.sh: Tandem's CalDAV server (tandemd, /dav/) against Radicale
# and Xandikos, the same N seeded events (seed-events.sh, SEED=42, one RUN for all),
# every server on 127.0.0.1 with a temporary folder, one server running at a time,
# all stopped by PID at exit (trap), also on failure or Ctrl-C.
#
# Per server, in one run:
#   seed N events (not timed): Tandem by PUT over its CalDAV server (seed-events.sh,
#     curl --parallel, keep-alive); Radicale by copying the generated <UID>.ics
#     files into its file storage (its PUT is O(N) per item, see common.sh of
#     bench/sync_caldav); Xandikos by seed-events.sh XANDIKOS_DIR (one git commit).
#     Then one untimed PROPFIND Depth 1 (Radicale builds its item cache).
#   curl requests, each one warm-up + REPS timed runs (default 5), median of
#   curl's %{time_total} (one curl process per request: connect + request +
#   whole answer over loopback; the "server time"), every request capped at
#   MAX_TIME seconds (--max-time, default 120; a cap reached is "> 120 s"):
#     propfind   PROPFIND Depth 1 on the collection, getetag
#     query      calendar-query, VCALENDAR/VEVENT comp-filter, no time-range,
#                getetag + calendar-data, Depth 1
#     multiget   calendar-multiget of MULTIGET hrefs (default 1000, at most N),
#                getetag + calendar-data
#     sync100    sync-collection (sync-level 1, getetag, Depth 0) with the token
#                taken before 100 edits (GET + PUT If-Match, dav.py edit)
#   vdirsyncer: ../shared/peers/bench-vdirsyncer.sh (discover + first sync, a
#     no-change sync, 1% edited on the server + an incremental sync; whole
#     processes, one run each), capped at VDS_TIMEOUT seconds (default 600).
#     Radicale is restarted before it (common.sh of bench/sync_caldav: a Radicale
#     process that has just answered large requests answers the next ones slower).
# Prints a markdown table (seconds per server, Radicale/Tandem, Xandikos/Tandem,
# the goals) and writes it with the method to docs/bench-davserver.md (OUT).
#
# Env: N (events, default 10000), REPS (5), MAX_TIME (120), MULTIGET (1000),
#      EDITS (100), VDS_TIMEOUT (600), SLOW_SECONDS (60: a request whose warm-up
#      took longer gets SLOW_REPS timed runs, default 1, marked in the table),
#      SERVERS ("tandem radicale xandikos", any subset, Tandem first for ratios),
#      TANDEMD (default build/src/apps/tandemd), PEERS (../shared/peers beside
#      the project), OUT (the markdown file, "-" = do not write), KEEP=1 keeps
#      the temporary folder (logs, answers).
set -euo pipefail
N=${N:-10000}
REPS=${REPS:-5}
MAX_TIME=${MAX_TIME:-120}
MULTIGET=${MULTIGET:-1000}
EDITS=${EDITS:-100}
VDS_TIMEOUT=${VDS_TIMEOUT:-600}
SLOW_SECONDS=${SLOW_SECONDS:-60}
SLOW_REPS=${SLOW_REPS:-1}
SERVERS=${SERVERS:-tandem radicale xandikos}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PEERS=${PEERS:-$(cd "$ROOT/../shared/peers" && pwd)}
TANDEMD=${TANDEMD:-$ROOT/build/src/apps/tandemd}
OUT=${OUT:-$ROOT/docs/bench-davserver.md}
DAVPY="python3 $HERE/dav.py"
[ -x "$TANDEMD" ] || { echo "no tandemd at $TANDEMD (build it, or set TANDEMD)" >&2; exit 2; }
[ "$N" -ge 1 ] || { echo "N must be >= 1" >&2; exit 2; }
T_START=$(date +%s)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-davserver.XXXXXX")
export TMPDIR=$TMP  # seed-events.sh's and vdirsyncer's temporary files go in it too
mkdir -p "$TMP/req" "$TMP/out"
PIDS=()
# stop_pid PID: TERM, wait up to 10 s, then KILL (the peers' start scripts run the
# servers under setsid, so they are not our children: poll instead of wait)
stop_pid() {
  local p=$1
  kill "$p" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  echo "[bench] PID $p did not stop on TERM, killing it" >&2
  kill -9 "$p" 2>/dev/null || true
}
cleanup() {
  local p
  for p in "${PIDS[@]}"; do stop_pid "$p"; done
  if [ "${KEEP:-0}" = 1 ]; then echo "[bench] kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { echo "[bench] $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b - a}'; }
forget_pid() { local p keep=(); for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; PIDS=("${keep[@]}"); }

# ---------------------------------------------------------------- the events
RUN=bench$N
log "generating $N events (seed-events.sh SEED=42 RUN=$RUN)"
# BULK=1 KEEP=1 against a closed port: seed-events.sh generates the files, its one
# upload fails at once, the files stay (the approach of bench/sync_caldav/common.sh)
KEEP=1 BULK=1 SEED=42 RUN=$RUN "$PEERS/seed-events.sh" "http://127.0.0.1:9/none/" x x "$N" \
  >/dev/null 2>"$TMP/gen.log" || true
GEN=$(sed -nE 's/^\[seed-events\] generated .*\((.*)\)$/\1/p' "$TMP/gen.log")
[ -n "$GEN" ] && [ -d "$GEN/ics" ] || { cat "$TMP/gen.log" >&2; echo "event generation failed" >&2; exit 1; }
[ "$(find "$GEN/ics" -name '*.ics' | wc -l)" -eq "$N" ] || { echo "generated the wrong number of events" >&2; exit 1; }
GEN_BYTES=$(find "$GEN/ics" -name '*.ics' -printf '%s\n' | awk '{s+=$1} END{print s}')

# ---------------------------------------------------------------- the servers
# Each start_* sets URL (the calendar collection), ORIGIN, DUSER, DPASS, SLOG
# (request log for bench-vdirsyncer.sh's counts, "" if none), SPID, VERSION.
start_tandem() {
  local port pw tok code
  port=$(free_port); ORIGIN="http://127.0.0.1:$port"
  pw=bench-admin-$RANDOM$RANDOM
  printf '[admin]\nlogin = "admin"\npassword = "%s"\n' "$pw" > "$TMP/tandemd.toml"
  "$TANDEMD" --config "$TMP/tandemd.toml" --data-dir "$TMP/tandem" --listen "127.0.0.1:$port" \
    --log-level info >"$TMP/tandemd.log" 2>&1 </dev/null &
  SPID=$!; PIDS+=("$SPID")
  for _ in $(seq 1 200); do curl -sf "$ORIGIN/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf "$ORIGIN/healthz" >/dev/null || { tail -20 "$TMP/tandemd.log" >&2; echo "tandemd did not start" >&2; exit 1; }
  # a CRM user test/test (REST API as the admin), the same credentials as the peers
  tok=$(curl -sf -X POST -H 'Content-Type: application/json' \
    --data "{\"login\":\"admin\",\"password\":\"$pw\"}" "$ORIGIN/api/v1/login" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  code=$(curl -s -o "$TMP/user.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $tok" \
    -H 'Content-Type: application/json' \
    --data '{"login":"test","password":"test","display_name":"test","role":"user"}' "$ORIGIN/api/v1/users")
  [ "$code" = 201 ] || { cat "$TMP/user.json" >&2; echo "creating the CRM user failed: HTTP $code" >&2; exit 1; }
  DUSER="test"; DPASS="test"; SLOG=""
  curl -s -o "$TMP/cup.xml" -u test:test -X PROPFIND -H 'Depth: 0' -H 'Content-Type: application/xml' \
    --data '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:current-user-principal/></D:prop></D:propfind>' \
    "$ORIGIN/dav/"
  local pr id; pr=$($DAVPY principal "$TMP/cup.xml")
  id=$(sed -nE 's#^/dav/principals/([^/]+)/$#\1#p' <<<"$pr")
  [ -n "$id" ] || { echo "unexpected current-user-principal '$pr'" >&2; exit 1; }
  URL="$ORIGIN/dav/calendars/$id/appointments/"
  VERSION="tandemd $(curl -s "$ORIGIN/api/v1/version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["server_version"])')"
  VERSION="$VERSION ($(grep -oP '^CMAKE_BUILD_TYPE:STRING=\K.*' "$(dirname "$(dirname "$(dirname "$TANDEMD")")")/CMakeCache.txt" 2>/dev/null || echo '?') build, commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes'))"
}
seed_tandem() {
  KEEP=0 SEED=42 RUN=$RUN "$PEERS/seed-events.sh" "$URL" test test "$N" >/dev/null 2>"$TMP/seed-tandem.log" ||
    { tail -8 "$TMP/seed-tandem.log" >&2; tail -20 "$TMP/tandemd.log" >&2; echo "seeding Tandem failed" >&2; exit 1; }
  sed -n 's/^\[seed-events\] PUT/  PUT/p' "$TMP/seed-tandem.log" >&2
}
start_radicale() {
  local port; port=${RAD_PORT:-$(free_port)}; RAD_PORT=$port
  SPID=$("$PEERS/start-radicale.sh" "$port" "$TMP/radicale" test test calendar 2>>"$TMP/radicale-start.log") ||
    { cat "$TMP/radicale-start.log" >&2; exit 1; }
  PIDS+=("$SPID")
  ORIGIN="http://127.0.0.1:$port"; URL="$ORIGIN/test/calendar/"; DUSER="test"; DPASS="test"
  SLOG=$TMP/radicale/radicale.log
  VERSION="Radicale $(radicale --version 2>/dev/null || echo '?')"
}
seed_radicale() {
  find "$GEN/ics" -name '*.ics' -exec cp -t "$TMP/radicale/collections/collection-root/test/calendar" {} +
}
start_xandikos() {
  local port; port=${XAN_PORT:-$(free_port)}
  SPID=$("$PEERS/start-xandikos.sh" "$port" "$TMP/xandikos" test 2>>"$TMP/xandikos-start.log") ||
    { cat "$TMP/xandikos-start.log" >&2; exit 1; }
  PIDS+=("$SPID")
  ORIGIN="http://127.0.0.1:$port"; URL="$ORIGIN/test/calendars/calendar/"; DUSER="test"; DPASS="test"
  SLOG=$TMP/xandikos/xandikos.log
  VERSION="Xandikos $(xandikos --version 2>&1 | awk '{print $NF}' | head -1)"
}
seed_xandikos() {
  KEEP=0 XANDIKOS_DIR=$TMP/xandikos/store/test/calendars/calendar SEED=42 RUN=$RUN \
    "$PEERS/seed-events.sh" x x x "$N" >/dev/null 2>"$TMP/seed-xandikos.log" ||
    { cat "$TMP/seed-xandikos.log" >&2; echo "seeding Xandikos failed" >&2; exit 1; }
}

# ---------------------------------------------------------------- requests
XMLH=(-H 'Content-Type: application/xml; charset=utf-8' -H 'Expect:')
cat > "$TMP/req/propfind.xml" <<'EOF'
<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>
EOF
cat > "$TMP/req/query.xml" <<'EOF'
<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><D:getetag/><C:calendar-data/></D:prop>
<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter></C:filter>
</C:calendar-query>
EOF
sync_body() {  # sync_body TOKEN FILE
  printf '<?xml version="1.0" encoding="utf-8"?>\n<D:sync-collection xmlns:D="DAV:"><D:sync-token>%s</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>\n' "$1" > "$2"
}
# one SRV NAME METHOD DEPTH BODY: one curl request; prints "CODE SECONDS BYTES",
# CODE "timeout" when --max-time was reached; the answer in $TMP/out/SRV.NAME.xml
one() {
  local rc=0 r
  r=$(curl -s -o "$TMP/out/$1.$2.xml" -w '%{http_code} %{time_total} %{size_download}' --max-time "$MAX_TIME" \
    -u "$DUSER:$DPASS" -X "$3" -H "Depth: $4" "${XMLH[@]}" --data-binary @"$5" "$URL") || rc=$?
  if [ "$rc" = 28 ]; then echo "timeout $MAX_TIME 0"; else echo "$r"; fi
}
# measure SRV NAME METHOD DEPTH BODY: warm-up + REPS timed runs; sets
# R[SRV.NAME] (median seconds, "> MAX_TIME s" or "HTTP code"), K[SRV.NAME] (runs),
# I[SRV.NAME] (what the last answer held)
declare -A R K I V
measure() {
  local key=$1.$2 w c s b times=() reps=$REPS i wu
  w=$(one "$@"); read -r c s b <<<"$w"; wu=$s
  if [ "$c" = timeout ]; then R[$key]="> $MAX_TIME s"; K[$key]=0; I[$key]="warm-up reached --max-time $MAX_TIME"
    log "  $2: warm-up reached the $MAX_TIME s cap"; return 0; fi
  if [ "$c" != 207 ]; then R[$key]="HTTP $c"; K[$key]=0; I[$key]="$(head -c 300 "$TMP/out/$key.xml" | tr -d '\r\n')"
    log "  $2: HTTP $c: ${I[$key]}"; return 0; fi
  awk -v s="$s" -v l="$SLOW_SECONDS" 'BEGIN{exit !(s > l)}' && reps=$SLOW_REPS
  for ((i = 0; i < reps; i++)); do
    w=$(one "$@"); read -r c s b <<<"$w"
    if [ "$c" = timeout ]; then R[$key]="> $MAX_TIME s"; K[$key]=$i; I[$key]="run $((i + 1)) reached --max-time"; return 0; fi
    [ "$c" = 207 ] || { R[$key]="HTTP $c"; K[$key]=$i; I[$key]="run $((i + 1)) answered $c"; return 0; }
    times+=("$s")
  done
  R[$key]=$($DAVPY median "${times[@]}"); K[$key]=$reps
  I[$key]="$($DAVPY summary "$TMP/out/$key.xml" | sed -E 's/ token=.*//') bytes=$b"
  log "  $2: median ${R[$key]} s of ${times[*]} (warm-up $wu s); ${I[$key]}"
}

# vds SRV: bench-vdirsyncer.sh; sets R[SRV.vds1] (discover + first sync),
# R[SRV.vds2] (no-change sync), R[SRV.vds3] (incremental sync, 1% edited)
vds() {
  local rc=0 d f e
  SERVER_LOG=$SLOG timeout "$VDS_TIMEOUT" "$PEERS/bench-vdirsyncer.sh" "$URL" "$DUSER" "$DPASS" "$TMP/vds-$1" \
    >"$TMP/vds-$1.out" 2>"$TMP/vds-$1.err" </dev/null || rc=$?
  sed -i 's/n\/a (set SERVER_LOG)/n\/a (no request log)/g' "$TMP/vds-$1.out"
  sed 's/^/  /' "$TMP/vds-$1.out" >&2
  d=$(sed -nE 's/^1 discover +: ([0-9.]+) s.*/\1/p' "$TMP/vds-$1.out")
  f=$(sed -nE 's/^1 full sync +: ([0-9.]+) s.*/\1/p' "$TMP/vds-$1.out")
  if [ -n "$d" ] && [ -n "$f" ]; then
    R[$1.vds1]=$(awk -v a="$d" -v b="$f" 'BEGIN{printf "%.2f", a + b}'); I[$1.vds1]="discover $d s + sync $f s"
    R[$1.vds2]=$(sed -nE 's/^2 no-change sync +: ([0-9.]+) s.*/\1/p' "$TMP/vds-$1.out")
    R[$1.vds3]=$(sed -nE 's/^3 incremental sync: ([0-9.]+) s.*/\1/p' "$TMP/vds-$1.out")
    I[$1.vds2]=$(sed -nE 's/^2 no-change sync +: [0-9.]+ s +//p' "$TMP/vds-$1.out")
    I[$1.vds3]=$(sed -nE 's/^3 incremental sync: [0-9.]+ s +//p' "$TMP/vds-$1.out")
    I[$1.vds1]="${I[$1.vds1]}; $(sed -nE 's/^1 full sync +: [0-9.]+ s +//p' "$TMP/vds-$1.out")"
  fi
  K[$1.vds1]=1; K[$1.vds2]=1; K[$1.vds3]=1
  if [ "$rc" = 124 ]; then
    R[$1.vds1]=${R[$1.vds1]:-"> $VDS_TIMEOUT s"}; R[$1.vds2]=${R[$1.vds2]:--}; R[$1.vds3]=${R[$1.vds3]:--}
    I[$1.vds1]="${I[$1.vds1]:-} (bench-vdirsyncer.sh stopped by timeout after $VDS_TIMEOUT s)"
  elif [ "$rc" != 0 ]; then
    e=$(sed -nE 's/^vdirsyncer (discover|sync) failed after ([0-9.]+) s$/\1 failed after \2 s/p' "$TMP/vds-$1.err" | head -1)
    if [ -z "${R[$1.vds1]:-}" ]; then R[$1.vds1]="fails (${e:-exit $rc})"; R[$1.vds2]=-; R[$1.vds3]=-
    else R[$1.vds3]=${R[$1.vds3]:-"fails (${e:-exit $rc})"}; fi
    I[$1.vds1]="${I[$1.vds1]:-} $(grep -m1 -E 'aiohttp|timeout|VERIFICATION' "$TMP/vds-$1.err" | head -c 200 || true)"
    tail -5 "$TMP/vds-$1.err" | sed 's/^/  /' >&2
  fi
  log "  vdirsyncer (rc $rc): first sync ${R[$1.vds1]}, no-change ${R[$1.vds2]:--}, incremental ${R[$1.vds3]:--} (s)"
}

bench_server() {  # bench_server SRV
  local s=$1 t tok m
  log "== $s"
  "start_$s"; log "  $VERSION at $URL (PID $SPID)"; V[$s]=$VERSION
  t=$(now); "seed_$s"
  curl -s -o "$TMP/out/$s.seedcheck.xml" -u "$DUSER:$DPASS" -X PROPFIND -H 'Depth: 1' "${XMLH[@]}" \
    --data-binary @"$TMP/req/propfind.xml" "$URL"
  $DAVPY hrefs "$TMP/out/$s.seedcheck.xml" > "$TMP/$s.hrefs"
  m=$(wc -l < "$TMP/$s.hrefs")
  log "  seeded in $(since "$t") s (with the first PROPFIND Depth 1); the collection lists $m items"
  [ "$m" -eq "$N" ] || { echo "$s lists $m items, not $N" >&2; exit 1; }

  measure "$s" propfind PROPFIND 1 "$TMP/req/propfind.xml"
  measure "$s" query REPORT 1 "$TMP/req/query.xml"
  $DAVPY multiget "$TMP/$s.hrefs" "$MULTIGET" > "$TMP/req/$s.multiget.xml"
  measure "$s" multiget REPORT 1 "$TMP/req/$s.multiget.xml"

  sync_body "" "$TMP/req/$s.sync0.xml"
  curl -s -o "$TMP/out/$s.sync0.xml" --max-time 900 -u "$DUSER:$DPASS" -X REPORT -H 'Depth: 0' \
    "${XMLH[@]}" --data-binary @"$TMP/req/$s.sync0.xml" "$URL"
  tok=$($DAVPY summary "$TMP/out/$s.sync0.xml" | sed -nE 's/.* token=(.*)$/\1/p')
  [ -n "$tok" ] && [ "$tok" != - ] || { head -c 500 "$TMP/out/$s.sync0.xml" >&2; echo "$s: no sync-token" >&2; exit 1; }
  t=$(now)
  EDITED[$s]=$($DAVPY edit "$ORIGIN" "$DUSER" "$DPASS" "$TMP/$s.hrefs" "$EDITS" "$(date -u +%Y%m%dT%H%M%SZ)")
  log "  $((EDITS < N ? EDITS : N)) edits (GET + PUT If-Match): ${EDITED[$s]} OK in $(since "$t") s (not timed)"
  sync_body "$tok" "$TMP/req/$s.sync100.xml"
  measure "$s" sync100 REPORT 0 "$TMP/req/$s.sync100.xml"

  if [ "$s" = radicale ] && [ "${RESTART_RADICALE:-1}" = 1 ]; then
    stop_pid "$SPID"; forget_pid "$SPID"; sync
    start_radicale
    curl -s -o /dev/null -u test:test -X PROPFIND -H 'Depth: 1' "${XMLH[@]}" --data-binary @"$TMP/req/propfind.xml" "$URL"
    log "  Radicale restarted for vdirsyncer (PID $SPID), warmed with one PROPFIND Depth 1"
  fi
  sync
  vds "$s"
  stop_pid "$SPID"; forget_pid "$SPID"
}

declare -A EDITED
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for s in $SERVERS; do bench_server "$s"; done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
T_TOTAL=$(( $(date +%s) - T_START ))

# ---------------------------------------------------------------- the table
num() { [[ "$1" =~ ^[0-9]+(\.[0-9]+)?$ ]]; }
cell() {  # cell SRV NAME: the figure as printed
  local v=${R[$1.$2]:-} k=${K[$1.$2]:-}
  [ -n "$v" ] || { echo "–"; return; }
  if num "$v"; then
    case $2 in vds*) printf '%s' "$v" ;; *) awk -v x="$v" 'BEGIN{ if (x < 0.1) printf "%.4f", x; else if (x < 10) printf "%.3f", x; else printf "%.1f", x }' ;; esac
    case $2 in vds*) ;; *) [ "$k" = "$REPS" ] || printf ' (%s run)' "$k" ;; esac
  else printf '%s' "$v"; fi
}
ratio() {  # ratio SRV NAME: SRV's figure / Tandem's
  local a=${R[$1.$2]:-} b=${R[tandem.$2]:-}
  if num "$a" && num "$b"; then awk -v a="$a" -v b="$b" 'BEGIN{ if (b > 0) printf "%.1fx", a / b; else print "–" }'
  elif [[ "$a" == ">"* ]] && num "$b"; then awk -v a="${a//[^0-9.]/}" -v b="$b" 'BEGIN{ printf "> %.0fx", a / b }'
  elif [[ "$a" == "fails"* ]]; then echo "– (fails)"
  else echo "–"; fi
}
# goal NAME: the goal and whether Tandem met it in this run
goal() {
  local t=${R[tandem.$1]:-} r=${R[radicale.$1]:-} m
  case $1 in
    sync100) num "$t" || { echo "<= 10 ms: –"; return; }
             m=$(awk -v t="$t" 'BEGIN{print (t <= 0.010) ? "met" : "NOT met"}')
             echo "<= 10 ms (Tandem): **$m**; >= 20x Radicale: **$(rgoal "$t" "$r" 20)**" ;;
    propfind|query|multiget) echo ">= 20x Radicale: **$(rgoal "$t" "$r" 20)**" ;;
    vds1) echo ">= 5x Radicale: **$(rgoal "$t" "$r" 5)**" ;;
    *) echo "–" ;;
  esac
}
rgoal() {  # rgoal TANDEM RADICALE FACTOR
  if num "$1" && num "$2"; then awk -v t="$1" -v r="$2" -v f="$3" 'BEGIN{print (r >= f * t) ? "met" : "NOT met"}'
  elif num "$1" && [[ "$2" == ">"* ]]; then awk -v t="$1" -v r="${2//[^0-9.]/}" -v f="$3" 'BEGIN{print (r >= f * t) ? "met" : "– (Radicale capped)"}'
  else echo "–"; fi
}
MG=$(( MULTIGET < N ? MULTIGET : N ))
NE=$(( EDITS < N ? EDITS : N ))
declare -A LABEL=(
  [sync100]="sync-collection, token from before $NE changes (getetag)"
  [query]="calendar-query, whole collection, VEVENT, calendar-data"
  [propfind]="PROPFIND Depth 1, getetag"
  [multiget]="calendar-multiget, $MG hrefs, calendar-data"
  [vds1]="vdirsyncer discover + first sync (whole processes)"
  [vds2]="vdirsyncer no-change sync"
  [vds3]="vdirsyncer sync after 1% edited on the server"
)
ROWS=(sync100 query propfind multiget vds1 vds2 vds3)
has() { [[ " $SERVERS " == *" $1 "* ]]; }
table() {
  local hdr="| request |" sep="| --- |" r s line
  for s in tandem radicale xandikos; do has "$s" && { hdr="$hdr ${s^} s |"; sep="$sep ---: |"; }; done
  has tandem && has radicale && { hdr="$hdr Radicale/Tandem |"; sep="$sep ---: |"; }
  has tandem && has xandikos && { hdr="$hdr Xandikos/Tandem |"; sep="$sep ---: |"; }
  has tandem && { hdr="$hdr goal (Tandem) |"; sep="$sep --- |"; }
  echo "$hdr"; echo "$sep"
  for r in "${ROWS[@]}"; do
    line="| ${LABEL[$r]} |"
    for s in tandem radicale xandikos; do has "$s" && line="$line $(cell "$s" "$r") |"; done
    has tandem && has radicale && line="$line $(ratio radicale "$r") |"
    has tandem && has xandikos && line="$line $(ratio xandikos "$r") |"
    has tandem && line="$line $(goal "$r") |"
    echo "$line"
  done
}
details() {  # what each answer held (a check that the servers answered the same thing)
  local r s
  echo "| request | server | runs | what the last answer held |"
  echo "| --- | --- | ---: | --- |"
  for r in "${ROWS[@]}"; do for s in tandem radicale xandikos; do
    has "$s" || continue
    echo "| $r | $s | ${K[$s.$r]:-–} | ${I[$s.$r]:-–} |"
  done; done
}
MACHINE="$(lscpu 2>/dev/null | sed -nE 's/^Model name: +//p' | head -1), $(nproc) cores, $(free -g | awk '/^Mem:/{print $2}') GiB RAM, Debian $(cat /etc/debian_version 2>/dev/null || echo '?'), kernel $(uname -r)"
TABLE=$(table)
echo
echo "N=$N events, $MACHINE; load average $LOAD0 at the start, $LOAD1 at the end; whole run ${T_TOTAL} s"
echo
echo "$TABLE"
echo
details

if [ "$OUT" != - ]; then
  VERS=""
  for s in tandem radicale xandikos; do has "$s" && VERS="$VERS${V[$s]}; "; done
  VERS="$VERS$(vdirsyncer --version 2>/dev/null | awk '{print "vdirsyncer " $NF}'); $(curl --version | head -1 | cut -d' ' -f1-2); $(python3 --version)"
  {
    cat <<EOF
## Tandem's CalDAV server against Radicale and Xandikos (same run, same events)

What: \`bench/davserver/run.sh\` (helper \`bench/davserver/dav.py\`). Reproduce from the
repository root (at N=10000 expect tens of minutes on 2 cores, most of it Radicale's
and Xandikos's own time; N=300 takes about a minute and a half):

\`\`\`
N=10000 bench/davserver/run.sh          # writes this file; OUT=- only prints
\`\`\`

Run of $(date -u '+%Y-%m-%d %H:%M UTC'): **N=$N events**, machine: $MACHINE; load
average $LOAD0 at the start, $LOAD1 at the end; the whole run took $T_TOTAL s.
Versions: $VERS.
$( [ "$N" = 10000 ] || echo "
**This run is a small-scale check of the script (N=$N), not the measurement: the
goals are for N=10,000, where the peers' costs that grow faster than N show.**" )

### Results (seconds; the ratios are the peer's time over Tandem's)

$TABLE

Goals: sync-collection with a token after 100 changes <= 10 ms server time; every
listing (the four requests above the vdirsyncer rows) >= 20x faster than
Radicale's; vdirsyncer's first sync (discover + sync) against Tandem >= 5x faster
than against Radicale.

### Method

- Events: \`../shared/peers/seed-events.sh\` with SEED=42 and RUN=$RUN, so every
  server holds the same $N events (UIDs and content; only DTSTAMP/CREATED/
  LAST-MODIFIED carry the generation time): timed events in 6 TZIDs and UTC,
  all-day and multi-day, weekly/daily/monthly/yearly series with EXDATE and an
  overridden instance, alarms, attendees, folded UTF-8 text; $GEN_BYTES bytes of
  iCalendar in all. Resources are named \`<UID>.ics\`.
- Seeding (not timed): Tandem by PUT over its CalDAV server (\`seed-events.sh\`
  pointed at \`/dav/calendars/<id>/appointments/\`: \`curl --parallel\`, keep-alive,
  \`If-None-Match: *\`; each PUT is a CRM write), as a CRM user \`test\` created with
  the REST API on a fresh data folder; Radicale by copying the generated files
  into its file storage (its per-item PUT is O(N), see
  \`bench/sync_caldav/common.sh\`); Xandikos by \`seed-events.sh XANDIKOS_DIR\` (files
  into its git tree, one commit). Then one untimed PROPFIND Depth 1 per server
  (Radicale builds its item cache), which also checks that the collection lists N items.
- Servers: \`../shared/peers/start-radicale.sh\` and \`start-xandikos.sh\` (their
  configurations: Radicale multifilesystem storage with plain htpasswd, info log;
  Xandikos without authentication), tandemd with its defaults (\`--log-level info\`,
  one HTTP worker per core, SQLite in a temp folder). Everything on 127.0.0.1, in a
  temporary folder; one server runs at a time; all are stopped by PID at the end.
- Requests: one \`curl\` process per request (new connection, HTTP Basic), the
  figure is curl's \`%{time_total}\` over loopback: connect, send, and the server's
  whole answer read (the "server time"; no client parsing in it). Each request:
  one warm-up, then $REPS timed runs, **median** shown; a request whose warm-up
  took more than $SLOW_SECONDS s gets $SLOW_REPS timed run(s) (marked "(1 run)").
  Every request is capped at $MAX_TIME s (\`curl --max-time\`); "> $MAX_TIME s"
  means the cap was reached. Order per server: PROPFIND, calendar-query,
  multiget, then the sync-collection: an initial sync-collection (empty token)
  gives a token, $NE members (spread evenly over the collection) are edited
  (GET, SUMMARY and SEQUENCE changed, PUT with If-Match; not timed), then the
  REPORT with the old token is timed. Bodies: PROPFIND \`<D:prop><D:getetag/>\`,
  Depth 1; calendar-query \`getetag\` + \`calendar-data\`,
  \`comp-filter VCALENDAR/VEVENT\`, no time-range, Depth 1; calendar-multiget of
  the first $MG hrefs by name, \`getetag\` + \`calendar-data\`, Depth 1;
  sync-collection \`sync-level 1\`, \`getetag\`, Depth 0 (as DAVx5 sends it).
- vdirsyncer: \`../shared/peers/bench-vdirsyncer.sh URL test test DIR\` (two-way
  with a local vdir; vdirsyncer 0.19 uses PROPFIND Depth 1 + one
  calendar-multiget, never sync-collection), whole processes, one run each, the
  script capped at $VDS_TIMEOUT s (\`timeout\`). Its third phase edits 1% of the
  items on the server with curl and times the sync that fetches them. Radicale
  is restarted (and warmed with one PROPFIND) before it, as in
  \`bench/sync_caldav/common.sh\`. Xandikos's calendar-multiget finds each href by
  a scan of the collection (O(N) per href, see \`../shared/peers/BASELINES.md\`),
  which is why its multiget and its first vdirsyncer sync grow as N².
- The answers are not the same bytes: Tandem serves its CRM rendering of each
  event (same UIDs, fields and unmodeled properties), the peers the stored file.
  The table below gives what each answer held. tandemd writes no request log,
  so bench-vdirsyncer.sh's request counts are "n/a" for it; vdirsyncer makes the
  same requests against every server (see the peers' counts).

### What each answer held

$(details)
EOF
  } > "$OUT"
  log "wrote $OUT"
fi
log "done in $T_TOTAL s"
