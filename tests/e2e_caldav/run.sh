#!/usr/bin/env bash
# run.sh TANDEMD TANDEM PEERS_DIR
# A user's view of calendar sync: tandemd with demo data, a Radicale calendar on
# 127.0.0.1, and the tandem CLI. Every step checks what the user would check;
# the server side is changed with plain HTTP (curl), never with Tandem's code.
set -euo pipefail
TANDEMD=$1; TANDEM=$2; PEERS=$3
E2E_NAME=e2e
source "$(dirname "$0")/common.sh"
FAIL_LOGS=("$WORK/tandemd.log")

DAV_PORT=$(free_port); API_PORT=$(free_port)
export HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/home/.config"; mkdir -p "$HOME"
step "start Radicale on 127.0.0.1:$DAV_PORT"
start_radicale "$PEERS" "$DAV_PORT"
CAL="http://127.0.0.1:$DAV_PORT/alice/crm/"
dav() { curl -sS -u alice:secret "$@"; }
count_events() {
  dav -X PROPFIND -H 'Depth: 1' "$CAL" | grep -o '<[^>]*href>[^<]*\.ics<' | wc -l
}

step "a meeting already on the external calendar before the first sync"
T1=$(date -u -d '+3 days 10:00' +%Y%m%dT%H%M%SZ); T1E=$(date -u -d '+3 days 11:00' +%Y%m%dT%H%M%SZ)
put_event() {  # UID SUMMARY START END [extra lines]
  printf 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//e2e//curl//EN\r\nBEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:%s\r\nDTSTART:%s\r\nDTEND:%s\r\nSUMMARY:%s\r\n%bEND:VEVENT\r\nEND:VCALENDAR\r\n' \
    "$1" "$(date -u +%Y%m%dT%H%M%SZ)" "$3" "$4" "$2" "${5:-}" > "$WORK/ev.ics"
  dav -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: text/calendar' --data-binary @"$WORK/ev.ics" "$CAL$1.ics"
}
code=$(put_event phone-1 "Site visit Harbour" "$T1" "$T1E" "LOCATION:Main Street 1\r\n")
[ "$code" = 201 ] || fail "PUT of the first event answered $code"

step "start tandemd with demo data on 127.0.0.1:$API_PORT"
"$TANDEMD" --demo --data-dir "$WORK/data" --listen "127.0.0.1:$API_PORT" --log-level info \
  >"$WORK/tandemd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$API_PORT/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$API_PORT/healthz" >/dev/null || fail "tandemd did not answer"

step "log in as the demo user"
printf 'demo\n' > "$WORK/pw"; printf 'secret\n' > "$WORK/calpw"
"$TANDEM" login --server "http://127.0.0.1:$API_PORT" --user demo --password-file "$WORK/pw" >/dev/null \
  || fail "login failed"
crm_before=$("$TANDEM" activities list --owner me --all --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
[ "$crm_before" -gt 0 ] || fail "the demo user has no activities"

step "the kinds of calendar on offer, and the calendars at the server (to choose one)"
"$TANDEM" sync providers > "$WORK/providers.out" || fail "sync providers failed"
grep -q '^caldav ' "$WORK/providers.out" || { cat "$WORK/providers.out"; fail "caldav is not offered"; }
grep -q '^vdir .*admins only' "$WORK/providers.out" || { cat "$WORK/providers.out"; fail "vdir is not said admin-only"; }
"$TANDEM" sync calendars --provider caldav --calendar "http://127.0.0.1:$DAV_PORT/" --user alice \
  --password-file "$WORK/calpw" > "$WORK/calendars.out" || { cat "$WORK/calendars.out"; fail "sync calendars failed"; }
grep -q "/alice/" "$WORK/calendars.out" || { cat "$WORK/calendars.out"; fail "the calendar was not listed"; }
printf 'wrong\n' > "$WORK/badpw"
if "$TANDEM" sync calendars --caldav "http://127.0.0.1:$DAV_PORT/" --user alice --password-file "$WORK/badpw" \
  > "$WORK/badcal.out" 2>&1; then fail "a wrong calendar password listed calendars"; fi
grep -qi "password" "$WORK/badcal.out" || { cat "$WORK/badcal.out"; fail "the refusal does not name the password"; }

step "pair the CRM calendar with the Radicale calendar (initialization)"
"$TANDEM" sync pair add --provider caldav --calendar "http://127.0.0.1:$DAV_PORT/" --user alice --password-file "$WORK/calpw" \
  > "$WORK/add.out" || { cat "$WORK/add.out"; fail "sync pair add failed"; }
cat "$WORK/add.out"
PAIR=$("$TANDEM" sync pair list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
grep -q secret "$WORK/data/tandem.db" && fail "the calendar password is readable in the database"
grep -q secret "$WORK/tandemd.log" && fail "the calendar password is in the log"

step "the external meeting is in the CRM, the CRM's appointments are on the calendar"
"$TANDEM" activities list --owner me --all --json > "$WORK/acts.json"
python3 - "$WORK/acts.json" <<'PY' || fail "the site visit did not arrive in the CRM with its location"
import json,sys
items=json.load(open(sys.argv[1]))["items"]
d=[a for a in items if a["subject"]=="Site visit Harbour"]
assert len(d)==1 and d[0]["location"]=="Main Street 1", d
PY
on_calendar=$(count_events)
[ "$on_calendar" -gt 1 ] || fail "no CRM appointment reached the calendar ($on_calendar events)"

step "a second run with no changes writes nothing"
"$TANDEM" sync now "$PAIR" --json > "$WORK/noop.json"
python3 - "$WORK/noop.json" <<'PY' || fail "a run without changes applied something"
import json,sys
r=json.load(open(sys.argv[1]))
assert not r["applied"] or all(v==0 for v in r["applied"].values()), r
PY

step "edit on the calendar (plain HTTP) -> CRM"
dav "$CAL/phone-1.ics" | sed 's/SUMMARY:Site visit Harbour/SUMMARY:Site visit Harbour (moved)/' > "$WORK/edit.ics"
ETAG=$(dav -sI "$CAL/phone-1.ics" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
code=$(dav -o /dev/null -w '%{http_code}' -X PUT -H "If-Match: $ETAG" -H 'Content-Type: text/calendar' --data-binary @"$WORK/edit.ics" "$CAL/phone-1.ics")
[ "$code" = 204 ] || [ "$code" = 201 ] || [ "$code" = 200 ] || fail "edit PUT answered $code"
"$TANDEM" sync now "$PAIR" > /dev/null || fail "sync after an external edit failed"
"$TANDEM" activities list --owner me --all --json | has 'Site visit Harbour (moved)' || fail "the external edit did not reach the CRM"

step "the run's own CRM write does not trigger another run"
runs() { python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM sync_runs WHERE dry_run=0").fetchone()[0])' "$WORK/data/tandem.db"; }
n_runs=$(runs)
sleep 5  # past the change feed's 3 s debounce
[ "$(runs)" = "$n_runs" ] || fail "the run's own CRM write triggered $(( $(runs) - n_runs )) more run(s)"

step "edit in the CRM -> calendar, pushed by the scheduler without 'sync now'"
ID=$("$TANDEM" activities list --owner me --all --json | python3 -c 'import json,sys; print([a["id"] for a in json.load(sys.stdin)["items"] if a["subject"]=="Site visit Harbour (moved)"][0])')
"$TANDEM" activities edit "$ID" --location "Harbour Road 9" >/dev/null || fail "CRM edit failed"
for _ in $(seq 1 100); do dav "$CAL/phone-1.ics" | has 'Harbour Road 9' && break; sleep 0.2; done
dav "$CAL/phone-1.ics" | has 'Harbour Road 9' || fail "the CRM edit was not pushed within 20 s"

step "delete on the calendar -> CRM activity goes to the trash, restore brings it back"
ETAG=$(dav -sI "$CAL/phone-1.ics" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
code=$(dav -o /dev/null -w '%{http_code}' -X DELETE -H "If-Match: $ETAG" "$CAL/phone-1.ics")
[ "$code" = 200 ] || [ "$code" = 204 ] || fail "DELETE answered $code"
"$TANDEM" sync now "$PAIR" > /dev/null || fail "sync after an external deletion failed"
"$TANDEM" activities list --owner me --all --json | has 'Site visit Harbour (moved)' && fail "the deleted event is still in the CRM"
TRASH=$("$TANDEM" trash list --json | python3 -c 'import json,sys; print([t["id"] for t in json.load(sys.stdin)["items"] if t["subject"].startswith("Site visit Harbour")][0])') \
  || fail "the deleted activity is not in the trash"
"$TANDEM" trash restore "$TRASH" > /dev/null || fail "restore failed"
"$TANDEM" sync now "$PAIR" > /dev/null || fail "sync after restore failed"
dav -X PROPFIND -H 'Depth: 1' "$CAL" > /dev/null
for f in $(dav -X PROPFIND -H 'Depth: 1' "$CAL" | grep -o '[^>/]*\.ics<' | tr -d '<'); do
  dav "$CAL$f" | has 'Site visit Harbour (moved)' && found=1
done
[ "${found:-0}" = 1 ] || fail "the restored activity is not back on the calendar"

step "the sync log says what happened to which record"
"$TANDEM" sync log "$PAIR" --limit 50 > "$WORK/log.txt"
grep -q 'trash' "$WORK/log.txt" || fail "the sync log has no trash entry"
grep -q 'update' "$WORK/log.txt" || fail "the sync log has no update entry"
grep -q 'subject: Site visit Harbour -> Site visit Harbour (moved)' "$WORK/log.txt" \
  || fail "the sync log does not show the external edit's before and after"
grep -q 'location: .* -> Harbour Road 9' "$WORK/log.txt" \
  || fail "the sync log does not show the CRM edit's before and after"

step "sync status"
"$TANDEM" sync status
echo "e2e calendar sync: all steps passed"
