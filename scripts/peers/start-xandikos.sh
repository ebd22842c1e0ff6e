#!/usr/bin/env bash
# start-xandikos.sh PORT DATADIR [USER [CALENDAR]]
# Starts a Xandikos CalDAV server on 127.0.0.1:PORT storing in DATADIR/store (it has
# no authentication of its own: any credentials pass). Calendar URL:
# http://127.0.0.1:PORT/USER/calendars/CALENDAR/. Prints the server's PID.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 PORT DATADIR [USER [CALENDAR]]" >&2; exit 2; }
PORT=$1; DIR=$2; USER_NAME=${3:-test}; CALENDAR=${4:-calendar}
command -v xandikos >/dev/null || { echo "xandikos is not installed (scripts/install-deps.sh)" >&2; exit 1; }
mkdir -p "$DIR"; DIR=$(cd "$DIR" && pwd)
setsid xandikos -d "$DIR/store" -l 127.0.0.1 -p "$PORT" --current-user-principal "/$USER_NAME/" \
  --defaults </dev/null >>"$DIR/xandikos.log" 2>&1 &
PID=$!
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 150); do
  kill -0 "$PID" 2>/dev/null || { echo "xandikos exited:" >&2; tail -5 "$DIR/xandikos.log" >&2; exit 1; }
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/")" != 000 ] && break
  sleep 0.1
done
if [ "$CALENDAR" != calendar ]; then
  code=$(curl -s -o /dev/null -w '%{http_code}' -X MKCALENDAR "$BASE/$USER_NAME/calendars/$CALENDAR/")
  case "$code" in 201|405|409) ;; *) echo "MKCALENDAR answered $code" >&2; kill "$PID"; exit 1 ;; esac
fi
echo "$PID"
