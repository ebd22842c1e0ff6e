#!/usr/bin/env bash
# clients.sh TANDEMD TANDEM PEERS_DIR
# Tandem's own CalDAV server (tandemd /dav/) against real clients on 127.0.0.1,
# with the demo user (demo/demo) and its demo appointments:
#  - discovery: /.well-known/caldav|carddav 301 -> /dav/, principal, home, collection
#    properties, OPTIONS; calendar-query time-range over a recurring series; a
#    client-chosen resource name and UID are kept;
#  - python3-caldav (../shared/peers/caldav-client-check.py) from the server root
#    and from the collection URL: every check passes;
#  - the request sequences of DAVx5 (service detection, collection list,
#    sync-collection, multiget, upload, delete) and of Thunderbird (detection,
#    OPTIONS, resourcetype/owner/current-user-principal, getctag, Depth 1 etags,
#    calendar-multiget, create/edit/delete with If-Match), replayed with curl;
#    each answer's status and key properties are checked;
#  - security: 401 without or with a wrong password; another user's collections
#    and resources answer 404 (read and write); DOCTYPE/entity bodies 400; Depth
#    infinity 403; malformed or unsupported iCalendar refused with nothing lost; a
#    stale If-Match 412;
#  - vdirsyncer two-way with a local vdir: first sync brings the appointments, a
#    creation, an edit and a deletion on each side reach the other (the CRM side
#    checked through the tandem CLI's JSON), a no-change sync changes nothing;
#  - khal reading that vdir shows an event created in the CRM on its day.
# Every write through CalDAV is checked to be a CRM write (tandem activities list).
# A protocol defect that does not stop the later steps is reported with its request
# and answer ("DEFECT:") and listed at the end, where the test then fails.
set -euo pipefail
TANDEMD=$1; TANDEM=$2; PEERS=$3
E2E_NAME=davserver-clients
source "$(dirname "$0")/lib.sh"
# caldav-client-check.py lives in the shared peers folder beside the checkout
SHARED_PEERS=${SHARED_PEERS:-$(cd "$PEERS/../.." && pwd)/../shared/peers}
for tool in curl vdirsyncer khal; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (apt-get install $tool)"
done
/usr/bin/python3 -c 'import caldav' 2>/dev/null || fail "python3-caldav is not installed (apt-get install python3-caldav)"

step "start tandemd --demo"
start_tandemd "$TANDEMD"
printf 'demo\n' > "$WORK/pw"
"$TANDEM" login --server "$BASE" --user demo --password-file "$WORK/pw" >/dev/null || fail "CLI login failed"
crm() { "$TANDEM" activities list --owner me --all --json > "$WORK/acts.json" || fail "activities list failed"; }
# the subjects of the demo user's CRM events (appointments and phone calls: what the calendar holds)
crm_subjects() {
  crm
  python3 -c 'import json,sys
for a in json.load(open(sys.argv[1]))["items"]:
    if a["kind"] in ("appointment", "phone_call"): print(a["subject"])' "$WORK/acts.json" | sort
}
crm_id() {  # SUBJECT -> the activity's id
  crm
  python3 -c 'import json,sys
m=[a["id"] for a in json.load(open(sys.argv[1]))["items"] if a["subject"]==sys.argv[2]]
assert len(m)==1, (sys.argv[2], m); print(m[0])' "$WORK/acts.json" "$1" || fail "no single CRM activity '$1'"
}
PROPFIND_CUP='<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:current-user-principal/></D:prop></D:propfind>'
# after a redirect: the Location resolved against BASE
resolve() { case "$1" in http*) echo "$1" ;; /*) echo "$BASE$1" ;; *) echo "" ;; esac; }

# ---------------------------------------------------------------------------
step "/.well-known/caldav and /.well-known/carddav: 301 to /dav/ for any method"
for svc in caldav carddav; do
  for m in GET PROPFIND OPTIONS; do
    n="wk-$svc-$m"
    req "$n" "$m" "$BASE/.well-known/$svc" -H 'Depth: 0' >/dev/null
    want "$n" 301
    [ "$(resolve "$(hdr "$n" Location)")" = "$BASE/dav/" ] || { show "$n"; fail "$n: Location is '$(hdr "$n" Location)', want /dav/"; }
  done
done

step "authentication: 401 with a Basic challenge, without or with a wrong password"
AS=none req noauth PROPFIND "$BASE/dav/" -H 'Depth: 0' >/dev/null
want noauth 401
hdr noauth WWW-Authenticate | has -i '^Basic realm="Tandem"' || { show noauth; fail "no WWW-Authenticate: Basic realm=\"Tandem\""; }
AS=demo:wrong req badpw PROPFIND "$BASE/dav/" -H 'Depth: 0' >/dev/null
want badpw 401
AS=nobody:demo req nouser PROPFIND "$BASE/dav/" -H 'Depth: 0' >/dev/null
want nouser 401

step "the demo user's principal from /dav/, the same id as the REST API's"
demo_id
TOKEN=$(curl -sf -X POST -H 'Content-Type: application/json' -d '{"login":"demo","password":"demo"}' "$BASE/api/v1/login" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') || fail "REST login failed"
ME=$(curl -sf -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/me" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j.get("id") or j["user"]["id"])')
[ "$ME" = "$DEMO_ID" ] || fail "the principal's id $DEMO_ID is not the REST API's user id $ME"
echo "demo's principal: $PRINCIPAL, collection: $CAL_URL"
AS=none req noauth-cal PROPFIND "$CAL_URL" -H 'Depth: 0' >/dev/null
want noauth-cal 401
AS=demo:wrong req badpw-cal REPORT "$CAL_URL" -H 'Depth: 1' "${XML[@]}" --data '<x/>' >/dev/null
want badpw-cal 401

step "principal: calendar-home-set, addressbook-home-set, displayname, calendar-user-address-set"
reqb principal PROPFIND "$BASE$PRINCIPAL" -H 'Depth: 0' "${XML[@]}" >/dev/null <<'XML'
<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:R="urn:ietf:params:xml:ns:carddav">
  <D:prop><C:calendar-home-set/><R:addressbook-home-set/><D:displayname/><C:calendar-user-address-set/>
    <D:resourcetype/><D:principal-URL/></D:prop></D:propfind>
XML
want principal 207
need_prop principal "$PRINCIPAL" C:calendar-home-set "^$HOME_SET\$"
ms principal | awk -F'\t' '$2 ~ /addressbook-home-set$/ && $3=="200"' | has "/dav/addressbooks/$DEMO_ID/" \
  || { show principal; fail "addressbook-home-set is not /dav/addressbooks/$DEMO_ID/"; }
need_prop principal "$PRINCIPAL" D:displayname '.'
need_prop principal "$PRINCIPAL" C:calendar-user-address-set '.'
need_prop principal "$PRINCIPAL" D:resourcetype 'D:principal'

step "calendar home, Depth 1: the appointments calendar"
reqb home PROPFIND "$BASE$HOME_SET" -H 'Depth: 1' "${XML[@]}" >/dev/null <<'XML'
<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:resourcetype/><D:displayname/><C:supported-calendar-component-set/></D:prop></D:propfind>
XML
want home 207
need_prop home "$HOME_SET" D:resourcetype 'D:collection'
need_prop home "$CAL" D:resourcetype 'C:calendar'
need_prop home "$CAL" C:supported-calendar-component-set 'C:comp\[VEVENT\]'

step "the collection: properties at Depth 0, the demo appointments at Depth 1"
reqb coll0 PROPFIND "$CAL_URL" -H 'Depth: 0' "${XML[@]}" >/dev/null <<'XML'
<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/">
  <D:prop><D:resourcetype/><D:displayname/><CS:getctag/><D:sync-token/><C:supported-calendar-component-set/>
    <D:supported-report-set/><D:current-user-principal/><D:owner/></D:prop></D:propfind>
XML
want coll0 207
need_prop coll0 "$CAL" D:resourcetype 'C:calendar'
need_prop coll0 "$CAL" D:displayname '.'
need_prop coll0 "$CAL" CS:getctag '.'
need_prop coll0 "$CAL" D:sync-token '.'
need_prop coll0 "$CAL" C:supported-calendar-component-set 'C:comp\[VEVENT\]'
need_prop coll0 "$CAL" D:supported-report-set 'D:sync-collection'
need_prop coll0 "$CAL" D:supported-report-set 'C:calendar-multiget'
need_prop coll0 "$CAL" D:supported-report-set 'C:calendar-query'
reqb coll1 PROPFIND "$CAL_URL" -H 'Depth: 1' "${XML[@]}" >/dev/null <<'XML'
<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:getcontenttype/><D:resourcetype/></D:prop></D:propfind>
XML
want coll1 207
N=$(ics_hrefs coll1 | wc -l)
N_CRM=$(crm_subjects | wc -l)
echo "collection: $N resources; CRM: $N_CRM appointments and phone calls"
[ "$N" -gt 0 ] || { show coll1; fail "the collection lists no resources"; }
[ "$N" = "$N_CRM" ] || { show coll1; fail "the collection lists $N resources, the CRM has $N_CRM events"; }
for h in $(ics_hrefs coll1); do
  need_prop coll1 "$h" D:getetag '^(W/)?".+"$'
  need_prop coll1 "$h" D:getcontenttype '^text/calendar'
done

step "calendar-query with a time-range matches a later occurrence of the weekly demo series only"
cquery() {  # NAME START END (UTC, YYYYMMDDTHHMMSSZ)
  reqb "$1" REPORT "$CAL_URL" -H 'Depth: 1' "${XML[@]}" >/dev/null <<XML
<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="$2" end="$3"/></C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>
XML
  want "$1" 207
}
# "Weekly pipeline review" is weekly from day 1 08:00 (Berlin): day 15 holds its third
# occurrence (day 16 in UTC terms just before midnight), day 22 the fourth; the review is on day 17
cquery cq-hit "$(date -u -d '+14 days' +%Y%m%d)T000000Z" "$(date -u -d '+17 days' +%Y%m%d)T000000Z"
ms cq-hit | awk -F'\t' '$2=="C:calendar-data"' | has 'SUMMARY:Weekly pipeline review' \
  || { show cq-hit; defect "calendar-query time-range over days 14-17 does not return the weekly series' third occurrence (RFC 4791 9.9: recurrences are expanded for time-range)"; }
cquery cq-miss "$(date -u -d '+17 days' +%Y%m%d)T000000Z" "$(date -u -d '+21 days' +%Y%m%d)T000000Z"
ms cq-miss | awk -F'\t' '$2=="C:calendar-data"' | has 'SUMMARY:Weekly pipeline review' \
  && { show cq-miss; defect "calendar-query time-range over days 17-21 (between two occurrences) returns the weekly series"; }
ms cq-miss | awk -F'\t' '$2=="C:calendar-data"' | has 'SUMMARY:Quarterly business review with Andrew' \
  || { show cq-miss; defect "calendar-query time-range over days 17-21 does not return the day-17 review"; }

step "OPTIONS on the collection: DAV 1, 3, calendar-access; the methods"
req options OPTIONS "$CAL_URL" >/dev/null
want options 200 204
dav_hdr=$(hdr options DAV)
for cls in 1 3 calendar-access; do
  tr ',' '\n' <<<"$dav_hdr" | sed 's/^ *//; s/ *$//' | has -x -- "$cls" || { show options; fail "DAV: '$dav_hdr' lacks $cls"; }
done
for m in PROPFIND REPORT; do
  hdr options Allow | has -w "$m" || { show options; fail "Allow: '$(hdr options Allow)' lacks $m"; }
done

step "a client-chosen resource name and UID are kept; the write is a CRM write"
CH_UID="e2e-chosen-uid-$RANDOM"; CH="${CAL}e2e-chosen-name.ics"
D1=$(date -u -d '+8 days' +%Y%m%d)
event_ics "$CH_UID" "Chosen name event" "${D1}T090000Z" "${D1}T100000Z" "LOCATION:Room 7\r\n" \
  | reqb chosen-put PUT "$BASE$CH" "${ICS[@]}" -H 'If-None-Match: *' >/dev/null
want chosen-put 201
req chosen-get GET "$BASE$CH" >/dev/null
want chosen-get 200
tr -d '\r' < "$WORK/r/chosen-get.body" | has -x "UID:$CH_UID" || { show chosen-get; fail "GET $CH does not return UID $CH_UID"; }
hdr chosen-get Content-Type | has '^text/calendar' || { show chosen-get; fail "GET $CH Content-Type is not text/calendar"; }
[ -n "$(hdr chosen-get ETag)" ] || { show chosen-get; fail "GET $CH has no ETag"; }
# RFC 4791 5.3.4: a server that stores other octets than the client PUT must not
# answer the PUT with a strong ETag (the client would take its own copy as current)
PUT_ET=$(hdr chosen-put ETag)
if [ -n "$PUT_ET" ] && [ "${PUT_ET#W/}" = "$PUT_ET" ] && ! cmp -s "$WORK/r/chosen-put.in" "$WORK/r/chosen-get.body"; then
  show chosen-put; show chosen-get
  defect "PUT $CH answered the strong ETag $PUT_ET, but GET returns other octets than were PUT (RFC 4791 5.3.4: a strong ETag MUST NOT be returned then; omit it so that clients fetch the stored version)"
fi
crm_subjects | has -x "Chosen name event" || fail "the PUT event is not in the CRM (tandem activities list)"
event_ics "$CH_UID" "Chosen name event again" "${D1}T090000Z" "${D1}T100000Z" \
  | reqb chosen-again PUT "$BASE$CH" "${ICS[@]}" -H 'If-None-Match: *' >/dev/null
want chosen-again 412
# what the collection's Allow promises for GET holds (RFC 9110 10.2.1), and a 405 carries Allow (15.5.6)
req coll-get GET "$CAL_URL" >/dev/null
if [ "$(code coll-get)" = 405 ]; then
  [ -n "$(hdr coll-get Allow)" ] || { show coll-get; defect "GET on the collection answered 405 without an Allow header (RFC 9110 15.5.6: MUST)"; }
  hdr options Allow | has -w GET && { show coll-get; defect "OPTIONS on the collection lists GET in Allow ('$(hdr options Allow)'), but GET answers 405"; }
fi
req options-item OPTIONS "$BASE$CH" >/dev/null
want options-item 200 204
for m in GET PUT DELETE PROPFIND; do
  hdr options-item Allow | has -w "$m" || { show options-item; fail "Allow of a resource: '$(hdr options-item Allow)' lacks $m"; }
done

# ---------------------------------------------------------------------------
step "python3-caldav (caldav-client-check.py) from the server root and from the collection"
if [ -f "$SHARED_PEERS/caldav-client-check.py" ]; then
  for url in "$BASE/" "$CAL_URL"; do
    if ! /usr/bin/python3 "$SHARED_PEERS/caldav-client-check.py" "$url" demo demo > "$WORK/caldav-check.out" 2>&1; then
      cat "$WORK/caldav-check.out"; fail "caldav-client-check.py against $url failed"
    fi
    tail -1 "$WORK/caldav-check.out"
  done
else
  echo "SKIP: $SHARED_PEERS/caldav-client-check.py not found (set SHARED_PEERS)"
fi
N=$(crm_subjects | wc -l)  # the checks removed what they created

# ---------------------------------------------------------------------------
step "DAVx5: service detection"
UA_DAVX5=(-A 'DAVx5/4.4.3-ose (2024/09/02; dav4jvm; okhttp/4.12.0) Android/14')
# 1. the URL the user gave (the server root): not a DAV resource there is fine, a 5xx is not
reqb dx-root PROPFIND "$BASE/" -H 'Depth: 0' "${XML[@]}" "${UA_DAVX5[@]}" >/dev/null <<'XML'
<?xml version='1.0' encoding='UTF-8' ?><propfind xmlns="DAV:" xmlns:CAL="urn:ietf:params:xml:ns:caldav" xmlns:CARD="urn:ietf:params:xml:ns:carddav"><prop><resourcetype /><displayname /><current-user-privilege-set /><current-user-principal /><CAL:calendar-home-set /><CAL:supported-calendar-component-set /><CARD:addressbook-home-set /></prop></propfind>
XML
case "$(code dx-root)" in 207|301|302|308|403|404|405) ;; *) show dx-root; fail "PROPFIND / answered $(code dx-root)" ;; esac
# 2. /.well-known/caldav, redirect followed with the same PROPFIND (okhttp keeps PROPFIND)
reqb dx-wk PROPFIND "$BASE/.well-known/caldav" -H 'Depth: 0' "${XML[@]}" "${UA_DAVX5[@]}" >/dev/null <<<"$PROPFIND_CUP"
want dx-wk 301
DX_URL=$(resolve "$(hdr dx-wk Location)")
reqb dx-cup PROPFIND "$DX_URL" -H 'Depth: 0' "${XML[@]}" "${UA_DAVX5[@]}" >/dev/null <<<"$PROPFIND_CUP"
want dx-cup 207
need_prop dx-cup /dav/ D:current-user-principal "^$PRINCIPAL\$"
# 3. the principal: calendar-home-set (and the e-mail addresses for the account name)
reqb dx-principal PROPFIND "$BASE$PRINCIPAL" -H 'Depth: 0' "${XML[@]}" "${UA_DAVX5[@]}" >/dev/null <<'XML'
<?xml version='1.0' encoding='UTF-8' ?><propfind xmlns="DAV:" xmlns:CAL="urn:ietf:params:xml:ns:caldav"><prop><CAL:calendar-home-set /><CAL:calendar-user-address-set /><resourcetype /><displayname /></prop></propfind>
XML
want dx-principal 207
need_prop dx-principal "$PRINCIPAL" C:calendar-home-set "^$HOME_SET\$"
step "DAVx5: the collection list (home, Depth 1)"
reqb dx-home PROPFIND "$BASE$HOME_SET" -H 'Depth: 1' "${XML[@]}" "${UA_DAVX5[@]}" >/dev/null <<'XML'
<?xml version='1.0' encoding='UTF-8' ?><propfind xmlns="DAV:" xmlns:CAL="urn:ietf:params:xml:ns:caldav" xmlns:CARD="urn:ietf:params:xml:ns:carddav"><prop><resourcetype /><displayname /><owner /><current-user-privilege-set /><n0:calendar-color xmlns:n0="http://apple.com/ns/ical/" /><CAL:calendar-description /><CAL:calendar-timezone /><CAL:supported-calendar-component-set /><n1:source xmlns:n1="http://calendarserver.org/ns/" /><CARD:addressbook-description /><CARD:supported-address-data /></prop></propfind>
XML
want dx-home 207
need_prop dx-home "$CAL" D:resourcetype 'C:calendar'
need_prop dx-home "$CAL" D:resourcetype 'D:collection'
need_prop dx-home "$CAL" D:displayname '.'
need_prop dx-home "$CAL" C:supported-calendar-component-set 'C:comp\[VEVENT\]'
# DAVx5 makes a calendar read-only unless it may write its content
need_prop dx-home "$CAL" D:current-user-privilege-set 'D:(all|write|write-content)\b'
for p in A:calendar-color C:calendar-description C:calendar-timezone CS:source; do  # optional: 200 or 404, never absent
  case "$(pstat dx-home "$CAL" "$p")" in 200|404) ;; *) show dx-home; fail "dx-home: $p on $CAL is not answered (200 or 404 propstat, RFC 4918 9.1)";; esac
done
step "DAVx5: sync (Depth 0 state, sync-collection, calendar-multiget)"
reqb dx-state PROPFIND "$CAL_URL" -H 'Depth: 0' "${XML[@]}" "${UA_DAVX5[@]}" >/dev/null <<'XML'
<?xml version='1.0' encoding='UTF-8' ?><propfind xmlns="DAV:" xmlns:CAL="urn:ietf:params:xml:ns:caldav"><prop><CAL:max-resource-size /><supported-report-set /><n0:getctag xmlns:n0="http://calendarserver.org/ns/" /><sync-token /></prop></propfind>
XML
want dx-state 207
need_prop dx-state "$CAL" D:sync-token '.'
need_prop dx-state "$CAL" D:supported-report-set 'D:sync-collection'
sync_report() {  # NAME TOKEN: DAVx5's sync-collection (Depth 0, sync-level 1, getetag)
  reqb "$1" REPORT "$CAL_URL" -H 'Depth: 0' "${XML[@]}" "${UA_DAVX5[@]}" >/dev/null <<XML
<?xml version='1.0' encoding='UTF-8' ?><sync-collection xmlns="DAV:"><sync-token>$2</sync-token><sync-level>1</sync-level><prop><getetag /></prop></sync-collection>
XML
  want "$1" 207
}
sync_report dx-sync0 ""
T0=$(stoken dx-sync0)
[ -n "$T0" ] || { show dx-sync0; fail "sync-collection answered no DAV:sync-token (RFC 6578 3.2)"; }
[ "$(ics_hrefs dx-sync0 | wc -l)" = "$N" ] || { show dx-sync0; fail "initial sync-collection lists $(ics_hrefs dx-sync0 | wc -l) members, want $N"; }
{
  echo "<?xml version='1.0' encoding='UTF-8' ?><CAL:calendar-multiget xmlns=\"DAV:\" xmlns:CAL=\"urn:ietf:params:xml:ns:caldav\"><prop><getetag /><CAL:calendar-data /></prop>"
  for h in $(ics_hrefs dx-sync0); do echo "<href>$h</href>"; done
  echo "</CAL:calendar-multiget>"
} | reqb dx-multiget REPORT "$CAL_URL" -H 'Depth: 0' "${XML[@]}" "${UA_DAVX5[@]}" >/dev/null
want dx-multiget 207
for h in $(ics_hrefs dx-sync0); do
  need_prop dx-multiget "$h" C:calendar-data '^BEGIN:VCALENDAR\\n.*END:VCALENDAR'
  [ "$(prop dx-multiget "$h" D:getetag)" = "$(prop dx-sync0 "$h" D:getetag)" ] \
    || { show dx-multiget; fail "multiget ETag of $h differs from sync-collection's"; }
done
step "DAVx5: an event made on the phone is uploaded, then deleted; sync-collection reports both"
DX_NAME="$(cat /proc/sys/kernel/random/uuid).ics"
D2=$(date -u -d '+9 days' +%Y%m%d)
event_ics "davx5-$RANDOM" "Made on the phone" "${D2}T120000Z" "${D2}T130000Z" \
  | reqb dx-put PUT "$CAL_URL$DX_NAME" "${ICS[@]}" -H 'If-None-Match: *' "${UA_DAVX5[@]}" >/dev/null
want dx-put 201
crm_subjects | has -x "Made on the phone" || fail "DAVx5's upload is not in the CRM"
sync_report dx-sync1 "$T0"
ics_hrefs dx-sync1 | has -x "$CAL$DX_NAME" || { show dx-sync1; fail "sync-collection since $T0 does not report the upload"; }
[ "$(ics_hrefs dx-sync1 | wc -l)" = 1 ] || echo "note: sync-collection since $T0 reports $(ics_hrefs dx-sync1 | wc -l) members (1 changed)"
T1=$(stoken dx-sync1)
[ -n "$T1" ] && [ "$T1" != "$T0" ] || { show dx-sync1; fail "the sync-token did not change after an upload"; }
ET=$(prop dx-sync1 "$CAL$DX_NAME" D:getetag)
req dx-delete DELETE "$CAL_URL$DX_NAME" -H "If-Match: $ET" "${UA_DAVX5[@]}" >/dev/null
want dx-delete 204 200
crm_subjects | has -x "Made on the phone" && fail "DAVx5's deletion did not remove the CRM activity"
sync_report dx-sync2 "$T1"
ms dx-sync2 | awk -F'\t' -v h="$CAL$DX_NAME" '$1==h && $2=="-" {print $3}' | has -x 404 \
  || { show dx-sync2; fail "sync-collection since $T1 does not report the deletion as a 404 response (RFC 6578 3.5.2)"; }
sync_report dx-sync3 "$(stoken dx-sync2)"
[ "$(ics_hrefs dx-sync3 | wc -l)" = 0 ] || { show dx-sync3; fail "sync-collection with the latest token reports changes"; }
reqb dx-badtoken REPORT "$CAL_URL" -H 'Depth: 0' "${XML[@]}" >/dev/null <<'XML'
<?xml version='1.0' encoding='UTF-8' ?><sync-collection xmlns="DAV:"><sync-token>http://example.org/not-a-token</sync-token><sync-level>1</sync-level><prop><getetag /></prop></sync-collection>
XML
sync_report dx-sync3b "$(stoken dx-sync2)"  # (the same token again: still valid)
step "DAVx5: a CRM edit (tandem CLI) shows in the next sync-collection with a new ETag"
DENTIST=$(ms dx-multiget | awk -F'\t' '$2=="C:calendar-data" && index($4, "SUMMARY:Dentist\\n") {print $1; exit}')
[ -n "$DENTIST" ] || fail "no resource holds SUMMARY:Dentist"
"$TANDEM" activities edit "$(crm_id Dentist)" --location "Dr. Smile, Main Street 3" >/dev/null || fail "CLI edit failed"
sync_report dx-sync4 "$(stoken dx-sync3)"
ics_hrefs dx-sync4 | has -x "$DENTIST" || { show dx-sync4; fail "sync-collection does not report the CRM edit of $DENTIST"; }
[ "$(prop dx-sync4 "$DENTIST" D:getetag)" != "$(prop dx-sync0 "$DENTIST" D:getetag)" ] \
  || { show dx-sync4; fail "the CRM edit did not change the ETag of $DENTIST"; }
req dx-dentist GET "$BASE$DENTIST" >/dev/null
want dx-dentist 200
tr -d '\r' < "$WORK/r/dx-dentist.body" | has -F 'LOCATION:Dr. Smile\, Main Street 3' \
  || { show dx-dentist; fail "GET $DENTIST does not show the CRM's new location"; }
want dx-badtoken 403
has 'valid-sync-token' < "$WORK/r/dx-badtoken.body" || { show dx-badtoken; fail "a foreign sync-token's 403 lacks DAV:valid-sync-token (RFC 6578 3.2)"; }

# ---------------------------------------------------------------------------
step "Thunderbird: calendar detection from the server root"
UA_TB=(-A 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0')
TB_DETECT='<?xml version="1.0" encoding="UTF-8"?>
<D:propfind xmlns:D="DAV:" xmlns:A="http://apple.com/ns/ical/" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:resourcetype/><D:owner/><D:displayname/><D:current-user-principal/><D:current-user-privilege-set/><A:calendar-color/><C:calendar-home-set/></D:prop>
</D:propfind>'
reqb tb-wk PROPFIND "$BASE/.well-known/caldav" -H 'Depth: 0' "${XML[@]}" "${UA_TB[@]}" >/dev/null <<<"$TB_DETECT"
want tb-wk 301
reqb tb-detect PROPFIND "$(resolve "$(hdr tb-wk Location)")" -H 'Depth: 0' "${XML[@]}" "${UA_TB[@]}" >/dev/null <<<"$TB_DETECT"
want tb-detect 207
need_prop tb-detect /dav/ D:current-user-principal "^$PRINCIPAL\$"
reqb tb-principal PROPFIND "$BASE$PRINCIPAL" -H 'Depth: 0' "${XML[@]}" "${UA_TB[@]}" >/dev/null <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-home-set/></D:prop></D:propfind>
XML
want tb-principal 207
need_prop tb-principal "$PRINCIPAL" C:calendar-home-set "^$HOME_SET\$"
reqb tb-home PROPFIND "$BASE$HOME_SET" -H 'Depth: 1' "${XML[@]}" "${UA_TB[@]}" >/dev/null <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<D:propfind xmlns:D="DAV:" xmlns:A="http://apple.com/ns/ical/" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:resourcetype/><D:owner/><D:displayname/><D:current-user-privilege-set/><A:calendar-color/></D:prop></D:propfind>
XML
want tb-home 207
need_prop tb-home "$CAL" D:resourcetype 'C:calendar'
need_prop tb-home "$CAL" D:displayname '.'
step "Thunderbird: the calendar is loaded (OPTIONS, resource type, principal, ctag, etags, multiget)"
req tb-options OPTIONS "$CAL_URL" "${UA_TB[@]}" >/dev/null
want tb-options 200 204
hdr tb-options DAV | has 'calendar-access' || { show tb-options; fail "OPTIONS DAV header lacks calendar-access"; }
reqb tb-check PROPFIND "$CAL_URL" -H 'Depth: 0' "${XML[@]}" "${UA_TB[@]}" >/dev/null <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:resourcetype/><D:owner/><D:current-user-principal/><D:current-user-privilege-set/><D:supported-report-set/><C:supported-calendar-component-set/><CS:getctag/></D:prop>
</D:propfind>
XML
want tb-check 207
need_prop tb-check "$CAL" D:resourcetype 'C:calendar'
need_prop tb-check "$CAL" D:owner "^$PRINCIPAL\$"
need_prop tb-check "$CAL" D:current-user-principal "^$PRINCIPAL\$"
need_prop tb-check "$CAL" D:current-user-privilege-set 'D:(all|write|write-content)\b'
need_prop tb-check "$CAL" C:supported-calendar-component-set 'C:comp\[VEVENT\]'
need_prop tb-check "$CAL" CS:getctag '.'
CTAG0=$(prop tb-check "$CAL" CS:getctag)
reqb tb-inbox PROPFIND "$BASE$PRINCIPAL" -H 'Depth: 0' "${XML[@]}" "${UA_TB[@]}" >/dev/null <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><C:calendar-home-set/><C:calendar-user-address-set/><C:schedule-inbox-URL/><C:schedule-outbox-URL/></D:prop>
</D:propfind>
XML
want tb-inbox 207
need_prop tb-inbox "$PRINCIPAL" C:calendar-home-set "^$HOME_SET\$"
tb_ctag() {  # NAME: Thunderbird's periodic getctag check
  reqb "$1" PROPFIND "$CAL_URL" -H 'Depth: 0' "${XML[@]}" "${UA_TB[@]}" >/dev/null <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/"><D:prop><CS:getctag/></D:prop></D:propfind>
XML
  want "$1" 207
  prop "$1" "$CAL" CS:getctag
}
[ "$(tb_ctag tb-ctag1)" = "$CTAG0" ] || { show tb-ctag1; fail "getctag changed without a change"; }
reqb tb-etags PROPFIND "$CAL_URL" -H 'Depth: 1' "${XML[@]}" "${UA_TB[@]}" >/dev/null <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:getcontenttype/><D:resourcetype/><D:getetag/></D:prop></D:propfind>
XML
want tb-etags 207
[ "$(ics_hrefs tb-etags | wc -l)" = "$N" ] || { show tb-etags; fail "Depth 1 lists $(ics_hrefs tb-etags | wc -l) resources, want $N"; }
{
  echo '<?xml version="1.0" encoding="UTF-8"?><C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop>'
  for h in $(ics_hrefs tb-etags); do echo "<D:href>$h</D:href>"; done
  echo '</C:calendar-multiget>'
} | reqb tb-multiget REPORT "$CAL_URL" -H 'Depth: 1' "${XML[@]}" "${UA_TB[@]}" >/dev/null
want tb-multiget 207
for h in $(ics_hrefs tb-etags); do need_prop tb-multiget "$h" C:calendar-data 'BEGIN:VEVENT'; done
step "Thunderbird: create, edit (If-Match), delete (If-Match); the ctag follows; the CRM follows"
TB_NAME="$(cat /proc/sys/kernel/random/uuid).ics"; TB_UID="tb-$RANDOM"
D3=$(date -u -d '+11 days' +%Y%m%d)
event_ics "$TB_UID" "Made in Thunderbird" "${D3}T140000Z" "${D3}T150000Z" \
  | reqb tb-put PUT "$CAL_URL$TB_NAME" "${ICS[@]}" -H 'If-None-Match: *' "${UA_TB[@]}" >/dev/null
want tb-put 201
CTAG1=$(tb_ctag tb-ctag2)
[ "$CTAG1" != "$CTAG0" ] || { show tb-ctag2; fail "getctag did not change after a PUT"; }
crm_subjects | has -x "Made in Thunderbird" || fail "Thunderbird's event is not in the CRM"
ET=$(hdr tb-put ETag)
if [ -z "$ET" ]; then  # the server changed the item: Thunderbird asks for the etag
  reqb tb-getetag PROPFIND "$CAL_URL$TB_NAME" -H 'Depth: 0' "${XML[@]}" "${UA_TB[@]}" >/dev/null <<'XML'
<?xml version="1.0" encoding="UTF-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>
XML
  want tb-getetag 207
  ET=$(prop tb-getetag "$CAL$TB_NAME" D:getetag)
fi
event_ics "$TB_UID" "Made in Thunderbird (edited)" "${D3}T140000Z" "${D3}T160000Z" "SEQUENCE:1\r\n" \
  | reqb tb-edit PUT "$CAL_URL$TB_NAME" "${ICS[@]}" -H "If-Match: $ET" "${UA_TB[@]}" >/dev/null
want tb-edit 204 200 201
[ "$(tb_ctag tb-ctag3)" != "$CTAG1" ] || { show tb-ctag3; fail "getctag did not change after an edit"; }
printf '<?xml version="1.0" encoding="UTF-8"?><C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop><D:href>%s</D:href></C:calendar-multiget>' "$CAL$TB_NAME" \
  | reqb tb-multiget2 REPORT "$CAL_URL" -H 'Depth: 1' "${XML[@]}" "${UA_TB[@]}" >/dev/null
want tb-multiget2 207
need_prop tb-multiget2 "$CAL$TB_NAME" C:calendar-data 'SUMMARY:Made in Thunderbird \(edited\)'
crm_subjects | has -x "Made in Thunderbird (edited)" || fail "Thunderbird's edit is not in the CRM"
ET=$(prop tb-multiget2 "$CAL$TB_NAME" D:getetag)
req tb-delete DELETE "$CAL_URL$TB_NAME" -H "If-Match: $ET" "${UA_TB[@]}" >/dev/null
want tb-delete 204 200
req tb-gone GET "$CAL_URL$TB_NAME" "${UA_TB[@]}" >/dev/null
want tb-gone 404
crm_subjects | has "Made in Thunderbird" && fail "Thunderbird's deletion did not remove the CRM activity"

# ---------------------------------------------------------------------------
step "security: another user's collections and resources answer 404, to reads and writes"
ADMIN_TOKEN=$(curl -sf -X POST -H 'Content-Type: application/json' -d "{\"login\":\"admin\",\"password\":\"$ADMIN_PW\"}" \
  "$BASE/api/v1/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') || fail "admin login failed"
BOB_ID=$(curl -sf -X POST -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
  -d '{"login":"bob","password":"bob-pw-e2e","role":"user","display_name":"Bob"}' "$BASE/api/v1/users" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') || fail "creating user bob failed"
BOB_CAL="/dav/calendars/$BOB_ID/appointments/"
AS=bob:bob-pw-e2e reqb bob-cup PROPFIND "$BASE/dav/" -H 'Depth: 0' "${XML[@]}" >/dev/null <<<"$PROPFIND_CUP"
want bob-cup 207
need_prop bob-cup /dav/ D:current-user-principal "^/dav/principals/$BOB_ID/\$"
event_ics "bob-secret" "Bob's secret meeting" "${D1}T080000Z" "${D1}T090000Z" \
  | AS=bob:bob-pw-e2e reqb bob-put PUT "$BASE${BOB_CAL}bob-secret.ics" "${ICS[@]}" -H 'If-None-Match: *' >/dev/null
want bob-put 201
req x-home PROPFIND "$BASE/dav/calendars/$BOB_ID/" -H 'Depth: 1' >/dev/null; want x-home 404
req x-cal PROPFIND "$BASE$BOB_CAL" -H 'Depth: 1' >/dev/null; want x-cal 404
req x-get GET "$BASE${BOB_CAL}bob-secret.ics" >/dev/null; want x-get 404
reqb x-report REPORT "$BASE$BOB_CAL" -H 'Depth: 0' "${XML[@]}" >/dev/null <<'XML'
<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>
XML
want x-report 404
req x-delete DELETE "$BASE${BOB_CAL}bob-secret.ics" >/dev/null; want x-delete 404
event_ics "intruder" "Planted by demo" "${D1}T080000Z" "${D1}T090000Z" \
  | reqb x-put PUT "$BASE${BOB_CAL}intruder.ics" "${ICS[@]}" >/dev/null
want x-put 404
event_ics "bob-secret" "Overwritten by demo" "${D1}T080000Z" "${D1}T090000Z" \
  | reqb x-overwrite PUT "$BASE${BOB_CAL}bob-secret.ics" "${ICS[@]}" >/dev/null
want x-overwrite 404
AS=bob:bob-pw-e2e req bob-get GET "$BASE${BOB_CAL}bob-secret.ics" >/dev/null
want bob-get 200
has "Bob's secret meeting" < "$WORK/r/bob-get.body" || { show bob-get; fail "bob's event was changed by demo"; }
AS=bob:bob-pw-e2e req bob-list PROPFIND "$BASE$BOB_CAL" -H 'Depth: 1' >/dev/null
want bob-list 207
ics_hrefs bob-list | has intruder && fail "demo planted a resource in bob's calendar"
req x-principal PROPFIND "$BASE/dav/principals/$BOB_ID/" -H 'Depth: 0' >/dev/null
echo "note: another user's principal answers $(code x-principal)"
# bob's own CRM event stays out of demo's calendar
reqb own-only PROPFIND "$CAL_URL" -H 'Depth: 1' "${XML[@]}" >/dev/null <<'XML'
<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>
XML
want own-only 207
[ "$(ics_hrefs own-only | wc -l)" = "$N" ] || { show own-only; fail "demo's calendar holds $(ics_hrefs own-only | wc -l) resources, want $N"; }

step "security: XML with a DOCTYPE or entities is refused with 400, never expanded"
reqb xml-laughs PROPFIND "$CAL_URL" -H 'Depth: 0' "${XML[@]}" >/dev/null <<'XML'
<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<D:propfind xmlns:D="DAV:"><D:prop><D:displayname/><D:x>&lol3;</D:x></D:prop></D:propfind>
XML
want xml-laughs 400
reqb xml-xxe REPORT "$CAL_URL" -H 'Depth: 1' "${XML[@]}" >/dev/null <<'XML'
<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><D:href>&xxe;</D:href></C:calendar-multiget>
XML
want xml-xxe 400
has 'root:' < "$WORK/r/xml-xxe.body" && fail "the answer holds /etc/passwd"
reqb xml-bad PROPFIND "$CAL_URL" -H 'Depth: 0' "${XML[@]}" >/dev/null <<<'<D:propfind xmlns:D="DAV:"><D:prop><D:getetag></D:prop>'
want xml-bad 400

step "security: Depth infinity answers 403 (propfind-finite-depth)"
for u in "$BASE$HOME_SET" "$CAL_URL" "$BASE/dav/"; do
  req depth-inf PROPFIND "$u" -H 'Depth: infinity' >/dev/null
  want depth-inf 403
  has 'propfind-finite-depth' < "$WORK/r/depth-inf.body" \
    || echo "note: PROPFIND Depth infinity on $u: the 403 lacks DAV:propfind-finite-depth (RFC 4918 9.1 SHOULD)"
done

step "security: malformed or unsupported iCalendar is refused, nothing lost"
crm; cp "$WORK/acts.json" "$WORK/acts-before.json"
ET=$(etag_of "$BASE$CH"); cp "$WORK/r/etag_of.body" "$WORK/chosen-before.ics"
refused() {  # NAME: a 4xx the brief allows for bad calendar data
  case "$(code "$1")" in 400|403|415) ;; *) show "$1"; fail "$1 answered $(code "$1"), want 400/403/415";; esac
}
printf 'BEGIN:VCALENDAR\r\nthis is not iCalendar\r\n' \
  | reqb ical-garbage PUT "${CAL_URL}garbage.ics" "${ICS[@]}" >/dev/null
refused ical-garbage
printf 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:broken\r\nDTSTART:2031-13-45T99\r\nSUMMARY:bad date\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n' \
  | reqb ical-baddate PUT "${CAL_URL}baddate.ics" "${ICS[@]}" >/dev/null
refused ical-baddate
printf '{"subject":"json"}' | reqb ical-json PUT "${CAL_URL}json.ics" -H 'Content-Type: application/json' >/dev/null
refused ical-json
[ "$(code ical-json)" = 415 ] || has 'supported-calendar-data' < "$WORK/r/ical-json.body" \
  || { show ical-json; defect "a PUT of Content-Type application/json answered $(code ical-json) without CALDAV:supported-calendar-data (RFC 4791 5.3.2.1; or 415)"; }
printf 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VTODO\r\nUID:todo-1\r\nDTSTAMP:20300101T000000Z\r\nSUMMARY:a task\r\nEND:VTODO\r\nEND:VCALENDAR\r\n' \
  | reqb ical-vtodo PUT "${CAL_URL}todo-1.ics" "${ICS[@]}" >/dev/null
refused ical-vtodo
[ "$(code ical-vtodo)" = 403 ] && has 'supported-calendar-component' < "$WORK/r/ical-vtodo.body" \
  || echo "note: a VTODO PUT answered $(code ical-vtodo) without CALDAV:supported-calendar-component (RFC 4791 5.3.2.1 wants 403 with it)"
{ event_ics "two-a" "Two UIDs a" "${D1}T090000Z" "${D1}T100000Z" | sed '$d'
  printf 'BEGIN:VEVENT\r\nUID:two-b\r\nDTSTAMP:20300101T000000Z\r\nDTSTART:%sT110000Z\r\nSUMMARY:Two UIDs b\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n' "$D1"; } \
  | reqb ical-twouid PUT "${CAL_URL}twouid.ics" "${ICS[@]}" >/dev/null
refused ical-twouid
event_ics "$CH_UID" "Same UID elsewhere" "${D1}T090000Z" "${D1}T100000Z" \
  | reqb ical-uidconflict PUT "${CAL_URL}uid-conflict.ics" "${ICS[@]}" -H 'If-None-Match: *' >/dev/null
case "$(code ical-uidconflict)" in 403|409) ;; *) show ical-uidconflict; fail "a second resource with an existing UID answered $(code ical-uidconflict), want 403 CALDAV:no-uid-conflict (RFC 4791 5.3.2.1)";; esac
printf 'BEGIN:VCALENDAR\r\nnot any more\r\n' \
  | reqb ical-overwrite PUT "$BASE$CH" "${ICS[@]}" -H "If-Match: $ET" >/dev/null
refused ical-overwrite
for n in garbage baddate json todo-1 twouid uid-conflict; do
  req "gone-$n" GET "${CAL_URL}$n.ics" >/dev/null; want "gone-$n" 404
done
[ "$(etag_of "$BASE$CH")" = "$ET" ] && cmp -s "$WORK/r/etag_of.body" "$WORK/chosen-before.ics" \
  || fail "a refused PUT changed $CH"
crm
python3 -c 'import json,sys
a=lambda f: sorted((x["id"], x["version"]) for x in json.load(open(f))["items"])
sys.exit(a(sys.argv[1]) != a(sys.argv[2]))' "$WORK/acts-before.json" "$WORK/acts.json" \
  || fail "a refused PUT changed the CRM"

step "security: a stale If-Match answers 412 (PUT and DELETE), If-None-Match * on an existing one 412"
event_ics "$CH_UID" "Chosen name event (v2)" "${D1}T090000Z" "${D1}T100000Z" \
  | reqb ifm-ok PUT "$BASE$CH" "${ICS[@]}" -H "If-Match: $ET" >/dev/null
want ifm-ok 204 200 201
event_ics "$CH_UID" "Chosen name event (stale)" "${D1}T090000Z" "${D1}T100000Z" \
  | reqb ifm-stale PUT "$BASE$CH" "${ICS[@]}" -H "If-Match: $ET" >/dev/null
want ifm-stale 412
req ifm-stale-del DELETE "$BASE$CH" -H "If-Match: $ET" >/dev/null
want ifm-stale-del 412
req ifm-bogus-del DELETE "$BASE$CH" -H 'If-Match: "no-such-etag"' >/dev/null
want ifm-bogus-del 412
req ifm-after GET "$BASE$CH" >/dev/null
want ifm-after 200
has 'Chosen name event (v2)' < "$WORK/r/ifm-after.body" || { show ifm-after; fail "the stale writes changed $CH"; }
crm_subjects | has -x 'Chosen name event (v2)' || fail "the CRM does not hold the accepted edit"
event_ics "new-$RANDOM" "Conditional on a missing one" "${D1}T090000Z" "${D1}T100000Z" \
  | reqb ifm-missing PUT "${CAL_URL}missing-$RANDOM.ics" "${ICS[@]}" -H 'If-Match: "x"' >/dev/null
want ifm-missing 412

# ---------------------------------------------------------------------------
step "vdirsyncer: first two-way sync brings the appointments into a local vdir"
VDIR="$WORK/vdir"; mkdir -p "$VDIR" "$WORK/vdirsyncer-status"
cat > "$WORK/vdirsyncer.conf" <<EOF
[general]
status_path = "$WORK/vdirsyncer-status/"

[pair crm]
a = "crm_remote"
b = "crm_local"
collections = null

[storage crm_remote]
type = "caldav"
url = "$CAL_URL"
username = "demo"
password = "demo"

[storage crm_local]
type = "filesystem"
path = "$VDIR/"
fileext = ".ics"
EOF
# SUMMARY values of the vdir's events (unfolded, unescaped), one a line
vdir_summaries() {
  python3 - "$VDIR" <<'PY' | sort
import glob, os, sys
for f in glob.glob(os.path.join(sys.argv[1], "*.ics")):
    text = open(f, encoding="utf-8").read().replace("\r\n", "\n").replace("\n ", "").replace("\n\t", "")
    for line in text.split("\n"):
        if line.startswith("SUMMARY"):
            v = line.split(":", 1)[1]
            print(v.replace("\\,", ",").replace("\\;", ";").replace("\\n", " ").replace("\\\\", "\\"))
PY
}
vs vs-discover discover
vs vs-sync1 sync
N_VDIR=$(find "$VDIR" -name '*.ics' | wc -l)
N=$(crm_subjects | wc -l)
echo "vdir: $N_VDIR items; CRM: $N events"
[ "$N_VDIR" = "$N" ] || fail "the first sync brought $N_VDIR items, the CRM has $N events"
diff <(crm_subjects) <(vdir_summaries | sort -u) > "$WORK/subjects.diff" \
  || { cat "$WORK/subjects.diff"; fail "the vdir's SUMMARYs are not the CRM's subjects"; }

step "vdirsyncer: a creation, an edit and a deletion in the vdir reach the CRM"
D4=$(date -u -d '+6 days' +%Y%m%d)
event_ics "vdir-new-1" "Made in the vdir" "${D4}T100000Z" "${D4}T110000Z" "LOCATION:Desk\r\n" > "$VDIR/vdir-new-1.ics"
f=$(vdir_item SUMMARY 'Fabrikam discovery workshop') || true
[ -n "$f" ] || fail "no vdir item for 'Fabrikam discovery workshop'"
sed -i 's/^SUMMARY:Fabrikam discovery workshop/& (vdir edit)/' "$f"
f=$(vdir_item SUMMARY 'Quarterly business review with Andrew') || true
[ -n "$f" ] || fail "no vdir item for 'Quarterly business review with Andrew'"
rm "$f"
vs vs-sync2 sync
crm_subjects > "$WORK/crm2.txt"
has -x 'Made in the vdir' < "$WORK/crm2.txt" || fail "the vdir's creation is not in the CRM"
has -x 'Fabrikam discovery workshop (vdir edit)' < "$WORK/crm2.txt" || fail "the vdir's edit is not in the CRM"
has -x 'Fabrikam discovery workshop' < "$WORK/crm2.txt" && fail "the vdir's edit left the old subject in the CRM"
has -x 'Quarterly business review with Andrew' < "$WORK/crm2.txt" && fail "the vdir's deletion did not reach the CRM"
python3 -c 'import json,sys
m=[a for a in json.load(open(sys.argv[1]))["items"] if a["subject"]=="Made in the vdir"]
assert len(m)==1 and m[0]["location"]=="Desk" and m[0]["start"].startswith(sys.argv[2]), m' \
  "$WORK/acts.json" "$(date -u -d '+6 days' +%Y-%m-%d)T10:00:00" || fail "the vdir's creation arrived with other fields"

step "vdirsyncer: a creation, an edit and a deletion in the CRM (tandem CLI) reach the vdir"
KDAY=$(date -u -d '+5 days' +%Y-%m-%d)
"$TANDEM" activities add --subject "Made in the CRM" --start "$KDAY 15:00" --end "$KDAY 16:00" --location "CRM room" \
  >/dev/null || fail "CLI add failed"
"$TANDEM" activities edit "$(crm_id 'Renewal negotiation with Northwind')" --subject 'Renewal negotiation with Northwind (CRM edit)' \
  >/dev/null || fail "CLI edit failed"
"$TANDEM" activities delete "$(crm_id 'Call Janet about the pilot scope')" >/dev/null || fail "CLI delete failed"
vs vs-sync3 sync
vdir_summaries > "$WORK/vdir3.txt"
has -x 'Made in the CRM' < "$WORK/vdir3.txt" || fail "the CRM's creation is not in the vdir"
has -x 'Renewal negotiation with Northwind (CRM edit)' < "$WORK/vdir3.txt" || fail "the CRM's edit is not in the vdir"
has -x 'Renewal negotiation with Northwind' < "$WORK/vdir3.txt" && fail "the CRM's edit left the old SUMMARY in the vdir"
has -x 'Call Janet about the pilot scope' < "$WORK/vdir3.txt" && fail "the CRM's deletion did not reach the vdir"
diff <(crm_subjects) <(sort -u "$WORK/vdir3.txt") > "$WORK/subjects.diff" \
  || { cat "$WORK/subjects.diff"; fail "after the syncs the vdir and the CRM differ"; }

step "vdirsyncer: a sync without changes changes nothing on either side"
snapshot() { (cd "$VDIR" && sha256sum -- *.ics | sort); crm; python3 -c 'import json,sys
for a in sorted(json.load(open(sys.argv[1]))["items"], key=lambda a: a["id"]): print(a["id"], a["version"])' "$WORK/acts.json"; }
vs_unchanged vs-sync4 snapshot

step "khal lists the event created in the CRM from the vdir"
cat > "$WORK/khal.conf" <<EOF
[calendars]
[[crm]]
path = $VDIR/
type = calendar

[locale]
local_timezone = UTC
default_timezone = UTC
timeformat = %H:%M
dateformat = %Y-%m-%d
longdateformat = %Y-%m-%d
datetimeformat = %Y-%m-%d %H:%M
longdatetimeformat = %Y-%m-%d %H:%M

[sqlite]
path = $WORK/khal.db
EOF
khal -c "$WORK/khal.conf" list "$KDAY" 1d > "$WORK/khal.out" 2>&1 || { cat "$WORK/khal.out"; fail "khal list failed"; }
cat "$WORK/khal.out"
has '15:00-16:00 Made in the CRM' < "$WORK/khal.out" || fail "khal does not show 'Made in the CRM' at 15:00-16:00 on $KDAY"
khal -c "$WORK/khal.conf" list "$(date -u -d '+4 days' +%Y-%m-%d)" 1d > "$WORK/khal-before.out" 2>&1 || true
has 'Made in the CRM' < "$WORK/khal-before.out" && fail "khal shows 'Made in the CRM' on the day before"
khal -c "$WORK/khal.conf" list today 30d > "$WORK/khal-month.out" 2>&1 || { cat "$WORK/khal-month.out"; fail "khal list 30d failed"; }
for s in 'Made in the vdir' 'Fabrikam discovery workshop (vdir edit)' 'Weekly pipeline review'; do
  has -F "$s" < "$WORK/khal-month.out" || { cat "$WORK/khal-month.out"; fail "khal does not list '$s' in the next 30 days"; }
done
finish "davserver clients: all steps passed"
