# Sourced by the scripts of this folder (set E2E_NAME first): tandemd's CalDAV
# server on 127.0.0.1 with the demo user, and curl requests whose request and
# answer are kept, so that a failure shows both (what a server defect report needs).
# Builds on ../e2e_caldav/common.sh (WORK, PIDS stopped by PID on exit, fail,
# step, has, free_port).
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../e2e_caldav/common.sh"
FAIL_LOGS=("$WORK/tandemd.log")
export TZ=UTC  # the CLI and khal read and print local times: keep them predictable
export HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/home/.config" XDG_DATA_HOME="$WORK/home/.local/share" \
  XDG_CACHE_HOME="$WORK/home/.cache"
mkdir -p "$HOME" "$WORK/r"
ADMIN_PW=admin-pw-e2e
XML=(-H 'Content-Type: application/xml; charset=utf-8')
ICS=(-H 'Content-Type: text/calendar; charset=utf-8')

# start_tandemd TANDEMD: tandemd --demo (demo/demo, demo data) and an admin
# (admin/$ADMIN_PW) on a free port; sets PORT and BASE; its PID joins PIDS.
start_tandemd() {
  PORT=$(free_port); BASE="http://127.0.0.1:$PORT"
  printf '[admin]\nlogin = "admin"\npassword = "%s"\n' "$ADMIN_PW" > "$WORK/tandemd.toml"
  "$1" --config "$WORK/tandemd.toml" --demo --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" \
    --log-level info >"$WORK/tandemd.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 200); do curl -sf "$BASE/healthz" >/dev/null && return 0; sleep 0.1; done
  fail "tandemd did not answer on $BASE/healthz"
}

# req NAME METHOD URL [CURL ARGS...]: one request as $AS (user:password,
# default demo:demo; AS=none sends no credentials). Prints the status code and
# keeps NAME.req, NAME.hdr, NAME.body (and NAME.code) in $WORK/r.
# reqb NAME METHOD URL [CURL ARGS...] <<BODY: the same with a request body from stdin.
req() {
  local n=$1 m=$2 u=$3 auth=(); shift 3
  [ "${AS:-demo:demo}" = none ] || auth=(-u "${AS:-demo:demo}")
  { echo "$m $u"; echo "as: ${AS:-demo:demo}"; printf 'curl args:'; printf ' %q' "$@"; echo; } > "$WORK/r/$n.req"
  curl -sS -o "$WORK/r/$n.body" -D "$WORK/r/$n.hdr" -w '%{http_code}' -X "$m" "${auth[@]}" "$@" "$u" \
    > "$WORK/r/$n.code" || echo 000 > "$WORK/r/$n.code"
  rm -f "$WORK/r/$n.ms"
  cat "$WORK/r/$n.code"
}
reqb() {
  local n=$1; cat > "$WORK/r/$n.in"
  req "$@" --data-binary @"$WORK/r/$n.in" > /dev/null
  { echo "request body:"; cat "$WORK/r/$n.in"; } >> "$WORK/r/$n.req"
  cat "$WORK/r/$n.code"
}
code() { cat "$WORK/r/$1.code"; }
# show NAME: the request and the answer, for a failure message
show() {
  { echo "--- request $1:"; cat "$WORK/r/$1.req"
    echo "--- answer: $(code "$1")"; tr -d '\r' < "$WORK/r/$1.hdr"
    head -c 4000 "$WORK/r/$1.body"; echo; } >&2
}
# want NAME CODE...: the answer's status is one of CODE..., else fail showing both
want() {
  local n=$1 c; shift
  c=$(code "$n")
  for w in "$@"; do [ "$c" = "$w" ] && return 0; done
  show "$n"; fail "$n: $(head -1 "$WORK/r/$n.req") answered $c, want $*"
}
# hdr NAME HEADER: the answer's header value (the last one when redirects were followed)
hdr() { tr -d '\r' < "$WORK/r/$1.hdr" | awk -v h="$2" -F': ' 'tolower($1)==tolower(h){v=substr($0,length($1)+3)} END{print v}'; }
# ms NAME: the 207 body flattened by multistatus.py (HREF PROP STATUS VALUE, tab-separated)
ms() {
  if [ ! -f "$WORK/r/$1.ms" ]; then
    python3 "$HERE/multistatus.py" "$WORK/r/$1.body" > "$WORK/r/$1.ms" \
      || { rm -f "$WORK/r/$1.ms"; show "$1"; fail "$1: the answer is not a DAV:multistatus"; }
  fi
  cat "$WORK/r/$1.ms"
}
# prop NAME HREF PROP: VALUE of PROP found (200) on HREF; pstat: its status
prop() { ms "$1" | awk -F'\t' -v h="$2" -v p="$3" '$1==h && $2==p && $3=="200" {print $4; exit}'; }
pstat() { ms "$1" | awk -F'\t' -v h="$2" -v p="$3" '$1==h && $2==p {print $3; exit}'; }
# need_prop NAME HREF PROP [REGEX]: PROP is found on HREF (and matches REGEX), else fail
need_prop() {
  local v st; st=$(pstat "$1" "$2" "$3"); v=$(prop "$1" "$2" "$3")
  if [ "$st" != 200 ] || { [ -n "${4:-}" ] && ! grep -Eq -- "$4" <<<"$v"; }; then
    show "$1"; fail "$1: $3 on $2 is '${v}' (status ${st:-absent})${4:+, want /$4/}"
  fi
}
# ics_hrefs NAME: the .ics member hrefs listed in a 207 (sorted, once each)
ics_hrefs() { ms "$1" | awk -F'\t' '$1 ~ /\.ics$/ {print $1}' | sort -u; }
# etag_of URL: the ETag GET answers (as demo)
etag_of() { req etag_of GET "$1" >/dev/null; hdr etag_of ETag; }

# event_ics UID SUMMARY START END [extra lines as \r\n-separated text]
event_ics() {
  printf 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Tandem e2e//curl//EN\r\nBEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:%s\r\nDTSTART:%s\r\nDTEND:%s\r\nSUMMARY:%s\r\n%bEND:VEVENT\r\nEND:VCALENDAR\r\n' \
    "$1" "$(date -u +%Y%m%dT%H%M%SZ)" "$3" "$4" "$2" "${5:-}"
}

# demo_id: the demo user's id from /dav/'s current-user-principal (sets DEMO_ID,
# PRINCIPAL, HOME_SET, CAL, CAL_URL)
demo_id() {
  reqb cup PROPFIND "$BASE/dav/" -H 'Depth: 0' "${XML[@]}" >/dev/null <<'XML'
<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:current-user-principal/></D:prop></D:propfind>
XML
  want cup 207
  PRINCIPAL=$(ms cup | awk -F'\t' '$2=="D:current-user-principal" && $3=="200" {print $4; exit}')
  DEMO_ID=$(sed -nE 's#^/dav/principals/([^/]+)/$#\1#p' <<<"$PRINCIPAL")
  [ -n "$DEMO_ID" ] || { show cup; fail "current-user-principal '$PRINCIPAL' is not /dav/principals/<id>/"; }
  HOME_SET="/dav/calendars/$DEMO_ID/"
  CAL="/dav/calendars/$DEMO_ID/appointments/"
  CAL_URL="$BASE$CAL"
}
# vs LOG ARGS...: vdirsyncer with $WORK/vdirsyncer.conf, its output in $WORK/LOG (shown on failure)
vs() {
  local log=$1; shift
  vdirsyncer -c "$WORK/vdirsyncer.conf" -v INFO "$@" > "$WORK/$log" 2>&1 </dev/null \
    || { cat "$WORK/$log"; fail "vdirsyncer $* failed"; }
}
# vdir_item PROPERTY VALUE: the file of $VDIR whose PROPERTY line is exactly VALUE
vdir_item() { grep -lE -- "^$1:$2"$'\r'"?\$" "$VDIR"/* | head -1; }
# vs_unchanged LOG SNAPSHOT: a vdirsyncer sync that must change nothing on either
# side (SNAPSHOT prints the vdir's files and the CRM's records with their versions)
vs_unchanged() {
  "$2" > "$WORK/snap-before.txt"
  vs "$1" sync
  "$2" > "$WORK/snap-after.txt"
  if grep -E 'Copying|Updating|Deleting' "$WORK/$1"; then fail "the no-change sync wrote something"; fi
  diff "$WORK/snap-before.txt" "$WORK/snap-after.txt" || fail "the no-change sync changed the vdir or the CRM"
}
# stoken NAME: the DAV:sync-token of a sync-collection answer (RFC 6578 6.2)
stoken() { ms "$1" | awk -F'\t' '$1=="-" && $2=="D:sync-token" {print $4; exit}'; }
# defect MESSAGE: a server defect that does not stop the later steps (shown at
# once with the last request, listed again by finish, which then fails)
defect() { echo "DEFECT: $*" >&2; echo "$*" >> "$WORK/defects"; }
finish() {  # MESSAGE: the script's last line
  if [ -s "$WORK/defects" ]; then
    echo "FAIL: $(wc -l < "$WORK/defects") server defect(s):" >&2; sed 's/^/  - /' "$WORK/defects" >&2; exit 1
  fi
  echo "$1"
}
