#!/usr/bin/env bash
# through_sync.sh TANDEMD TANDEM PEERS_DIR
# A phone writes through Tandem's CalDAV server, the user's paired Radicale
# calendar gets it through the calendar sync (pushed by the scheduler, no
# "sync now"); an edit made on Radicale reaches the phone's view through the CRM.
# Both directions with plain HTTP (curl) on both servers, never Tandem's code.
set -euo pipefail
TANDEMD=$1; TANDEM=$2; PEERS=$3
E2E_NAME=davserver-through-sync
source "$(dirname "$0")/lib.sh"

RAD_PORT=$(free_port)
step "start Radicale on 127.0.0.1:$RAD_PORT and tandemd --demo"
start_radicale "$PEERS" "$RAD_PORT"
RCAL="http://127.0.0.1:$RAD_PORT/alice/crm/"
rad() { curl -sS -u alice:secret "$@"; }
start_tandemd "$TANDEMD"
demo_id
printf 'demo\n' > "$WORK/pw"; printf 'secret\n' > "$WORK/calpw"
"$TANDEM" login --server "$BASE" --user demo --password-file "$WORK/pw" >/dev/null || fail "CLI login failed"

step "pair the demo user's CRM calendar with Radicale"
"$TANDEM" sync pair add --provider caldav --calendar "http://127.0.0.1:$RAD_PORT/" --user alice \
  --password-file "$WORK/calpw" > "$WORK/add.out" || { cat "$WORK/add.out"; fail "sync pair add failed"; }

# on_radicale PATTERN: some event of the Radicale calendar contains PATTERN.
on_radicale() {
  local f
  for f in $(rad -X PROPFIND -H 'Depth: 1' "$RCAL" | grep -o '[^>/]*\.ics<' | tr -d '<'); do
    rad "$RCAL$f" | has "$1" && { echo "$f"; return 0; }
  done
  return 1
}

step "a phone creates an event through Tandem's CalDAV server"
START=$(date -u -d '+4 days 09:00' +%Y%m%dT%H%M%SZ); END=$(date -u -d '+4 days 10:00' +%Y%m%dT%H%M%SZ)
printf 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//e2e//phone//EN\r\nBEGIN:VEVENT\r\nUID:phone-made-42\r\nDTSTAMP:%s\r\nDTSTART:%s\r\nDTEND:%s\r\nSUMMARY:Made on the phone\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n' \
  "$START" "$START" "$END" > "$WORK/phone.ics"
code=$(curl -sS -o /dev/null -w '%{http_code}' -u demo:demo -X PUT "${ICS[@]}" -H 'If-None-Match: *' \
  --data-binary @"$WORK/phone.ics" "${CAL_URL}phone-made-42.ics")
[ "$code" = 201 ] || fail "PUT through Tandem's CalDAV server answered $code"

step "the calendar sync pushes it to Radicale by itself"
for _ in $(seq 1 150); do on_radicale 'Made on the phone' >/dev/null && break; sleep 0.2; done
FILE=$(on_radicale 'Made on the phone') || fail "the phone's event did not reach Radicale within 30 s"
rad "$RCAL$FILE" | has 'UID:phone-made-42' || fail "Radicale's copy does not keep the phone's UID"

step "an edit on Radicale reaches the phone's view through the CRM"
ETAG=$(rad -sI "$RCAL$FILE" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
rad "$RCAL$FILE" | sed 's/SUMMARY:Made on the phone/SUMMARY:Made on the phone (moved on the web)/' > "$WORK/edit.ics"
code=$(rad -o /dev/null -w '%{http_code}' -X PUT -H "If-Match: $ETAG" -H 'Content-Type: text/calendar' \
  --data-binary @"$WORK/edit.ics" "$RCAL$FILE")
[ "$code" = 204 ] || [ "$code" = 201 ] || fail "the edit PUT on Radicale answered $code"
PAIR=$("$TANDEM" sync pair list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
"$TANDEM" sync now "$PAIR" > /dev/null || fail "sync after the Radicale edit failed"
curl -sS -u demo:demo "${CAL_URL}phone-made-42.ics" | has 'moved on the web' \
  || fail "the Radicale edit is not at the phone's resource"

step "a deletion on the phone leaves Radicale too (after the sync)"
PETAG=$(curl -sSI -u demo:demo "${CAL_URL}phone-made-42.ics" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
code=$(curl -sS -o /dev/null -w '%{http_code}' -u demo:demo -X DELETE -H "If-Match: $PETAG" "${CAL_URL}phone-made-42.ics")
[ "$code" = 204 ] || fail "DELETE through Tandem's CalDAV server answered $code"
"$TANDEM" sync now "$PAIR" > /dev/null || fail "sync after the phone's deletion failed"
on_radicale 'Made on the phone' >/dev/null && fail "the event deleted on the phone is still on Radicale"
echo "davserver through the calendar sync: passed"
