#!/usr/bin/env bash
# The main job, for a first look: installs what is missing, builds tandemd and the
# tandem CLI, starts a local Radicale CalDAV calendar and tandemd (SQLite store,
# demo user with demo data) on 127.0.0.1, pairs the demo user's CRM calendar with
# the Radicale calendar and syncs them both ways. Runs until Ctrl-C.
#   Data: ./var (delete it to start over). Ports: TANDEM_PORT (8480), DAV_PORT (5232).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
bash scripts/install-deps.sh
bash scripts/build.sh --target tandemd tandem
BIN="$ROOT/build/src/apps"
TANDEM_PORT=${TANDEM_PORT:-8480}; DAV_PORT=${DAV_PORT:-5232}
VAR="$ROOT/var"; mkdir -p "$VAR"
export XDG_CONFIG_HOME="$VAR/cli-config"   # the demo's CLI session stays in ./var
PIDS=()
stop() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap stop EXIT INT TERM

echo "== starting a Radicale calendar on 127.0.0.1:$DAV_PORT (user demo, password demo)"
PIDS+=("$(bash scripts/peers/start-radicale.sh "$DAV_PORT" "$VAR/radicale" demo demo calendar)")
CAL="http://127.0.0.1:$DAV_PORT/demo/calendar/"
# Two events that exist only on the phone's calendar before the first sync.
put_phone_event() {  # N SUMMARY EXTRA-LINES
  local day; day=$(date -u -d "+$(( $1 * 2 )) days" +%Y%m%d)
  printf 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tandem demo//EN\r\nBEGIN:VEVENT\r\nUID:phone-demo-%s\r\nDTSTAMP:%sT080000Z\r\nDTSTART;TZID=Europe/Berlin:%sT1%s0000\r\nDTEND;TZID=Europe/Berlin:%sT1%s3000\r\nSUMMARY:%s\r\n%bBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT10M\r\nDESCRIPTION:Reminder\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n' \
    "$1" "$day" "$day" "$1" "$day" "$1" "$2" "$3" \
  | curl -s -o /dev/null -u demo:demo -X PUT -H 'Content-Type: text/calendar' -H 'If-None-Match: *' \
      --data-binary @- "${CAL}phone-demo-$1.ics" || true
}
put_phone_event 1 'Coffee with a lead (from the phone)' 'LOCATION:Cafe Central\r\n'
put_phone_event 2 'Physiotherapy (from the phone)' 'CLASS:PRIVATE\r\n'

echo "== starting tandemd on 127.0.0.1:$TANDEM_PORT (data in $VAR/tandemd)"
"$BIN/tandemd" --demo --data-dir "$VAR/tandemd" --listen "127.0.0.1:$TANDEM_PORT" &
PIDS+=($!)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$TANDEM_PORT/healthz" >/dev/null && break; sleep 0.1; done

echo "== logging in as demo and pairing the CRM calendar with the Radicale calendar"
printf 'demo\n' > "$VAR/demo-password"; chmod 600 "$VAR/demo-password"
"$BIN/tandem" login --server "http://127.0.0.1:$TANDEM_PORT" --user demo --password-file "$VAR/demo-password"
if [ -z "$("$BIN/tandem" sync pair list --json | python3 -c 'import json,sys; print("".join(p["id"] for p in json.load(sys.stdin)["items"]))')" ]; then
  "$BIN/tandem" sync pair add --caldav "http://127.0.0.1:$DAV_PORT/" --user demo --password-file "$VAR/demo-password"
fi
"$BIN/tandem" sync now
echo
"$BIN/tandem" agenda --days 14
cat <<TXT

Tandem is running. Try, in another terminal:
  export XDG_CONFIG_HOME=$VAR/cli-config PATH=$BIN:\$PATH
  tandem agenda --days 30                       # the CRM calendar, incl. the phone's events
  tandem activities add --subject "Call Acme" --start "$(date -d tomorrow +%F) 15:00"
  curl -s -u demo:demo $CAL | head              # ...arrives on the CalDAV calendar within seconds
  tandem sync status; tandem sync log <pair id>; tandem trash list
  Point Thunderbird or a phone at $CAL (demo / demo) to edit events there.
Press Ctrl-C to stop.
TXT
wait "${PIDS[-1]}"
