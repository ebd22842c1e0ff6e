#!/usr/bin/env bash
# run.sh TANDEMD TANDEM FAKE_DIR
# Outlook end to end, as a user runs it: tandemd (its [microsoft] endpoints
# pointed at the local fake of Microsoft Graph and its sign-in, tests/fakes/graph)
# and the tandem CLI. `tandem sync pair add --outlook` prints a code; the "user"
# approves it on the fake's side; the pair initializes both ways; edits and
# deletions both ways, a series with a moved and a cancelled occurrence, an
# expired delta link, a revoked grant and `sync pair reauth`; then a shared
# mailbox through application access with the server job on and nobody signed in.
set -euo pipefail
TANDEMD=$1; TANDEM=$2; FAKE_DIR=$3
E2E_NAME=outlook
source "$(dirname "$0")/../e2e_caldav/common.sh"
FAIL_LOGS=("$WORK/tandemd.log" "$WORK/fake.log" "$WORK/add.out")
export HOME="$WORK/home"; mkdir -p "$HOME"

step "start the Graph fake and tandemd --demo pointed at it"
python3 "$FAKE_DIR/fake_graph.py" --port 0 --device-interval 1 >"$WORK/fake.out" 2>"$WORK/fake.log" &
PIDS+=($!)
for _ in $(seq 1 100); do grep -q '^READY ' "$WORK/fake.out" 2>/dev/null && break; sleep 0.1; done
G=$(sed -nE 's/^READY ([0-9]+)$/\1/p' "$WORK/fake.out")
[ -n "$G" ] || fail "the fake did not start"
GB="http://127.0.0.1:$G"
API_PORT=$(free_port)
printf 'tandem-app-secret\n' > "$WORK/app-secret"; chmod 600 "$WORK/app-secret"
printf 'admin-pass-1\n' > "$WORK/admin-pw"
cat >"$WORK/tandemd.toml" <<TOML
[admin]
login = "admin"
password = "admin-pass-1"
[sync]
server_job = true
interval_minutes = 1
[microsoft]
client_id = "tandem-test-client"
tenant = "common"
login_base = "$GB"
api_base = "$GB/v1.0"
app_client_id = "tandem-app"
app_tenant = "example.test"
app_secret_file = "$WORK/app-secret"
TOML
"$TANDEMD" --demo --config "$WORK/tandemd.toml" --data-dir "$WORK/data" \
  --listen "127.0.0.1:$API_PORT" >"$WORK/tandemd.log" 2>&1 &
TANDEMD_PID=$!
PIDS+=($TANDEMD_PID)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$API_PORT/healthz" >/dev/null && break; sleep 0.1; done
printf 'demo\n' > "$WORK/pw"
"$TANDEM" login --server "http://127.0.0.1:$API_PORT" --user demo --password-file "$WORK/pw" >/dev/null \
  || fail "login failed"
"$TANDEM" sync providers | has '^outlook .*oauth' || fail "outlook is not offered"
"$TANDEM" sync providers | has '^outlook-app' || fail "outlook-app is not offered"

fake() {  # POST /_fake/NAME [JSON]
  curl -s -X POST -H 'Content-Type: application/json' -d "${2:-{\}}" "$GB/_fake/$1"
}
gapi() {  # METHOD PATH [JSON] [USER]: a user's own edits in Outlook
  local token
  token=$(fake token "{\"user\":\"${4:-user@example.test}\"}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s -X "$1" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    ${3:+-d "$3"} "$GB/v1.0$2"
}
view_count() {  # MAILBOX: occurrences and events in the next 30 days
  gapi GET "/users/$1/calendarView?startDateTime=$(date -u +%FT00:00:00Z)&endDateTime=$(date -u -d '+30 days' +%FT00:00:00Z)&\$top=1000" "" "$1" \
    | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["value"]))'
}
crm_count() {
  "$TANDEM" activities list --owner me --all --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))'
}
# signin CMD...: runs CMD in the background; once it prints its code, the user
# approves it on Microsoft's page (the fake's approve_device).
signin() {
  "$@" >"$WORK/add.out" 2>&1 & local cli=$!
  local code=""
  for _ in $(seq 1 100); do
    code=$(sed -nE 's/^ *code: ([A-Z0-9-]+)$/\1/p' "$WORK/add.out" | head -1 || true)
    [ -n "$code" ] && break; sleep 0.1
  done
  [ -n "$code" ] || { kill $cli 2>/dev/null; cat "$WORK/add.out"; fail "no device code printed"; }
  fake approve_device "{\"user_code\":\"$code\"}" >/dev/null
  wait $cli || { cat "$WORK/add.out"; fail "'$*' failed"; }
  grep -q "Signed in" "$WORK/add.out" || fail "the CLI did not say it was signed in"
}
tomorrow() { date -u -d "tomorrow $1" +%FT%T; }

step "a meeting and a weekly series already in Outlook (one occurrence moved, one cancelled)"
gapi POST /me/calendar/events '{"subject":"Kickoff at Globex","start":{"dateTime":"'"$(tomorrow 09:00)"'","timeZone":"UTC"},"end":{"dateTime":"'"$(tomorrow 10:00)"'","timeZone":"UTC"},"location":{"displayName":"Globex HQ"},"showAs":"tentative","isReminderOn":true,"reminderMinutesBeforeStart":30}' >/dev/null
gapi POST /me/calendar/events '{"subject":"Team offsite","isAllDay":true,"start":{"dateTime":"'"$(date -u -d '+3 days' +%F)"'T00:00:00","timeZone":"UTC"},"end":{"dateTime":"'"$(date -u -d '+5 days' +%F)"'T00:00:00","timeZone":"UTC"},"showAs":"oof"}' >/dev/null
gapi POST /me/calendar/events '{"subject":"Private dentist","sensitivity":"private","start":{"dateTime":"'"$(tomorrow 15:00)"'","timeZone":"UTC"},"end":{"dateTime":"'"$(tomorrow 16:00)"'","timeZone":"UTC"}}' >/dev/null
SERIES=$(gapi POST /me/calendar/events '{"subject":"Weekly pipeline","start":{"dateTime":"'"$(tomorrow 08:00)"'","timeZone":"W. Europe Standard Time"},"end":{"dateTime":"'"$(tomorrow 08:30)"'","timeZone":"W. Europe Standard Time"},"recurrence":{"pattern":{"type":"daily","interval":7},"range":{"type":"numbered","numberOfOccurrences":4,"startDate":"'"$(date -u -d tomorrow +%F)"'"}}}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
OCC=$(gapi GET "/me/events/$SERIES/instances?startDateTime=$(date -u +%FT00:00:00Z)&endDateTime=$(date -u -d '+40 days' +%FT00:00:00Z)" \
  | python3 -c 'import json,sys; v=json.load(sys.stdin)["value"]; print(v[1]["id"], v[2]["id"])')
read -r MOVED CANCELLED <<<"$OCC"
gapi PATCH "/me/events/$MOVED" '{"subject":"Weekly pipeline (moved)"}' >/dev/null
gapi DELETE "/me/events/$CANCELLED" >/dev/null
crm_before=$(crm_count)

step "tandem sync pair add --outlook --skip-private: a code, the sign-in, pair, initialize"
signin "$TANDEM" sync pair add --outlook --skip-private
cat "$WORK/add.out"
grep -q "Pairing with" "$WORK/add.out" || fail "the calendar chosen was not named"
PAIR=$("$TANDEM" sync pair list --json | python3 -c 'import json,sys; print([p["id"] for p in json.load(sys.stdin)["items"] if p["provider"]=="outlook"][0])')
grep -qi "refresh_token\|tandem-app-secret" "$WORK/tandemd.log" && fail "a secret or token is in the log"
list=$("$TANDEM" activities list --owner me --all --json)
echo "$list" | has '"Kickoff at Globex"' || fail "the Outlook meeting did not reach the CRM"
echo "$list" | has '"Team offsite"' || fail "the all-day event did not reach the CRM"
echo "$list" | has 'Private dentist' && fail "a private event was synced although skipped"
echo "$list" | python3 -c '
import json,sys
items=json.load(sys.stdin)["items"]
k=[a for a in items if a["subject"]=="Kickoff at Globex"][0]
assert k.get("show_as")=="tentative", k
assert k.get("reminder_minutes")==30, k
o=[a for a in items if a["subject"]=="Team offsite"][0]
assert o.get("all_day") is True and o.get("show_as")=="out_of_office", o
s=[a for a in items if a["subject"]=="Weekly pipeline"][0]
assert s.get("rrule") and len(s.get("exdates",[]))==1, s
' || fail "fields did not survive: $(echo "$list" | head -c 2000)"

step "an edit in Outlook reaches the CRM; a CRM edit and deletion reach Outlook"
KICK=$(gapi GET "/me/calendar/events?\$top=100" | python3 -c 'import json,sys; print([e["id"] for e in json.load(sys.stdin)["value"] if e["subject"]=="Kickoff at Globex"][0])')
gapi PATCH "/me/events/$KICK" '{"subject":"Kickoff at Globex (room 2)"}' >/dev/null
"$TANDEM" sync now "$PAIR" >/dev/null || fail "sync now failed"
"$TANDEM" activities list --owner me --all --json | has 'room 2' || fail "the Outlook edit did not arrive"
VICTIM=$("$TANDEM" activities list --owner me --all --json | python3 -c '
import json,sys
print([a["id"] for a in json.load(sys.stdin)["items"] if a["subject"]=="Team offsite"][0])')
"$TANDEM" activities delete "$VICTIM" >/dev/null || fail "delete failed"
"$TANDEM" sync now "$PAIR" >/dev/null || fail "sync now after the deletion failed"
gapi GET "/me/calendar/events?\$top=100" | has 'Team offsite' && fail "the CRM deletion did not reach Outlook"

step "an expired delta link: a new round, no duplicate"
fake expire_delta_tokens >/dev/null
c_before=$(crm_count); o_before=$(view_count user@example.test)
"$TANDEM" sync now "$PAIR" >/dev/null || fail "sync now after the 410 failed"
[ "$(crm_count)" = "$c_before" ] && [ "$(view_count user@example.test)" = "$o_before" ] \
  || fail "the 410 recovery changed the counts"

step "a revoked grant: a clear status, nothing deleted, then reauth"
fake revoke_refresh_tokens >/dev/null; fake expire_access_tokens >/dev/null
rc=0; "$TANDEM" sync now "$PAIR" >"$WORK/revoked.out" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "a run with a revoked grant succeeded"
grep -q "re-authorization" "$WORK/revoked.out" || { cat "$WORK/revoked.out"; fail "no re-authorization named"; }
"$TANDEM" sync status | has "NEEDS RE-AUTHORIZATION" || fail "sync status does not say what to do"
[ "$(crm_count)" = "$c_before" ] || fail "the CRM lost activities"
signin "$TANDEM" sync pair reauth "$PAIR"
"$TANDEM" sync now "$PAIR" >/dev/null || fail "sync now after reauth failed"

step "application access: a shared mailbox, the server job on, nobody signed in"
gapi POST /users/shared@example.test/calendar/events '{"subject":"Fleet inspection","start":{"dateTime":"'"$(tomorrow 11:00)"'","timeZone":"UTC"},"end":{"dateTime":"'"$(tomorrow 12:00)"'","timeZone":"UTC"}}' shared@example.test >/dev/null
# Only an admin may reach other mailboxes through the application.
"$TANDEM" sync pair add --provider outlook-app --mailbox shared@example.test >"$WORK/app.out" 2>&1 \
  && fail "a user who is not an admin paired through the application"
grep -q "admin" "$WORK/app.out" || { cat "$WORK/app.out"; fail "the refusal does not say why"; }
"$TANDEM" logout >/dev/null 2>&1 || true
"$TANDEM" login --server "http://127.0.0.1:$API_PORT" --user admin --password-file "$WORK/admin-pw" >/dev/null \
  || fail "admin login failed"
"$TANDEM" sync pair add --provider outlook-app --mailbox shared@example.test >"$WORK/app.out" 2>&1 \
  || { cat "$WORK/app.out"; fail "pairing the shared mailbox failed"; }
APP=$("$TANDEM" sync pair list --json | python3 -c 'import json,sys; print([p["id"] for p in json.load(sys.stdin)["items"] if p["provider"]=="outlook-app"][0])')
"$TANDEM" activities list --owner me --all --json | has 'Fleet inspection' || fail "the shared mailbox's event did not arrive"
"$TANDEM" logout >/dev/null 2>&1 || true
gapi POST /users/shared@example.test/calendar/events '{"subject":"Fleet follow-up","start":{"dateTime":"'"$(tomorrow 13:00)"'","timeZone":"UTC"},"end":{"dateTime":"'"$(tomorrow 14:00)"'","timeZone":"UTC"}}' shared@example.test >/dev/null
# The server job's next round (interval 1 minute) brings it with nobody signed in.
for _ in $(seq 1 90); do grep -q "Fleet follow-up\|sync pair $APP: .*1 create" "$WORK/tandemd.log" && break; sleep 1; done
"$TANDEM" login --server "http://127.0.0.1:$API_PORT" --user admin --password-file "$WORK/admin-pw" >/dev/null
"$TANDEM" activities list --owner me --all --json | has 'Fleet follow-up' \
  || fail "the server job did not sync the shared mailbox with nobody signed in"
echo "outlook: all checks passed"
