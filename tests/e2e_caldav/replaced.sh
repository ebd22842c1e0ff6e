#!/usr/bin/env bash
# replaced.sh TANDEMD TANDEM PEERS_DIR
# A replaced and an emptied calendar, as a user meets them (issue: sync safety),
# on Xandikos, which refuses custom properties: the calendar's identity is its
# URL alone, so only the listing can tell a new calendar from mass deletion.
#  1. 30 events on the calendar and the demo user's appointments are paired.
#  2. The calendar is deleted and created again at the same URL (DELETE +
#     MKCALENDAR, plain HTTP) and one new event is put on it: `tandem sync now`
#     refuses (exit 4), names `tandem sync pair init PAIR` and never suggests
#     --force; not one CRM activity goes to the trash; `sync status` shows it.
#  3. `tandem sync pair init PAIR` pairs afresh: every CRM appointment is on the
#     new calendar, the new event is in the CRM, nothing duplicated.
#  4. Every event is deleted on the calendar: the run refuses (exit 4), nothing
#     trashed; `sync now --force` then trashes them, as the user meant it.
set -euo pipefail
TANDEMD=$1; TANDEM=$2; PEERS=$3
E2E_NAME=replaced
source "$(dirname "$0")/common.sh"
FAIL_LOGS=("$WORK/tandemd.log")
DAV_PORT=$(free_port); API_PORT=$(free_port)
export HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/home/.config"; mkdir -p "$HOME"

step "start Xandikos on 127.0.0.1:$DAV_PORT"
pid=$(bash "$PEERS/start-xandikos.sh" "$DAV_PORT" "$WORK/xandikos" alice crm 2>"$WORK/xandikos-start.log") \
  || { cat "$WORK/xandikos-start.log"; fail "xandikos did not start"; }
PIDS+=("$pid")
CAL="http://127.0.0.1:$DAV_PORT/alice/calendars/crm/"
dav() { curl -sS -u alice:secret "$@"; }
hrefs() { dav -X PROPFIND -H 'Depth: 1' "$CAL" | grep -o '<[^>]*href>[^<]*\.ics<' | sed 's/<[^>]*>//; s/<$//'; }
count_events() { hrefs | wc -l; }
put_event() {  # UID SUMMARY DAY HOUR
  local s e
  s=$(date -u -d "+$3 days $4:00" +%Y%m%dT%H%M%SZ); e=$(date -u -d "+$3 days $4:30" +%Y%m%dT%H%M%SZ)
  printf 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//e2e//curl//EN\r\nBEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:%s\r\nDTEND:%s\r\nSUMMARY:%s\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n' \
    "$1" "$s" "$e" "$2" | dav -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: text/calendar' \
      --data-binary @- "$CAL$1.ics"
}
for i in $(seq 1 30); do
  code=$(put_event "visit-$i" "Customer visit $i" $((1 + i % 20)) $((8 + i % 9)))
  [ "$code" = 201 ] || fail "PUT of event $i answered $code"
done

step "start tandemd with demo data, pair the CRM calendar with the Xandikos calendar"
"$TANDEMD" --demo --data-dir "$WORK/data" --listen "127.0.0.1:$API_PORT" --log-level info \
  >"$WORK/tandemd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$API_PORT/healthz" >/dev/null && break; sleep 0.1; done
printf 'demo\n' > "$WORK/pw"; printf 'secret\n' > "$WORK/calpw"
"$TANDEM" login --server "http://127.0.0.1:$API_PORT" --user demo --password-file "$WORK/pw" >/dev/null \
  || fail "login failed"
"$TANDEM" sync pair add --caldav "$CAL" --user alice --password-file "$WORK/calpw" >"$WORK/add.out" \
  || { cat "$WORK/add.out"; fail "sync pair add failed"; }
PAIR=$("$TANDEM" sync pair list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
crm_count() {  # activities of the demo user that are not in the trash
  "$TANDEM" activities list --owner me --all --json \
    | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))'
}
trashed() { "$TANDEM" trash list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))'; }
paired=$(crm_count)
[ "$paired" -ge 38 ] || fail "expected the 30 events and the demo appointments in the CRM, got $paired"
[ "$(count_events)" = "$paired" ] || fail "calendar holds $(count_events) events, CRM $paired"
"$TANDEM" sync now "$PAIR" >/dev/null || fail "a quiet run failed"
echo "paired: $paired"

step "the calendar is deleted and created again at the same URL, one new event on it"
code=$(dav -o /dev/null -w '%{http_code}' -X DELETE "$CAL")
[ "$code" = 204 ] || [ "$code" = 200 ] || fail "DELETE of the calendar answered $code"
code=$(dav -o /dev/null -w '%{http_code}' -X MKCALENDAR "$CAL")
[ "$code" = 201 ] || fail "MKCALENDAR answered $code"
[ "$(put_event fresh-1 "New calendar's first meeting" 4 15)" = 201 ] || fail "PUT on the new calendar failed"

step "the next run refuses, names 'tandem sync pair init', trashes nothing"
rc=0; "$TANDEM" sync now "$PAIR" >"$WORK/replaced.out" 2>&1 || rc=$?
cat "$WORK/replaced.out"
[ "$rc" = 4 ] || fail "sync now after a replaced calendar: exit $rc, expected 4 (refused)"
grep -q "tandem sync pair init $PAIR" "$WORK/replaced.out" || fail "the message does not name 'tandem sync pair init $PAIR'"
grep -q -- "--force" "$WORK/replaced.out" && fail "the message suggests --force, which would trash every appointment"
[ "$(crm_count)" = "$paired" ] || fail "CRM activities went from $paired to $(crm_count)"
[ "$(trashed)" = 0 ] || fail "$(trashed) activities went to the trash"
"$TANDEM" sync status --json > "$WORK/status.json"
python3 - "$WORK/status.json" "$PAIR" <<'PY' || fail "sync status does not show the refusal"
import json,sys
s=json.load(open(sys.argv[1])); pair=sys.argv[2]
p=[x for x in s["items"] if x["id"]==pair][0]
assert p["last_outcome"] != "ok", p
assert "re-initialize" in json.dumps(p), p
PY

step "tandem sync pair init pairs afresh: every appointment on the new calendar, the new event in the CRM"
"$TANDEM" sync pair init "$PAIR" >"$WORK/init.out" || { cat "$WORK/init.out"; fail "pair init failed"; }
head -1 "$WORK/init.out"
after=$(crm_count)
[ "$after" = $((paired + 1)) ] || fail "CRM holds $after activities, expected $((paired + 1))"
[ "$(count_events)" = "$after" ] || fail "the new calendar holds $(count_events) events, the CRM $after"
[ "$(hrefs | sort | uniq -d | wc -l)" = 0 ] || fail "duplicate events on the calendar"
"$TANDEM" activities list --owner me --all --json | has "New calendar's first meeting" \
  || fail "the new calendar's event did not reach the CRM"
"$TANDEM" sync now "$PAIR" --json | python3 -c '
import json,sys; r=json.load(sys.stdin)
assert not r.get("refusal") and all(v==0 for v in r.get("applied",{}).values()), r' \
  || fail "the run after init was not quiet"

step "every event deleted on the calendar: refused, nothing trashed; --force applies it"
for h in $(hrefs); do dav -o /dev/null -X DELETE "http://127.0.0.1:$DAV_PORT$h"; done
[ "$(count_events)" = 0 ] || fail "the calendar was not emptied"
rc=0; "$TANDEM" sync now "$PAIR" >"$WORK/emptied.out" 2>&1 || rc=$?
cat "$WORK/emptied.out"
[ "$rc" = 4 ] || fail "sync now after an emptied calendar: exit $rc, expected 4"
grep -q -- "--force" "$WORK/emptied.out" || fail "the message does not say how to go ahead (--force)"
[ "$(crm_count)" = "$after" ] || fail "CRM activities went from $after to $(crm_count)"
"$TANDEM" sync now "$PAIR" --force >"$WORK/forced.out" || { cat "$WORK/forced.out"; fail "sync now --force failed"; }
head -2 "$WORK/forced.out"
[ "$(crm_count)" = 0 ] || fail "after --force $(crm_count) activities are left"
[ "$(trashed)" = "$after" ] || fail "the trash holds $(trashed), expected $after"
echo "e2e replaced and emptied calendar: all steps passed"
