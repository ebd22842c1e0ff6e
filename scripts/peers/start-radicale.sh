#!/usr/bin/env bash
# start-radicale.sh PORT DATADIR [USER [PASSWORD [CALENDAR]]]
# Starts a Radicale CalDAV server on 127.0.0.1:PORT with its config, users file and
# storage in DATADIR, creates USER's calendar CALENDAR, prints the server's PID (the
# only line on stdout). Stop it with: kill PID. Log: DATADIR/radicale.log.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 PORT DATADIR [USER [PASSWORD [CALENDAR]]]" >&2; exit 2; }
PORT=$1; DIR=$2; USER_NAME=${3:-test}; PASSWORD=${4:-test}; CALENDAR=${5:-calendar}
command -v radicale >/dev/null || { echo "radicale is not installed (scripts/install-deps.sh)" >&2; exit 1; }
mkdir -p "$DIR/collections"; DIR=$(cd "$DIR" && pwd)
printf '%s:%s\n' "$USER_NAME" "$PASSWORD" > "$DIR/users"
cat > "$DIR/config" <<CONF
[server]
hosts = 127.0.0.1:$PORT
max_content_length = 200000000
timeout = 120
[auth]
type = htpasswd
htpasswd_filename = $DIR/users
htpasswd_encryption = plain
delay = 0
[rights]
type = owner_only
[storage]
type = multifilesystem
filesystem_folder = $DIR/collections
[web]
type = none
[logging]
level = info
mask_passwords = True
CONF
setsid radicale -C "$DIR/config" </dev/null >>"$DIR/radicale.log" 2>&1 &
PID=$!
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 150); do
  kill -0 "$PID" 2>/dev/null || { echo "radicale exited:" >&2; tail -5 "$DIR/radicale.log" >&2; exit 1; }
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/")" != 000 ] && break
  sleep 0.1
done
curl -s -o /dev/null -u "$USER_NAME:$PASSWORD" -X PROPFIND -H 'Depth: 0' "$BASE/$USER_NAME/"
code=$(curl -s -o /dev/null -w '%{http_code}' -u "$USER_NAME:$PASSWORD" -X MKCALENDAR \
  -H 'Content-Type: application/xml' --data-binary @- "$BASE/$USER_NAME/$CALENDAR/" <<XML
<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
<D:displayname>$CALENDAR</D:displayname>
<C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set>
</D:prop></D:set></C:mkcalendar>
XML
)
case "$code" in 201|405|409) ;; *) echo "MKCALENDAR answered $code" >&2; kill "$PID"; exit 1 ;; esac
echo "$PID"
