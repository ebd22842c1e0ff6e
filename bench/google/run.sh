#!/usr/bin/env bash
# bench/google/run.sh [EVENTS] [ACTIVITIES] [EDITS] [RUNS]
# Tandem against the local fake of Google Calendar (tests/fakes/google), whole
# processes as a user runs them, beside curl sending the same requests to a fresh
# fake holding the same data. Three cases, RUNS times each (default 3):
#   first : `tandem sync pair add --google` (consent page opened by a scripted
#           browser, discovery, pairing, initialization) pulling EVENTS (10000)
#           events into an empty CRM;
#   incr  : `tandem sync now PAIR` after EDITS (100) edits made on the fake;
#   push  : `tandem sync pair add --google` pushing ACTIVITIES (1000) CRM
#           activities, made through the REST API before pairing, to an empty
#           Google calendar (multipart batches of 50).
# For each: Tandem's wall time, the curl replay's wall time, their ratio (target
# 1.5x), the requests, and Tandem's own share (wall minus the server's time,
# estimated two ways: the replay's wall, and the fake's own per-request times).
# bench/google/README.md says what is replayed and how; docs/bench-google.md has
# the figures.
# Env: BUILD (default ./build), KEEP=1 keeps the temporary folder.
set -euo pipefail
N=${1:-10000}
A=${2:-1000}
EDITS=${3:-100}
RUNS=${4:-3}
BENCH_NAME=google
. "$(dirname "$0")/../replay_common.sh"
FAKE=$ROOT/tests/fakes/google/fake_google.py

# start_fake NAME STATE [PORT]: a fake loading a copy of the state file STATE;
# sets FAKE_PID, FAKE_PORT, FAKE_BASE, FAKE_LOG.
start_fake() {
  local name=$1 state=$2 port=${3:-0}
  if [ -f "$state" ]; then cp "$state" "$TMP/$name.state.json"; else rm -f "$TMP/$name.state.json"; fi
  python3 "$FAKE" --port "$port" --state "$TMP/$name.state.json" \
    >"$TMP/$name.fake.out" 2>"$TMP/$name.fake.log" &
  FAKE_PID=$!; PIDS+=("$FAKE_PID")
  for _ in $(seq 1 300); do grep -q '^READY ' "$TMP/$name.fake.out" 2>/dev/null && break; sleep 0.05; done
  FAKE_PORT=$(sed -nE 's/^READY ([0-9]+)$/\1/p' "$TMP/$name.fake.out")
  [ -n "$FAKE_PORT" ] || fail "the fake $name did not start: $(tail -3 "$TMP/$name.fake.log")"
  FAKE_BASE=http://127.0.0.1:$FAKE_PORT
  FAKE_LOG=$TMP/$name.fake.log
}
fake_post() {  # fake_post ENDPOINT [JSON]
  local body=${2:-}
  [ -n "$body" ] || body='{}'
  curl -sf -X POST -H 'Content-Type: application/json' -d "$body" "$FAKE_BASE/_fake/$1"
}
# fake_ms LOG FROM_LINE: requests the fake logged after line FROM_LINE and the sum of
# its own milliseconds for them (from reading the request to writing the answer).
fake_ms() {
  tail -n +"$(($2 + 1))" "$1" | sed -nE 's/.* -> [0-9]+ \(([0-9.]+) ms\)$/\1/p' |
    awk '{s += $1; n++} END{printf "%d %.3f\n", n, s / 1000}'
}

# start_tandemd NAME: a tandemd on an empty SQLite store, its [google] endpoints at
# $FAKE_BASE; a user "bench" made by the admin, the CLI logged in as bench.
# Sets TD_PID, API, and HOME/XDG_CONFIG_HOME for the CLI.
start_tandemd() {
  local name=$1
  API=http://127.0.0.1:$(free_port)
  cat >"$TMP/$name.toml" <<TOML
[admin]
login = "admin"
password = "bench-admin-password"
[google]
client_id = "tandem-test-client"
client_secret = "tandem-test-secret"
auth_url = "$FAKE_BASE/o/oauth2/v2/auth"
token_url = "$FAKE_BASE/token"
api_base = "$FAKE_BASE/calendar/v3"
TOML
  "$TANDEMD" --config "$TMP/$name.toml" --data-dir "$TMP/$name.data" --listen "${API#http://}" \
    >"$TMP/$name.tandemd.log" 2>&1 &
  TD_PID=$!; PIDS+=("$TD_PID"); TD_LOG=$TMP/$name.tandemd.log
  for _ in $(seq 1 200); do curl -sf "$API/healthz" >/dev/null && break; sleep 0.05; done
  curl -sf "$API/healthz" >/dev/null || fail "tandemd did not start: $(tail -5 "$TMP/$name.tandemd.log")"
  export HOME=$TMP/$name.home XDG_CONFIG_HOME=$TMP/$name.home/.config
  mkdir -p "$XDG_CONFIG_HOME"
  printf 'bench-admin-password\n' >"$TMP/admin.pw"
  printf 'bench-user-password\n' >"$TMP/user.pw"
  "$TANDEM" login --server "$API" --user admin --password-file "$TMP/admin.pw" >/dev/null || fail "admin login"
  "$TANDEM" users add --login bench --display-name "Bench User" --password-file "$TMP/user.pw" >/dev/null \
    || fail "users add"
  "$TANDEM" login --server "$API" --user bench --password-file "$TMP/user.pw" >/dev/null || fail "bench login"
}

# browser OUT: reads the CLI's output into OUT; opens the consent page it prints
# the way a browser does (the fake consents and redirects to the CLI's loopback
# listener); the browser's own seconds go to OUT.browser.
browser() {
  local out=$1 line b0
  : >"$out"
  while IFS= read -r line; do
    printf '%s\n' "$line" >>"$out"
    case $line in
      *"/o/oauth2/v2/auth?"*)
        b0=$EPOCHREALTIME
        curl -s -L -o /dev/null "${line##* }"
        minus "$EPOCHREALTIME" "$b0" >"$out.browser"
        cat >>"$out"
        return 0 ;;
    esac
  done
}

# timed_tandem CASE RUN CMD...: runs the CLI command (through the browser when it
# is a pair add), records wall, the browser's share, tandemd's and the fake's CPU
# seconds, the fake's logged requests and own seconds; saves /_fake/requests.
timed_tandem() {
  local case=$1 run=$2 t0 t1 mark c0 f0 c1 f1
  shift 2
  local out=$TMP/$case-$run.out
  fake_post clear_requests >/dev/null
  sync
  mark=$(wc -l <"$FAKE_LOG"); c0=$(cpu_ticks "$TD_PID"); f0=$(cpu_ticks "$FAKE_PID")
  local tdmark; tdmark=$(wc -l <"$TD_LOG")
  t0=$(now)
  if [ "$2" = pair ]; then
    "$TANDEM" "$@" 2>&1 | browser "$out" || { cat "$out" >&2; fail "$case: '$*' failed"; }
  else
    echo 0 >"$out.browser"
    "$TANDEM" "$@" >"$out" 2>&1 || { cat "$out" >&2; fail "$case: '$*' failed"; }
  fi
  t1=$(now)
  c1=$(cpu_ticks "$TD_PID"); f1=$(cpu_ticks "$FAKE_PID")
  curl -sf "$FAKE_BASE/_fake/requests" >"$TMP/$case-$run.requests.json"
  # Exactly one sync run in the window (a scheduled run of tandemd's own would mix in).
  local runs; runs=$(tail -n +"$((tdmark + 1))" "$TD_LOG" | grep -c 'sync pair [^ ]* of [^ ]*: ' || true)
  [ "$runs" = 1 ] || fail "$case run $run: tandemd logged $runs sync runs during the command, not 1 ($TD_LOG)"
  read -r nlog fsec < <(fake_ms "$FAKE_LOG" "$mark")
  echo "$(minus "$t1" "$t0") $(cat "$out.browser") $(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.2f", (b-a)/100}') \
$(awk -v a="$f0" -v b="$f1" 'BEGIN{printf "%.2f", (b-a)/100}') $nlog $fsec" >"$TMP/$case-$run.tandem"
  say "$case run $run: tandem $(cut -d' ' -f1 "$TMP/$case-$run.tandem") s ($(jq length "$TMP/$case-$run.requests.json") requests logged)"
}

# replay CASE RUN STATE [EVENTS]: a fresh fake from STATE, the logged requests of
# Tandem's run as one curl process; checks each status against Tandem's.
replay() {
  local case=$1 run=$2 state=$3 events=${4:-} t0 t1 mark f0 f1
  local dir=$TMP/$case-$run.replay
  start_fake "$case-$run-replay" "$state"
  python3 "$REPLAY" --base "$FAKE_BASE" --requests "$TMP/$case-$run.requests.json" --dir "$dir" \
    ${events:+--events "$events"}
  sync
  mark=$(wc -l <"$FAKE_LOG"); f0=$(cpu_ticks "$FAKE_PID")
  t0=$(now)
  curl -s -K "$dir/curl.cfg" >"$dir/statuses.txt"
  t1=$(now)
  f1=$(cpu_ticks "$FAKE_PID")
  read -r nlog fsec < <(fake_ms "$FAKE_LOG" "$mark")
  cut -d' ' -f1 "$dir/statuses.txt" | diff -q - "$dir/expected.txt" >/dev/null ||
    fail "$case run $run: the replay's statuses differ from Tandem's ($dir)"
  local conns
  conns=$(awk '{s += $2} END{print s}' "$dir/statuses.txt")
  echo "$(minus "$t1" "$t0") $(awk -v a="$f0" -v b="$f1" 'BEGIN{printf "%.2f", (b-a)/100}') $nlog $fsec $conns" \
    >"$TMP/$case-$run.replay.txt"
  say "$case run $run: curl replay $(cut -d' ' -f1 "$TMP/$case-$run.replay.txt") s ($nlog requests, $conns connection(s))"
  stop "$FAKE_PID"
}

crm_count() { "$TANDEM" activities list --owner me --all --json | jq '.items | length'; }
live_on_fake() {
  curl -sf "$FAKE_BASE/_fake/events?calendarId=user@example.test" |
    jq '[.items[] | select(.status != "cancelled")] | length'
}

# ---- the fake's starting states (one secret each, so tokens mean the same in
# Tandem's fake and the replay's)
say "seeding $N events"
start_fake seed "$TMP/none.json"
fake_post seed "{\"calendarId\":\"primary\",\"count\":$N,\"start\":\"$(date -u -d 'tomorrow 08:00' +%FT%TZ)\",\"intervalMinutes\":30,\"durationMinutes\":20}" >/dev/null
fake_post save >/dev/null
cp "$TMP/seed.state.json" "$TMP/seeded.json"
stop "$FAKE_PID"
start_fake empty "$TMP/none.json"
fake_post save >/dev/null
cp "$TMP/empty.state.json" "$TMP/empty.json"
stop "$FAKE_PID"

t_start=$(now)
for run in $(seq 1 "$RUNS"); do
  # -- first sync of N events, then EDITS edits on the fake and an incremental run
  start_fake "first-$run" "$TMP/seeded.json"
  port=$FAKE_PORT
  start_tandemd "first-$run"
  timed_tandem first "$run" sync pair add --google
  [ "$(crm_count)" = "$N" ] || fail "first run $run: the CRM holds $(crm_count) activities, not $N"
  PAIR=$("$TANDEM" sync pair list --json | jq -r '.items[0].id')
  token=$(fake_post token | jq -r .access_token)
  curl -sf "$FAKE_BASE/_fake/events?calendarId=user@example.test" |
    jq -r --argjson n "$N" --argjson e "$EDITS" '.items | to_entries[] | select(.key % (($n / $e) | floor) == 0) | .value.id' |
    head -n "$EDITS" | awk -v b="$FAKE_BASE" -v t="$token" '{
      if (NR > 1) print "next"
      printf "url = \"%s/calendar/v3/calendars/primary/events/%s\"\nrequest = \"PATCH\"\n", b, $1
      printf "header = \"Authorization: Bearer %s\"\nheader = \"Content-Type: application/json\"\n", t
      printf "data = \"{\\\"summary\\\":\\\"Moved by phone %d\\\",\\\"location\\\":\\\"Room %d\\\"}\"\n", NR, NR
      printf "output = \"/dev/null\"\nwrite-out = \"%%{http_code}\\n\"\n" }' >"$TMP/edits-$run.cfg"
  curl -s -K "$TMP/edits-$run.cfg" | sort | uniq -c | grep -q "^ *$EDITS 200$" || fail "the edits on the fake failed"
  fake_post clear_requests >/dev/null
  fake_post save >/dev/null
  cp "$TMP/first-$run.state.json" "$TMP/edited-$run.json"
  stop "$FAKE_PID"
  start_fake "incr-$run" "$TMP/edited-$run.json" "$port"   # a fresh fake, same port, same data
  timed_tandem incr "$run" sync now "$PAIR"
  n_moved=$("$TANDEM" activities list --owner me --all --json | jq '[.items[] | select(.subject | startswith("Moved by phone"))] | length')
  [ "$n_moved" = "$EDITS" ] || fail "incremental run $run: $n_moved of $EDITS edits reached the CRM"
  cp "$TMP/first-$run.tandemd.log" "$TMP/first-$run.tandemd.kept.log"
  stop "$TD_PID"; stop "$FAKE_PID"
  replay first "$run" "$TMP/seeded.json"
  replay incr "$run" "$TMP/edited-$run.json"

  # -- first push of A activities to an empty Google calendar
  start_fake "push-$run" "$TMP/empty.json"
  start_tandemd "push-$run"
  session=$(curl -sf -H 'Content-Type: application/json' -d '{"login":"bench","password":"bench-user-password"}' \
    "$API/api/v1/login" | jq -r .token)
  activities_cfg "$API" "$session" "$A" 120 >"$TMP/activities-$run.cfg"
  curl -s -K "$TMP/activities-$run.cfg" | sort | uniq -c | grep -q "^ *$A 201$" || fail "creating $A activities failed"
  sleep 3.5   # past tandemd's 3 s debounce of CRM changes: its push request finds no pair yet
  timed_tandem push "$run" sync pair add --google
  [ "$(live_on_fake)" = "$A" ] || fail "push run $run: the fake holds $(live_on_fake) events, not $A"
  curl -sf "$FAKE_BASE/_fake/events?calendarId=user@example.test" >"$TMP/push-$run.events.json"
  stop "$TD_PID"; stop "$FAKE_PID"
  replay push "$run" "$TMP/empty.json" "$TMP/push-$run.events.json"
done
t_total=$(minus "$(now)" "$t_start")

# ---- report
echo
echo "Google fake (tests/fakes/google), $N events / $A activities / $EDITS edits, $RUNS runs, $(nproc) cores, $(date -u +%F), load average $(cut -d' ' -f1-3 /proc/loadavg), whole script $t_total s"
echo
echo "| case | requests (Tandem / replay) | Tandem wall s (median; runs) | browser's share s | curl replay s (median; runs) | Tandem / replay | fake's own s in Tandem's run | Tandem's own share s: wall - replay / wall - fake's own | tandemd CPU s | fake CPU s (Tandem / replay) |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for c in first incr push; do
  tw=$(col $c tandem 1 | median); rw=$(col $c replay.txt 1 | median)
  br=$(col $c tandem 2 | median); fo=$(col $c tandem 6 | median)
  nreq=$(jq length "$TMP/$c-1.requests.json"); nrep=$(jq .replayed "$TMP/$c-1.replay/summary.json")
  ninner=$(jq .inner_batch_calls "$TMP/$c-1.replay/summary.json"); skipped=$(jq .skipped_count "$TMP/$c-1.replay/summary.json")
  own1=$(for r in $(seq 1 "$RUNS"); do minus "$(cut -d' ' -f1 "$TMP/$c-$r.tandem")" "$(cut -d' ' -f1 "$TMP/$c-$r.replay.txt")"; echo; done | median)
  own2=$(for r in $(seq 1 "$RUNS"); do minus "$(cut -d' ' -f1 "$TMP/$c-$r.tandem")" "$(cut -d' ' -f6 "$TMP/$c-$r.tandem")"; echo; done | median)
  printf '| %s | %s logged (%s inside batches) / %s sent%s | **%s** (%s) | %s | **%s** (%s) | **%s** | %s | %s / %s | %s | %s / %s |\n' \
    "$c" "$nreq" "$ninner" "$nrep" "$([ "$skipped" = 0 ] || echo ", $skipped not replayed")" \
    "$tw" "$(list $c tandem 1)" "$br" "$rw" "$(list $c replay.txt 1)" "$(ratio "$tw" "$rw")" "$fo" "$own1" "$own2" \
    "$(col $c tandem 3 | median)" "$(col $c tandem 4 | median)" "$(col $c replay.txt 2 | median)"
done
echo
for c in first incr push; do
  echo "$c, Tandem's requests (run 1): $(jq -r '[.[] | (if .batch then "(in a batch) " else "" end) + .method + " " + (.path | sub("/calendar/v3/calendars/[^/]+"; "/calendars/ID") | sub("/events/[^/]+$"; "/events/EVENT_ID"))] | group_by(.) | map("\(length) x \(.[0])") | join(", ")' "$TMP/$c-1.requests.json")"
done
echo "replay connections (curl num_connects summed, run 1): first $(cut -d' ' -f5 "$TMP/first-1.replay.txt"), incr $(cut -d' ' -f5 "$TMP/incr-1.replay.txt"), push $(cut -d' ' -f5 "$TMP/push-1.replay.txt")"
