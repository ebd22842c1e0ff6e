#!/usr/bin/env bash
# run.sh TANDEMD TANDEM FAKE_DIR
# Google Calendar end to end, as a user runs it: tandemd (its [google] endpoints
# pointed at the local fake of Google's API and OAuth, tests/fakes/google) and
# the tandem CLI. `tandem sync pair add --google` prints Google's consent page;
# the "browser" (curl) opens it, the fake consents and redirects to the CLI's
# loopback listener; the pair initializes both ways; edits, deletions, an
# expired sync token, a revoked authorization and `sync pair reauth`.
set -euo pipefail
TANDEMD=$1; TANDEM=$2; FAKE_DIR=$3
E2E_NAME=google
source "$(dirname "$0")/../e2e_caldav/common.sh"
FAIL_LOGS=("$WORK/tandemd.log" "$WORK/fake.log" "$WORK/add.out")
export HOME="$WORK/home"; mkdir -p "$HOME"

step "start the Google fake and tandemd --demo pointed at it"
python3 "$FAKE_DIR/fake_google.py" --port 0 >"$WORK/fake.out" 2>"$WORK/fake.log" &
PIDS+=($!)
for _ in $(seq 1 100); do grep -q '^READY ' "$WORK/fake.out" 2>/dev/null && break; sleep 0.1; done
G=$(sed -nE 's/^READY ([0-9]+)$/\1/p' "$WORK/fake.out")
[ -n "$G" ] || fail "the fake did not start"
GB="http://127.0.0.1:$G"
API_PORT=$(free_port)
cat >"$WORK/tandemd.toml" <<TOML
[google]
client_id = "tandem-test-client"
client_secret = "tandem-test-secret"
auth_url = "$GB/o/oauth2/v2/auth"
token_url = "$GB/token"
api_base = "$GB/calendar/v3"
TOML
"$TANDEMD" --demo --config "$WORK/tandemd.toml" --data-dir "$WORK/data" \
  --listen "127.0.0.1:$API_PORT" >"$WORK/tandemd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$API_PORT/healthz" >/dev/null && break; sleep 0.1; done
printf 'demo\n' > "$WORK/pw"
"$TANDEM" login --server "http://127.0.0.1:$API_PORT" --user demo --password-file "$WORK/pw" >/dev/null \
  || fail "login failed"
"$TANDEM" sync providers | has '^google .*oauth' || fail "google is not offered"

gapi() {  # METHOD PATH [JSON]: the user's own edits in Google Calendar
  local token
  token=$(curl -s -X POST -H 'Content-Type: application/json' -d '{}' "$GB/_fake/token" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s -X "$1" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    ${3:+-d "$3"} "$GB/calendar/v3$2"
}
live_events() {  # the primary calendar's events that are not cancelled
  curl -s "$GB/_fake/events?calendarId=user@example.test" | python3 -c '
import json,sys
d=json.load(sys.stdin); items=d if isinstance(d,list) else d.get("items",[])
print(sum(1 for e in items if e.get("status")!="cancelled" and not e.get("recurringEventId")))'
}
crm_count() {
  "$TANDEM" activities list --owner me --all --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))'
}
# authorize CMD...: runs CMD in the background, opens the consent page it prints
# with curl (the fake consents and redirects to the CLI's loopback listener).
authorize() {
  "$@" >"$WORK/add.out" 2>&1 & local cli=$!
  local url=""
  for _ in $(seq 1 100); do
    url=$(grep -oE "$GB/o/oauth2/v2/auth\?[^ ]+" "$WORK/add.out" | head -1 || true)
    [ -n "$url" ] && break; sleep 0.1
  done
  [ -n "$url" ] || { kill $cli 2>/dev/null; fail "no consent page printed"; }
  curl -s -L -o "$WORK/browser.html" "$url" || true
  wait $cli || { cat "$WORK/add.out"; fail "'$*' failed"; }
  grep -q "authorized" "$WORK/browser.html" || fail "the browser did not see the CLI's page"
}

step "a meeting already in Google Calendar"
gapi POST /calendars/primary/events '{"summary":"Kickoff at Globex","start":{"dateTime":"'"$(date -u -d 'tomorrow 09:00' +%FT%TZ)"'","timeZone":"Europe/Berlin"},"end":{"dateTime":"'"$(date -u -d 'tomorrow 10:00' +%FT%TZ)"'","timeZone":"Europe/Berlin"},"location":"Globex HQ"}' >/dev/null
crm_before=$(crm_count)

step "tandem sync pair add --google: consent in the browser, pair, initialize"
authorize "$TANDEM" sync pair add --google
cat "$WORK/add.out"
grep -q "Pairing with" "$WORK/add.out" || fail "the calendar chosen was not named"
PAIR=$("$TANDEM" sync pair list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
grep -q "tandem-test-secret\|refresh" "$WORK/tandemd.log" && fail "a secret or token is in the log"
"$TANDEM" activities list --owner me --all --json | has '"Kickoff at Globex"' \
  || fail "the Google meeting did not reach the CRM"
on_google=$(live_events)
[ "$on_google" -eq $((crm_before + 1)) ] || fail "Google holds $on_google events, expected $((crm_before + 1))"

step "an edit in Google reaches the CRM; a CRM deletion reaches Google"
EV=$(curl -s "$GB/_fake/events?calendarId=user@example.test" | python3 -c '
import json,sys
d=json.load(sys.stdin); items=d if isinstance(d,list) else d.get("items",[])
print([e["id"] for e in items if e.get("summary")=="Kickoff at Globex"][0])')
gapi PATCH "/calendars/primary/events/$EV" '{"summary":"Kickoff at Globex (moved to room 2)"}' >/dev/null
"$TANDEM" sync now "$PAIR" >/dev/null || fail "sync now failed"
"$TANDEM" activities list --owner me --all --json | has 'moved to room 2' || fail "the edit did not arrive"
VICTIM=$("$TANDEM" activities list --owner me --all --json | python3 -c '
import json,sys
print([a["id"] for a in json.load(sys.stdin)["items"] if "Globex" not in a["subject"]][0])')
"$TANDEM" activities delete "$VICTIM" >/dev/null || fail "delete failed"
"$TANDEM" sync now "$PAIR" >/dev/null || fail "sync now after the deletion failed"
[ "$(live_events)" -eq "$on_google" ] && fail "the CRM deletion did not reach Google"

step "an expired sync token: a full listing, no duplicate"
curl -s -X POST -H 'Content-Type: application/json' -d '{}' "$GB/_fake/expire_sync_tokens" >/dev/null
n_before=$(live_events); c_before=$(crm_count)
"$TANDEM" sync now "$PAIR" >/dev/null || fail "sync now after the 410 failed"
[ "$(live_events)" = "$n_before" ] && [ "$(crm_count)" = "$c_before" ] \
  || fail "the 410 recovery changed the counts ($(live_events)/$(crm_count), were $n_before/$c_before)"

step "a revoked authorization: a clear status, nothing deleted, then reauth"
curl -s -X POST -H 'Content-Type: application/json' -d '{}' "$GB/_fake/revoke_refresh_tokens" >/dev/null
curl -s -X POST -H 'Content-Type: application/json' -d '{}' "$GB/_fake/expire_access_tokens" >/dev/null
rc=0; "$TANDEM" sync now "$PAIR" >"$WORK/revoked.out" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "a run with a revoked authorization succeeded"
[ "$rc" != 3 ] || fail "a revoked calendar authorization was reported as the Tandem session (exit 3)"
grep -q "re-authorization" "$WORK/revoked.out" || { cat "$WORK/revoked.out"; fail "no re-authorization named"; }
"$TANDEM" sync status | has "NEEDS RE-AUTHORIZATION: tandem sync pair reauth $PAIR" \
  || { "$TANDEM" sync status; fail "sync status does not say what to do"; }
[ "$(crm_count)" = "$c_before" ] || fail "the CRM lost activities"
authorize "$TANDEM" sync pair reauth "$PAIR"
"$TANDEM" sync now "$PAIR" >/dev/null || fail "sync now after reauth failed"
echo "google: all checks passed"
