#!/usr/bin/env bash
# fidelity.sh TANDEMD TANDEM PEERS_DIR
# Tricky real-world events through the CLI and a real Radicale calendar on
# 127.0.0.1, as a user meets them: multi-day events under the title rule, SEQUENCE
# and CREATED, a recurring series with an exception and a moved occurrence in the
# agenda and the REST list, floating times in the user's zone, cancelled and
# untitled events, rules the sync cannot use. The calendar side is read and
# written with plain HTTP (curl), never with Tandem's code.
set -euo pipefail
TANDEMD=$1; TANDEM=$2; PEERS=$3
E2E_NAME=fidelity
source "$(dirname "$0")/common.sh"
FAIL_LOGS=("$WORK/tandemd.log")
export TZ=UTC  # the CLI prints local times: keep them predictable

DAV_PORT=$(free_port); API_PORT=$(free_port)
API="http://127.0.0.1:$API_PORT"
export HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/home/.config"; mkdir -p "$HOME"
step "start Radicale on 127.0.0.1:$DAV_PORT"
start_radicale "$PEERS" "$DAV_PORT"
CAL="http://127.0.0.1:$DAV_PORT/alice/crm/"
dav() { curl -sS -u alice:secret "$@"; }
put() {  # NAME FILE
  local code
  code=$(dav -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: text/calendar' --data-binary @"$2" "$CAL$1.ics")
  [ "$code" = 201 ] || fail "PUT $1 answered $code"
}
ics() { dav "$CAL$1.ics" | tr -d '\r'; }

step "events on the calendar before the first sync (written by python, dates relative to today)"
python3 - "$WORK" <<'PY'
import datetime as dt, sys, os
w = sys.argv[1]
today = dt.datetime.now(dt.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
d = lambda n: (today + dt.timedelta(days=n))
D = lambda t: t.strftime('%Y%m%d')
Z = lambda t: t.strftime('%Y%m%dT%H%M%SZ')
stamp = Z(dt.datetime.now(dt.timezone.utc))
def cal(name, *vevents):
    body = ''.join('BEGIN:VEVENT\r\nDTSTAMP:%s\r\n%sEND:VEVENT\r\n' % (stamp, ''.join(l + '\r\n' for l in v)) for v in vevents)
    open(os.path.join(w, name + '.ics'), 'w', newline='').write(
        'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//e2e//python//EN\r\n' + body + 'END:VCALENDAR\r\n')
cal('fair', ['UID:fair', 'DTSTART;VALUE=DATE:' + D(d(10)), 'DTEND;VALUE=DATE:' + D(d(13)), 'SUMMARY:Trade fair'])
cal('workshop', ['UID:workshop', 'DTSTART:' + Z(d(20) + dt.timedelta(hours=9)),
                 'DTEND:' + Z(d(22) + dt.timedelta(hours=17)), 'SUMMARY:Workshop'])
cal('seq', ['UID:seq', 'SEQUENCE:4', 'CREATED:20200101T120000Z', 'DTSTART:' + Z(d(3) + dt.timedelta(hours=9)),
            'DTEND:' + Z(d(3) + dt.timedelta(hours=10)), 'SUMMARY:Call'])
cal('floating', ['UID:floating', 'DTSTART:' + D(d(5)) + 'T090000', 'DTEND:' + D(d(5)) + 'T100000', 'SUMMARY:Local'])
cal('cancelled', ['UID:cancelled', 'STATUS:CANCELLED', 'DTSTART:' + Z(d(6) + dt.timedelta(hours=9)),
                  'DTEND:' + Z(d(6) + dt.timedelta(hours=10)), 'SUMMARY:Called off'])
cal('untitled', ['UID:untitled', 'DTSTART:' + Z(d(7) + dt.timedelta(hours=9)), 'DTEND:' + Z(d(7) + dt.timedelta(hours=10))])
# Weekly since 30 days ago; the first occurrence 8+ days ahead is excluded, the
# first one from tomorrow on is moved by two hours and retitled.
start = d(-30) + dt.timedelta(hours=10)
occ = [start + dt.timedelta(weeks=k) for k in range(20)]
moved = next(t for t in occ if t >= d(1))
excluded = next(t for t in occ if t >= d(8))
cal('weekly', ['UID:weekly', 'DTSTART:' + Z(start), 'DTEND:' + Z(start + dt.timedelta(hours=1)),
               'RRULE:FREQ=WEEKLY;COUNT=20', 'EXDATE:' + Z(excluded), 'SUMMARY:Weekly review'],
    ['UID:weekly', 'RECURRENCE-ID:' + Z(moved), 'DTSTART:' + Z(moved + dt.timedelta(hours=2)),
     'DTEND:' + Z(moved + dt.timedelta(hours=3)), 'SUMMARY:Weekly review (moved)'])
want = [t for t in occ if d(0) <= t < d(21) and t != excluded]
with open(os.path.join(w, 'expect.txt'), 'w') as f:
    f.write('%s\n%s\n%s\n%s\n%s\n%s\n' % (D(d(0)), len(want), (moved + dt.timedelta(hours=2)).strftime('%Y-%m-%dT%H:%M:%SZ'),
            d(0).strftime('%Y-%m-%dT%H:%M:%SZ'), d(21).strftime('%Y-%m-%dT%H:%M:%SZ'),
            D(d(5))))
PY
for n in fair workshop seq floating cancelled untitled weekly; do put "$n" "$WORK/$n.ics"; done
{ read -r TODAY; read -r N_WEEKLY; read -r MOVED_AT; read -r FROM; read -r TO; read -r FLOAT_DAY; } < "$WORK/expect.txt"

step "start tandemd with demo data; the demo user sets their time zone"
"$TANDEMD" --demo --data-dir "$WORK/data" --listen "127.0.0.1:$API_PORT" --log-level info \
  >"$WORK/tandemd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do curl -sf "$API/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "$API/healthz" >/dev/null || fail "tandemd did not answer"
printf 'demo\n' > "$WORK/pw"; printf 'secret\n' > "$WORK/calpw"
"$TANDEM" login --server "$API" --user demo --password-file "$WORK/pw" >/dev/null || fail "login failed"
TOKEN=$(curl -sf -X POST -H 'Content-Type: application/json' -d '{"login":"demo","password":"demo"}' "$API/api/v1/login" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
rest() { curl -sS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
ME=$(rest "$API/api/v1/me" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j.get("id") or j["user"]["id"])')
rest -X PATCH -d '{"time_zone":"Europe/Berlin"}' "$API/api/v1/users/$ME" | has '"time_zone":"Europe/Berlin"' \
  || fail "the demo user could not set their time zone"

step "pair with the multi-day rule (start-with-end-in-title)"
"$TANDEM" sync pair add --caldav "http://127.0.0.1:$DAV_PORT/" --user alice --password-file "$WORK/calpw" \
  --multi-day start-with-end-in-title > "$WORK/add.out" || { cat "$WORK/add.out"; fail "sync pair add failed"; }
PAIR=$("$TANDEM" sync pair list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
acts() { "$TANDEM" activities list --owner me --all --json > "$WORK/acts.json"; }
id_of() {  # python expression on a (the activity) that selects it
  python3 -c "import json,sys; m=[a for a in json.load(open('$WORK/acts.json'))['items'] if $1]; assert len(m)==1, m; print(m[0]['id'])"
}
acts

step "what arrived in the CRM: titles with the end date, floating times in Berlin, cancelled, untitled, SEQUENCE"
python3 - "$WORK/acts.json" "$FLOAT_DAY" <<'PY' || fail "the imported activities are not as expected"
import json, sys, datetime as dt, zoneinfo
items = {a['subject']: a for a in json.load(open(sys.argv[1]))['items']}
assert any(s.startswith('Trade fair (until ') for s in items), list(items)
assert any(s.startswith('Workshop (until ') for s in items), list(items)
local = dt.datetime.strptime(sys.argv[2] + '0900', '%Y%m%d%H%M').replace(tzinfo=zoneinfo.ZoneInfo('Europe/Berlin'))
want = local.astimezone(dt.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
assert items['Local']['start'] == want, (items['Local']['start'], want)
assert items['Called off']['cancelled'] is True, items['Called off']
assert '' in items, 'the untitled event is missing'
assert items['Call']['sequence'] == 4, items['Call']
PY

step "the user edits in the CRM, then syncs"
FAIR=$(id_of "a['subject'].startswith('Trade fair (until')")
FAIR_TITLE=$(python3 -c "import json; print([a['subject'] for a in json.load(open('$WORK/acts.json'))['items'] if a['id']=='$FAIR'][0].replace('Trade fair', 'Trade fair Berlin'))")
"$TANDEM" activities edit "$FAIR" --subject "$FAIR_TITLE" >/dev/null  # keeps the suffix
"$TANDEM" activities edit "$(id_of "a['subject'].startswith('Workshop (until')")" --subject "Workshop B" >/dev/null
"$TANDEM" activities edit "$(id_of "a['subject']=='Call'")" --subject "Call, renamed" >/dev/null
"$TANDEM" activities edit "$(id_of "a['subject']=='Local'")" --subject "Local, edited" >/dev/null
"$TANDEM" activities edit "$(id_of "a['subject']==''")" --location "Room 2" >/dev/null
"$TANDEM" sync now "$PAIR" > "$WORK/sync1.out" || { cat "$WORK/sync1.out"; fail "sync now failed"; }

step "the calendar keeps real ends, own titles, SEQUENCE, CREATED, floating times, no invented title"
ics fair | has "^DTEND;VALUE=DATE:$(python3 -c "import datetime as d; print((d.datetime.strptime('$TODAY','%Y%m%d')+d.timedelta(days=13)).strftime('%Y%m%d'))")$" \
  || { ics fair; fail "the three-day event was shortened"; }
ics fair | has '^SUMMARY:Trade fair Berlin$' || { ics fair; fail "the title suffix went to the calendar"; }
python3 - "$(ics workshop)" "$TODAY" <<'PY' || fail "the timed multi-day event lost its end or kept the suffix"
import sys, datetime as dt
text, today = sys.argv[1], dt.datetime.strptime(sys.argv[2], '%Y%m%d')
want = (today + dt.timedelta(days=22, hours=17)).strftime('%Y%m%dT%H%M%SZ')
assert 'DTEND:' + want in text, text
assert 'SUMMARY:Workshop B' in text and '(until' not in text, text
PY
ics seq | has '^SEQUENCE:4$' || { ics seq; fail "SEQUENCE was not kept"; }
ics seq | has '^CREATED:20200101T120000Z$' || { ics seq; fail "CREATED was replaced"; }
ics floating | has "^DTSTART:${FLOAT_DAY}T090000$" || { ics floating; fail "the floating time was not written back floating"; }
ics untitled | has '^LOCATION:Room 2$' || { ics untitled; fail "the edit of the untitled event did not arrive"; }
if ics untitled | has '^SUMMARY'; then ics untitled; fail "a title was invented for the untitled event"; fi

step "a new start raises SEQUENCE"
"$TANDEM" activities edit "$(id_of "a['subject']=='Call'")" \
  --start "$(python3 -c "import datetime as d; print((d.datetime.strptime('$TODAY','%Y%m%d')+d.timedelta(days=4)).strftime('%Y-%m-%d 11:00'))")" >/dev/null
"$TANDEM" sync now "$PAIR" > /dev/null || fail "sync now failed"
ics seq | has '^SEQUENCE:5$' || { ics seq; fail "SEQUENCE did not grow with the new start"; }

step "the agenda lists every occurrence of the series in the range, with the exception and the moved one"
"$TANDEM" agenda --from "$(python3 -c "import datetime as d; print(d.datetime.strptime('$TODAY','%Y%m%d').strftime('%Y-%m-%d'))")" --days 21 > "$WORK/agenda.txt"
cat "$WORK/agenda.txt"
[ "$(grep -c 'Weekly review' "$WORK/agenda.txt")" = "$N_WEEKLY" ] || fail "the agenda does not show the $N_WEEKLY occurrences"
grep 'Weekly review (moved)' "$WORK/agenda.txt" | has "$(echo "$MOVED_AT" | cut -c12-16)" || fail "the moved occurrence is not at its new time"
grep 'Called off' "$WORK/agenda.txt" | has '\[cancelled\]' || fail "the cancelled event is not marked"
grep -q '(untitled)' "$WORK/agenda.txt" || fail "the untitled event is not shown as (untitled)"

step "the REST list expands the series too; after the series' end it is not listed"
rest "$API/api/v1/activities?owner=me&limit=1000&from=$FROM&to=$TO" > "$WORK/range.json"
python3 - "$WORK/range.json" "$N_WEEKLY" "$MOVED_AT" <<'PY' || fail "GET /api/v1/activities?from=&to= does not list the occurrences"
import json, sys
items = [a for a in json.load(open(sys.argv[1]))['items'] if a['subject'].startswith('Weekly review')]
assert len(items) == int(sys.argv[2]), [a['start'] for a in items]
assert all('occurrence' in a for a in items), items
moved = [a for a in items if a['occurrence']['overridden']]
assert len(moved) == 1 and moved[0]['start'] == sys.argv[3] and moved[0]['subject'] == 'Weekly review (moved)', moved
PY
LATE_FROM=$(python3 -c "import datetime as d; print((d.datetime.utcnow()+d.timedelta(days=200)).strftime('%Y-%m-%dT00:00:00Z'))")
LATE_TO=$(python3 -c "import datetime as d; print((d.datetime.utcnow()+d.timedelta(days=230)).strftime('%Y-%m-%dT00:00:00Z'))")
rest "$API/api/v1/activities?owner=me&from=$LATE_FROM&to=$LATE_TO" | has 'Weekly review' \
  && fail "the series is listed after its last occurrence"

step "rules and zones the sync cannot use are refused with a 400 naming the field"
for case in 'rrule|"rrule":"garbage"' 'time_zone|"time_zone":"Mars/Olympus"'; do
  field=${case%%|*}; extra=${case#*|}
  code=$(rest -o "$WORK/bad.json" -w '%{http_code}' -X POST \
    -d "{\"subject\":\"x\",\"start\":\"$FROM\",\"end\":\"$FROM\",$extra}" "$API/api/v1/activities")
  [ "$code" = 400 ] || fail "$extra was answered $code"
  grep -q "\"field\":\"$field\"" "$WORK/bad.json" || { cat "$WORK/bad.json"; fail "the 400 does not name $field"; }
done
echo "OK: iCalendar fidelity end to end"
