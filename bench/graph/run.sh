#!/usr/bin/env bash
# bench/graph/run.sh [EVENTS] [ACTIVITIES] [EDITS] [RUNS]
# Tandem against the local fake of Microsoft Graph (tests/fakes/graph), whole
# processes as a user runs them, beside curl sending the same requests to a fresh
# fake holding the same data. Three cases, RUNS times each (default 3), all through
# application access (the admin pairs a mailbox: no sign-in wait in the timing):
#   first : `tandem sync pair add --provider outlook-app --mailbox user@example.test`
#           (token, discovery, pairing, initialization) pulling EVENTS (10000)
#           events into an empty CRM;
#   incr  : `tandem sync now PAIR` after EDITS (100) edits made on the fake;
#   push  : the same pair add for the empty mailbox shared@example.test with
#           ACTIVITIES (10000) CRM activities made through the REST API before
#           pairing ($batch requests of 20 creates).
# For each: Tandem's wall time, the curl replay's wall time, their ratio (target
# 1.5x), the requests, the fake's peak of concurrent requests for the mailbox, and
# Tandem's own share (wall minus the replay's wall). docs/bench-graph.md has the
# figures. Env: BUILD (default ./build), KEEP=1 keeps the temporary folder.
set -euo pipefail
N=${1:-10000}
A=${2:-10000}
EDITS=${3:-100}
RUNS=${4:-3}
BENCH_NAME=graph
. "$(dirname "$0")/../replay_common.sh"
FAKE=$ROOT/tests/fakes/graph/fake_graph.py

# start_fake NAME STATE: a fake loading a copy of the state file STATE (none: a new
# one); sets FAKE_PID, FAKE_BASE, FAKE_STATE.
start_fake() {
  local name=$1 state=$2 port
  FAKE_STATE=$TMP/$name.state.json
  if [ -f "$state" ]; then cp "$state" "$FAKE_STATE"; else rm -f "$FAKE_STATE"; fi
  python3 "$FAKE" --port 0 --state "$FAKE_STATE" --delta-token-cache 1000 \
    >"$TMP/$name.fake.out" 2>"$TMP/$name.fake.log" &
  FAKE_PID=$!; PIDS+=("$FAKE_PID")
  for _ in $(seq 1 300); do grep -q '^READY ' "$TMP/$name.fake.out" 2>/dev/null && break; sleep 0.05; done
  port=$(sed -nE 's/^READY ([0-9]+)$/\1/p' "$TMP/$name.fake.out")
  [ -n "$port" ] || fail "the fake $name did not start: $(tail -3 "$TMP/$name.fake.log")"
  FAKE_BASE=http://127.0.0.1:$port
}
fake_post() {  # fake_post ENDPOINT [JSON]
  local body=${2:-}
  [ -n "$body" ] || body='{}'
  curl -sf -X POST -H 'Content-Type: application/json' -d "$body" "$FAKE_BASE/_fake/$1"
}

# start_tandemd NAME: a tandemd on an empty SQLite store, its [microsoft] endpoints
# at $FAKE_BASE, the CLI logged in as the admin. Sets TD_PID, TD_LOG, API.
start_tandemd() {
  local name=$1
  API=http://127.0.0.1:$(free_port)
  printf 'tandem-app-secret\n' >"$TMP/app-secret"; chmod 600 "$TMP/app-secret"
  cat >"$TMP/$name.toml" <<TOML
[admin]
login = "admin"
password = "bench-admin-password"
[microsoft]
client_id = "tandem-test-client"
tenant = "common"
login_base = "$FAKE_BASE"
api_base = "$FAKE_BASE/v1.0"
app_client_id = "tandem-app"
app_tenant = "example.test"
app_secret_file = "$TMP/app-secret"
TOML
  "$TANDEMD" --config "$TMP/$name.toml" --data-dir "$TMP/$name.data" --listen "${API#http://}" \
    >"$TMP/$name.tandemd.log" 2>&1 &
  TD_PID=$!; PIDS+=("$TD_PID"); TD_LOG=$TMP/$name.tandemd.log
  for _ in $(seq 1 200); do curl -sf "$API/healthz" >/dev/null && break; sleep 0.05; done
  curl -sf "$API/healthz" >/dev/null || fail "tandemd did not start: $(tail -5 "$TD_LOG")"
  export HOME=$TMP/$name.home XDG_CONFIG_HOME=$TMP/$name.home/.config
  mkdir -p "$XDG_CONFIG_HOME"
  printf 'bench-admin-password\n' >"$TMP/admin.pw"
  "$TANDEM" login --server "$API" --user admin --password-file "$TMP/admin.pw" >/dev/null || fail "admin login"
}

# timed_tandem CASE RUN CMD...: runs the CLI command; records wall, tandemd's and
# the fake's CPU seconds, the requests (saved from /_fake/requests) and the peak of
# concurrent requests the fake saw for one mailbox.
timed_tandem() {
  local case=$1 run=$2 t0 t1 c0 f0 c1 f1 tdmark
  shift 2
  local out=$TMP/$case-$run.out
  fake_post clear_requests >/dev/null
  fake_post clear_stats >/dev/null
  sync
  c0=$(cpu_ticks "$TD_PID"); f0=$(cpu_ticks "$FAKE_PID"); tdmark=$(wc -l <"$TD_LOG")
  t0=$(now)
  "$TANDEM" "$@" >"$out" 2>&1 || { cat "$out" >&2; fail "$case: '$*' failed"; }
  t1=$(now)
  c1=$(cpu_ticks "$TD_PID"); f1=$(cpu_ticks "$FAKE_PID")
  curl -sf "$FAKE_BASE/_fake/requests" >"$TMP/$case-$run.requests.json"
  local peak; peak=$(curl -sf "$FAKE_BASE/_fake/stats" | jq '[.peak_concurrency[]] | max // 0')
  local runs; runs=$(tail -n +"$((tdmark + 1))" "$TD_LOG" | grep -c 'sync pair [^ ]* of [^ ]*: ' || true)
  [ "$runs" = 1 ] || fail "$case run $run: tandemd logged $runs sync runs during the command, not 1 ($TD_LOG)"
  echo "$(minus "$t1" "$t0") $(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.2f", (b-a)/100}') \
$(awk -v a="$f0" -v b="$f1" 'BEGIN{printf "%.2f", (b-a)/100}') $peak" >"$TMP/$case-$run.tandem"
  say "$case run $run: tandem $(cut -d' ' -f1 "$TMP/$case-$run.tandem") s ($(jq '[.[] | select(.batch | not)] | length' "$TMP/$case-$run.requests.json") requests, peak $peak in flight)"
}

# replay CASE RUN STATE [EVENTS]: a fresh fake from STATE, the logged requests of
# Tandem's run as one curl process; checks each status against Tandem's.
replay() {
  local case=$1 run=$2 state=$3 events=${4:-} t0 t1 f0 f1
  local dir=$TMP/$case-$run.replay
  start_fake "$case-$run-replay" "$state"
  python3 "$REPLAY" --base "$FAKE_BASE" --requests "$TMP/$case-$run.requests.json" --dir "$dir" \
    ${events:+--events "$events"}
  sync
  f0=$(cpu_ticks "$FAKE_PID")
  t0=$(now)
  curl -s -K "$dir/curl.cfg" >"$dir/statuses.txt"
  t1=$(now)
  f1=$(cpu_ticks "$FAKE_PID")
  cut -d' ' -f1 "$dir/statuses.txt" | diff -q - "$dir/expected.txt" >/dev/null ||
    fail "$case run $run: the replay's statuses differ from Tandem's ($dir)"
  local conns; conns=$(awk '{s += $2} END{print s}' "$dir/statuses.txt")
  echo "$(minus "$t1" "$t0") $(awk -v a="$f0" -v b="$f1" 'BEGIN{printf "%.2f", (b-a)/100}') $conns" \
    >"$TMP/$case-$run.replay.txt"
  say "$case run $run: curl replay $(cut -d' ' -f1 "$TMP/$case-$run.replay.txt") s ($(jq .replayed "$dir/summary.json") requests, $conns connection(s))"
  stop "$FAKE_PID"
}

crm_count() { "$TANDEM" activities list --owner me --all --json | jq '.items | length'; }
events_on_fake() {  # events_on_fake MAILBOX FILE
  curl -sf "$FAKE_BASE/_fake/events?user=$1" >"$2"
  jq '.events | length' "$2"
}

# ---- the fake's starting states
say "seeding $N events"
start_fake seed none
fake_post seed "{\"user\":\"user@example.test\",\"count\":$N,\"start\":\"$(date -u -d 'tomorrow 08:00' +%FT%TZ)\",\"intervalMinutes\":30,\"durationMinutes\":20,\"timeZone\":\"W. Europe Standard Time\"}" >/dev/null
fake_post save >/dev/null
cp "$FAKE_STATE" "$TMP/seeded.json"
stop "$FAKE_PID"

t_start=$(now)
for run in $(seq 1 "$RUNS"); do
  # -- first sync of N events, then EDITS edits on the fake and an incremental run
  start_fake "first-$run" "$TMP/seeded.json"
  start_tandemd "first-$run"
  timed_tandem first "$run" sync pair add --provider outlook-app --mailbox user@example.test
  [ "$(crm_count)" = "$N" ] || fail "first run $run: the CRM holds $(crm_count) activities, not $N"
  fake_post save >/dev/null
  cp "$FAKE_STATE" "$TMP/after-first-$run.json"
  PAIR=$("$TANDEM" sync pair list --json | jq -r '.items[0].id')
  token=$(fake_post token '{"app":true}' | jq -r .access_token)
  curl -sf "$FAKE_BASE/_fake/events?user=user@example.test" |
    jq -r --argjson n "$N" --argjson e "$EDITS" '.events | to_entries[] | select(.key % (($n / $e) | floor) == 0) | .value.id' |
    head -n "$EDITS" | awk -v b="$FAKE_BASE" -v t="$token" '{
      if (NR > 1) print "next"
      printf "url = \"%s/v1.0/users/user@example.test/events/%s\"\nrequest = \"PATCH\"\n", b, $1
      printf "header = \"Authorization: Bearer %s\"\nheader = \"Content-Type: application/json\"\n", t
      printf "data = \"{\\\"subject\\\":\\\"Moved by phone %d\\\",\\\"location\\\":{\\\"displayName\\\":\\\"Room %d\\\"}}\"\n", NR, NR
      printf "output = \"/dev/null\"\nwrite-out = \"%%{http_code}\\n\"\n" }' >"$TMP/edits-$run.cfg"
  edits_ok=$(curl -s -K "$TMP/edits-$run.cfg" | sort | uniq -c)
  [[ "$edits_ok" =~ ^\ *$EDITS\ 200$ ]] || fail "the edits on the fake failed: $edits_ok"
  fake_post save >/dev/null
  cp "$FAKE_STATE" "$TMP/edited-$run.json"
  timed_tandem incr "$run" sync now "$PAIR"
  fake_post save >/dev/null
  cp "$FAKE_STATE" "$TMP/after-incr-$run.json"
  n_moved=$("$TANDEM" activities list --owner me --all --json | jq '[.items[] | select(.subject | startswith("Moved by phone"))] | length')
  [ "$n_moved" = "$EDITS" ] || fail "incremental run $run: $n_moved of $EDITS edits reached the CRM"
  stop "$TD_PID"; stop "$FAKE_PID"
  # The replays meet the state the fake held after Tandem's run: the delta rounds
  # and tokens Tandem was given are in it, and a pull changes no event.
  replay first "$run" "$TMP/after-first-$run.json"
  replay incr "$run" "$TMP/after-incr-$run.json"

  # -- first push of A activities to the empty shared mailbox
  start_fake "push-$run" "$TMP/seeded.json"
  start_tandemd "push-$run"
  fake_post save >/dev/null
  cp "$FAKE_STATE" "$TMP/push-before-$run.json"
  session=$(curl -sf -H 'Content-Type: application/json' -d '{"login":"admin","password":"bench-admin-password"}' \
    "$API/api/v1/login" | jq -r .token)
  activities_cfg "$API" "$session" "$A" 50 >"$TMP/activities-$run.cfg"
  made=$(curl -s -K "$TMP/activities-$run.cfg" | sort | uniq -c)
  [[ "$made" =~ ^\ *$A\ 201$ ]] || fail "creating $A activities failed: $made"
  sleep 3.5   # past tandemd's 3 s debounce of CRM changes: its push request finds no pair yet
  timed_tandem push "$run" sync pair add --provider outlook-app --mailbox shared@example.test
  got=$(events_on_fake shared@example.test "$TMP/push-$run.events.json")
  [ "$got" = "$A" ] || fail "push run $run: the shared mailbox holds $got events, not $A"
  stop "$TD_PID"; stop "$FAKE_PID"
  replay push "$run" "$TMP/push-before-$run.json" "$TMP/push-$run.events.json"
done
t_total=$(minus "$(now)" "$t_start")

# ---- report
echo
echo "Graph fake (tests/fakes/graph), $N events / $A activities / $EDITS edits, $RUNS runs, $(nproc) cores, $(date -u +%F), load average $(cut -d' ' -f1-3 /proc/loadavg), whole script $t_total s"
echo
echo "| case | requests (Tandem / replay; \$batch parts) | peak in flight | Tandem wall s (median; runs) | curl replay s (median; runs) | Tandem / replay | Tandem's own share s (wall - replay) | tandemd CPU s | fake CPU s (Tandem / replay) |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for c in first incr push; do
  tw=$(col $c tandem 1 | median); rw=$(col $c replay.txt 1 | median)
  nreq=$(jq '[.[] | select(.batch | not)] | length' "$TMP/$c-1.requests.json")
  nrep=$(jq .replayed "$TMP/$c-1.replay/summary.json"); ninner=$(jq .inner_batch_calls "$TMP/$c-1.replay/summary.json")
  skipped=$(jq .skipped_count "$TMP/$c-1.replay/summary.json")
  own=$(for r in $(seq 1 "$RUNS"); do minus "$(cut -d' ' -f1 "$TMP/$c-$r.tandem")" "$(cut -d' ' -f1 "$TMP/$c-$r.replay.txt")"; echo; done | median)
  printf '| %s | %s / %s%s; %s | %s | **%s** (%s) | **%s** (%s) | **%s** | %s | %s | %s / %s |\n' \
    "$c" "$nreq" "$nrep" "$([ "$skipped" = 0 ] || echo " ($skipped not replayed)")" "$ninner" \
    "$(col $c tandem 4 | median)" "$tw" "$(list $c tandem 1)" "$rw" "$(list $c replay.txt 1)" \
    "$(ratio "$tw" "$rw")" "$own" "$(col $c tandem 2 | median)" "$(col $c tandem 3 | median)" \
    "$(col $c replay.txt 2 | median)"
done
echo
for c in first incr push; do
  echo "$c, Tandem's requests (run 1): $(jq -r '[.[] | select(.path | startswith("/_fake") | not) | (if .batch then "(in a batch) " else "" end) + .method + " " + (.path | gsub("/events/[^/]+"; "/events/ID") | gsub("/calendars/[^/]+"; "/calendars/ID"))] | group_by(.) | map("\(length) x \(.[0])") | join(", ")' "$TMP/$c-1.requests.json")"
done
echo "replay connections (curl num_connects summed, run 1): first $(cut -d' ' -f3 "$TMP/first-1.replay.txt"), incr $(cut -d' ' -f3 "$TMP/incr-1.replay.txt"), push $(cut -d' ' -f3 "$TMP/push-1.replay.txt")"
