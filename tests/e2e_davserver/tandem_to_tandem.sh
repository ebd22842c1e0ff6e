#!/usr/bin/env bash
# tandem_to_tandem.sh TANDEMD TANDEM PEERS_DIR
# Tandem's own CalDAV provider paired with Tandem's CalDAV server: the demo user
# of one tandemd (A) pairs their CRM calendar with the demo user's calendar on
# another tandemd (B), found by discovery from B's root URL. The first sync brings
# each side's appointments to the other with nothing duplicated; a second run
# writes nothing; an edit on B reaches A. Both run the same demo data: the
# initialization must pair those equal appointments, not duplicate them.
set -euo pipefail
TANDEMD=$1; TANDEM=$2; PEERS=$3
E2E_NAME=davserver-tandem-to-tandem
source "$(dirname "$0")/lib.sh"

step "start tandemd B (the calendar server) and tandemd A (the CRM that pairs)"
start_tandemd "$TANDEMD"
B_BASE=$BASE; demo_id; B_CAL=$CAL_URL
A_PORT=$(free_port); A_BASE="http://127.0.0.1:$A_PORT"
"$TANDEMD" --demo --data-dir "$WORK/data-a" --listen "127.0.0.1:$A_PORT" --log-level info \
  >"$WORK/tandemd-a.log" 2>&1 &
PIDS+=($!)
FAIL_LOGS+=("$WORK/tandemd-a.log")
for _ in $(seq 1 200); do curl -sf "$A_BASE/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "$A_BASE/healthz" >/dev/null || fail "tandemd A did not answer"

count_b() { curl -sS -u demo:demo -X PROPFIND -H 'Depth: 1' "$B_CAL" | grep -o '<d:href>[^<]*\.ics</d:href>' | wc -l; }
[ "$(count_b)" -gt 0 ] || fail "B's demo calendar is empty"
START=$(date -u -d '+5 days 14:00' +%Y%m%dT%H%M%SZ); END=$(date -u -d '+5 days 15:00' +%Y%m%dT%H%M%SZ)
printf 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//e2e//b//EN\r\nBEGIN:VEVENT\r\nUID:only-on-b\r\nDTSTAMP:%s\r\nDTSTART:%s\r\nDTEND:%s\r\nSUMMARY:Only on B\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n' \
  "$START" "$START" "$END" > "$WORK/only-b.ics"
code=$(curl -sS -o /dev/null -w '%{http_code}' -u demo:demo -X PUT "${ICS[@]}" --data-binary @"$WORK/only-b.ics" "${B_CAL}only-on-b.ics")
[ "$code" = 201 ] || fail "PUT on B answered $code"
b_before=$(count_b)

printf 'demo\n' > "$WORK/pw"
"$TANDEM" login --server "$A_BASE" --user demo --password-file "$WORK/pw" >/dev/null || fail "CLI login on A failed"
a_count() { "$TANDEM" activities list --owner me --all --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))'; }
a_before=$(a_count)

step "A lists B's calendars from B's root URL, then pairs with it"
"$TANDEM" sync calendars --provider caldav --calendar "$B_BASE/" --user demo --password-file "$WORK/pw" \
  > "$WORK/calendars.out" || { cat "$WORK/calendars.out"; fail "sync calendars against B failed"; }
has "/appointments/" < "$WORK/calendars.out" || { cat "$WORK/calendars.out"; fail "B's appointments calendar was not listed"; }
"$TANDEM" sync pair add --provider caldav --calendar "$B_CAL" --user demo --password-file "$WORK/pw" \
  > "$WORK/add.out" || { cat "$WORK/add.out"; fail "sync pair add against B failed"; }
PAIR=$("$TANDEM" sync pair list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')

step "each side now holds both sides' appointments, once"
# The demo appointments are the same on both: paired, not copied. A gets B's own
# event; B gets A's one activity it has no equal for (the demo task: the calendar
# sync sends every kind as an event, B files it as an appointment).
"$TANDEM" activities list --owner me --all --json | has '"Only on B"' || fail "B's own event did not reach A"
a_after=$(a_count); b_after=$(count_b)
[ "$a_after" -eq $(( a_before + 1 )) ] || fail "A holds $a_after activities, expected $a_before + 1"
[ "$b_after" -eq $(( a_before + 1 )) ] || fail "B holds $b_after events, expected $(( a_before + 1 )) (was $b_before)"
"$TANDEM" sync now "$PAIR" --json > "$WORK/noop.json"
python3 - "$WORK/noop.json" <<'PY' || fail "a second run applied something"
import json,sys
r=json.load(open(sys.argv[1]))
assert not r["applied"] or all(v==0 for v in r["applied"].values()), r
PY

step "an edit made on B (through its CalDAV server) reaches A"
NAME=$(curl -sS -u demo:demo -X PROPFIND -H 'Depth: 1' "$B_CAL" | grep -o '<d:href>[^<]*\.ics</d:href>' | head -1 | sed -E 's#<d:href>(.*)</d:href>#\1#')
curl -sS -u demo:demo "$B_BASE$NAME" > "$WORK/b-item.ics"
ETAG=$(curl -sSI -u demo:demo "$B_BASE$NAME" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
SUBJECT=$(grep -m1 '^SUMMARY:' "$WORK/b-item.ics" | tr -d '\r' | cut -d: -f2-)
sed "s/^SUMMARY:.*/SUMMARY:${SUBJECT} (edited on B)\r/" "$WORK/b-item.ics" > "$WORK/b-edit.ics"
code=$(curl -sS -o /dev/null -w '%{http_code}' -u demo:demo -X PUT "${ICS[@]}" -H "If-Match: $ETAG" \
  --data-binary @"$WORK/b-edit.ics" "$B_BASE$NAME")
[ "$code" = 204 ] || fail "the edit PUT on B answered $code"
"$TANDEM" sync now "$PAIR" > /dev/null || fail "sync after the edit on B failed"
"$TANDEM" activities list --owner me --all --json | has "(edited on B)" || fail "the edit on B did not reach A"
[ "$(a_count)" -eq "$a_after" ] || fail "the edit changed A's number of activities"
echo "davserver tandem to tandem: passed"
