#!/usr/bin/env bash
# The CRM's contacts as a CardDAV address book (tandemd /dav/addressbooks/<id>/contacts/)
# against real clients on 127.0.0.1:
#  - DAVx5's CardDAV discovery and first sync, replayed with curl (well-known ->
#    principal -> addressbook-home-set -> the book -> sync-collection -> multiget);
#  - vdirsyncer two-way with a local vdir of .vcf files: creations, edits and
#    deletions both ways, unmodeled properties (ADR, X-) kept, a no-change sync
#    changing nothing;
#  - khard reading that vdir (names, e-mails, the account as organisation) and
#    creating a contact in it that reaches the CRM;
#  - per-device app passwords (`tandem app-password add|list|revoke`): vdirsyncer
#    signs in with one; revoked, it is refused at once while the login password
#    and another app password still work.
# Usage: contacts.sh TANDEMD TANDEM PEERS_DIR
set -euo pipefail
TANDEMD=$1; TANDEM=$2; PEERS=$3
E2E_NAME=davserver-contacts
source "$(dirname "$0")/lib.sh"
for tool in curl vdirsyncer khard python3; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (apt-get install $tool)"
done
VCF=(-H 'Content-Type: text/vcard; charset=utf-8')

step "start tandemd --demo"
start_tandemd "$TANDEMD"
printf 'demo\n' > "$WORK/pw"
"$TANDEM" login --server "$BASE" --user demo --password-file "$WORK/pw" >/dev/null || fail "CLI login failed"
demo_id
BOOK="/dav/addressbooks/$DEMO_ID/contacts/"
BOOK_URL="$BASE$BOOK"
contacts_json() { "$TANDEM" contacts list --owner me --all --json > "$WORK/contacts.json" || fail "contacts list failed"; }
# "First Last" of the demo user's CRM contacts, sorted
crm_names() {
  contacts_json
  python3 -c 'import json,sys
for c in json.load(open(sys.argv[1]))["items"]: print((c["first_name"] + " " + c["last_name"]).strip())' \
    "$WORK/contacts.json" | sort
}
crm_contact() {  # "First Last" -> the contact as JSON
  contacts_json
  python3 -c 'import json,sys
m=[c for c in json.load(open(sys.argv[1]))["items"] if (c["first_name"]+" "+c["last_name"]).strip()==sys.argv[2]]
assert len(m)==1, (sys.argv[2], len(m)); print(json.dumps(m[0]))' "$WORK/contacts.json" "$1" \
    || fail "no single CRM contact '$1'"
}
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# ---------------------------------------------------------------------------
step "DAVx5's CardDAV discovery, replayed: well-known -> principal -> home -> address book"
req wk GET "$BASE/.well-known/carddav" >/dev/null
want wk 301
reqb cup PROPFIND "$BASE/dav/" -H 'Depth: 0' "${XML[@]}" >/dev/null <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>
XML
want cup 207
reqb home PROPFIND "$BASE/dav/principals/$DEMO_ID/" -H 'Depth: 0' "${XML[@]}" >/dev/null <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<propfind xmlns="DAV:" xmlns:CARD="urn:ietf:params:xml:ns:carddav"><prop>
<CARD:addressbook-home-set/><displayname/></prop></propfind>
XML
want home 207
need_prop home "/dav/principals/$DEMO_ID/" CARD:addressbook-home-set "/dav/addressbooks/$DEMO_ID/"
reqb books PROPFIND "$BASE/dav/addressbooks/$DEMO_ID/" -H 'Depth: 1' "${XML[@]}" >/dev/null <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<propfind xmlns="DAV:" xmlns:CARD="urn:ietf:params:xml:ns:carddav" xmlns:CS="http://calendarserver.org/ns/">
<prop><resourcetype/><displayname/><current-user-privilege-set/><CARD:addressbook-description/>
<CARD:supported-address-data/><CS:getctag/><sync-token/></prop></propfind>
XML
want books 207
need_prop books "$BOOK" D:resourcetype 'addressbook'
need_prop books "$BOOK" D:displayname 'Contacts'
need_prop books "$BOOK" D:current-user-privilege-set 'write'
need_prop books "$BOOK" D:sync-token 'urn:tandem:sync:'
reqb sync1 REPORT "$BOOK_URL" -H 'Depth: 1' "${XML[@]}" >/dev/null <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>
XML
want sync1 207
N_DEMO=$(ms sync1 | awk -F'\t' '$1 ~ /\.vcf$/ && $2=="D:getetag" && $3=="200"' | wc -l)
N_CRM=$(crm_names | wc -l)
[ "$N_DEMO" = "$N_CRM" ] && [ "$N_CRM" -gt 0 ] || { show sync1; fail "sync-collection lists $N_DEMO cards, the CRM has $N_CRM contacts"; }
TOKEN1=$(stoken sync1)
HREFS=$(ms sync1 | awk -F'\t' '$1 ~ /\.vcf$/ {print "<href>" $1 "</href>"}' | sort -u | tr -d '\n')
reqb mget REPORT "$BOOK_URL" -H 'Depth: 1' "${XML[@]}" >/dev/null <<XML
<?xml version="1.0" encoding="UTF-8"?>
<CARD:addressbook-multiget xmlns="DAV:" xmlns:CARD="urn:ietf:params:xml:ns:carddav">
<prop><getetag/><CARD:address-data/></prop>$HREFS</CARD:addressbook-multiget>
XML
want mget 207
has 'FN:Nancy Davolio' < "$WORK/r/mget.body" || { show mget; fail "multiget does not hold Nancy Davolio's card"; }
has 'ORG:Northwind' < "$WORK/r/mget.body" || { show mget; fail "Nancy's card does not name her account as ORG"; }
has 'TITLE:Purchasing Manager' < "$WORK/r/mget.body" || { show mget; fail "Nancy's card lacks her title"; }

step "a phone's new card (If-None-Match: *) is a CRM contact; the next sync-collection reports it"
printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:phone-card-1\r\nFN:Olga Phone\r\nN:Phone;Olga;;;\r\nEMAIL;TYPE=INTERNET,WORK:olga@contoso.example\r\nTEL;TYPE=CELL:+1 555 0142\r\nORG:Contoso Pharmaceuticals\r\nADR;TYPE=WORK:;;5 Harbour Rd;Seattle;WA;98101;USA\r\nX-PHONE-RINGTONE:bells\r\nEND:VCARD\r\n' \
  | reqb put1 PUT "${BOOK_URL}3F2A-phone.vcf" "${VCF[@]}" -H 'If-None-Match: *' >/dev/null
want put1 201
OLGA=$(crm_contact 'Olga Phone')
[ "$(field "$OLGA" email)" = olga@contoso.example ] || fail "the phone's card arrived with e-mail '$(field "$OLGA" email)'"
[ -n "$(field "$OLGA" account_id)" ] || fail "ORG:Contoso Pharmaceuticals did not link the contact to the Contoso account"
reqb sync2 REPORT "$BOOK_URL" -H 'Depth: 1' "${XML[@]}" >/dev/null <<XML
<?xml version="1.0" encoding="UTF-8"?>
<sync-collection xmlns="DAV:"><sync-token>$TOKEN1</sync-token><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>
XML
want sync2 207
[ "$(ms sync2 | awk -F'\t' '$1 ~ /\.vcf$/' | cut -f1 | sort -u)" = "${BOOK}3F2A-phone.vcf" ] \
  || { show sync2; fail "sync-collection after one PUT does not report exactly that card"; }
req get1 GET "${BOOK_URL}3F2A-phone.vcf" >/dev/null
want get1 200
has 'ADR;TYPE=WORK:;;5 Harbour Rd;Seattle;WA;98101;USA' < "$WORK/r/get1.body" || { show get1; fail "the card lost its ADR"; }
has 'X-PHONE-RINGTONE:bells' < "$WORK/r/get1.body" || { show get1; fail "the card lost its X- property"; }
ETAG1=$(hdr get1 ETag)
printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:phone-card-1\r\nFN:Olga Stale\r\nN:Stale;Olga;;;\r\nEND:VCARD\r\n' \
  | reqb stale PUT "${BOOK_URL}3F2A-phone.vcf" "${VCF[@]}" -H 'If-Match: "1-0"' >/dev/null
want stale 412
printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bad\r\nEMAIL:no-name@example.com\r\nEND:VCARD\r\n' \
  | reqb noname PUT "${BOOK_URL}bad.vcf" "${VCF[@]}" >/dev/null
want noname 403
has 'valid-address-data' < "$WORK/r/noname.body" || { show noname; fail "a card without a name is not refused as valid-address-data"; }
crm_names | has -x 'Olga Stale' && fail "a stale write reached the CRM"
[ -n "$ETAG1" ] || fail "GET answered no ETag"

# ---------------------------------------------------------------------------
step "tandem app-password add: a password for vdirsyncer, shown once, working at once"
"$TANDEM" --json app-password add --name vdirsyncer > "$WORK/app-pw.json" || fail "app-password add failed"
APP_PW=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["password"])' "$WORK/app-pw.json")
grep -Eq '^[a-z2-9]{4}(-[a-z2-9]{4}){3}$' <<<"$APP_PW" || fail "the app password '$APP_PW' is not 4 groups of 4"
"$TANDEM" app-password add --name phone > "$WORK/app-pw2.out" || fail "app-password add (text) failed"
has 'shown only now' < "$WORK/app-pw2.out" || { cat "$WORK/app-pw2.out"; fail "app-password add does not say the password is shown once"; }
"$TANDEM" app-password add --name phone > /dev/null 2>&1 && fail "a second app password named 'phone' was accepted"
"$TANDEM" app-password list > "$WORK/app-pw-list.out" || fail "app-password list failed"
has -E '^phone ' < "$WORK/app-pw-list.out" && has -E '^vdirsyncer ' < "$WORK/app-pw-list.out" \
  || { cat "$WORK/app-pw-list.out"; fail "app-password list does not name both"; }
has -F "$APP_PW" < "$WORK/app-pw-list.out" && fail "app-password list shows a password"
has -F "$APP_PW" < "$WORK/tandemd.log" && fail "tandemd logged an app password"
AS="demo:$APP_PW" req app-ok PROPFIND "$BOOK_URL" -H 'Depth: 0' >/dev/null
want app-ok 207
AS="demo:$APP_PW" req app-rest POST "$BASE/api/v1/login" -H 'Content-Type: application/json' \
  --data "{\"login\":\"demo\",\"password\":\"$APP_PW\"}" >/dev/null
want app-rest 401

step "vdirsyncer: first two-way sync brings the contacts into a local vdir"
VDIR="$WORK/contacts"; mkdir -p "$VDIR" "$WORK/vs-status"
cat > "$WORK/vdirsyncer.conf" <<EOF
[general]
status_path = "$WORK/vs-status/"

[pair book]
a = "book_remote"
b = "book_local"
collections = null

[storage book_remote]
type = "carddav"
url = "$BOOK_URL"
username = "demo"
password = "$APP_PW"

[storage book_local]
type = "filesystem"
path = "$VDIR/"
fileext = ".vcf"
EOF
vdir_names() {  # the FN of every card in the vdir, sorted
  python3 - "$VDIR" <<'PY' | sort
import glob, os, sys
for f in glob.glob(os.path.join(sys.argv[1], "*.vcf")):
    text = open(f, encoding="utf-8").read().replace("\r\n", "\n").replace("\n ", "")
    for line in text.split("\n"):
        if line.upper().startswith("FN:") or line.upper().startswith("FN;"):
            print(line.split(":", 1)[1].replace("\\,", ","))
PY
}
vs vs-discover discover
vs vs-sync1 sync
diff <(crm_names) <(vdir_names) > "$WORK/names.diff" || { cat "$WORK/names.diff"; fail "the vdir's names are not the CRM's contacts"; }

step "vdirsyncer: a creation, an edit and a deletion in the vdir reach the CRM"
printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:vdir-card-1\r\nFN:Paula Vdir\r\nN:Vdir;Paula;;;\r\nEMAIL:paula@example.org\r\nNOTE:Met at the fair\\, booth 12\r\nEND:VCARD\r\n' > "$VDIR/vdir-card-1.vcf"
f=$(vdir_item FN 'Andrew Fuller') || true
[ -n "$f" ] || fail "no vdir card for Andrew Fuller"
sed -i 's/^TITLE:.*/TITLE:Chief Revenue Officer\r/' "$f"
f=$(vdir_item FN 'Steven Buchanan') || true
[ -n "$f" ] || fail "no vdir card for Steven Buchanan"
rm "$f"
vs vs-sync2 sync
crm_names > "$WORK/crm2.txt"
has -x 'Paula Vdir' < "$WORK/crm2.txt" || fail "the vdir's creation is not in the CRM"
has -x 'Steven Buchanan' < "$WORK/crm2.txt" && fail "the vdir's deletion did not reach the CRM"
[ "$(field "$(crm_contact 'Andrew Fuller')" job_title)" = 'Chief Revenue Officer' ] || fail "the vdir's edit of Andrew's title is not in the CRM"
[ "$(field "$(crm_contact 'Paula Vdir')" notes)" = 'Met at the fair, booth 12' ] || fail "the vdir's NOTE arrived changed"

step "vdirsyncer: a creation, an edit and a deletion in the CRM (tandem CLI) reach the vdir"
"$TANDEM" contacts add --first-name Quinn --last-name Crm --email quinn@example.net --job-title Analyst >/dev/null \
  || fail "CLI contacts add failed"
"$TANDEM" contacts edit "$(field "$(crm_contact 'Janet Leverling')" id)" --phone '+1 555 0177' >/dev/null \
  || fail "CLI contacts edit failed"
"$TANDEM" contacts delete "$(field "$(crm_contact 'Olga Phone')" id)" >/dev/null || fail "CLI contacts delete failed"
vs vs-sync3 sync
vdir_names > "$WORK/vdir3.txt"
has -x 'Quinn Crm' < "$WORK/vdir3.txt" || fail "the CRM's creation is not in the vdir"
has -x 'Olga Phone' < "$WORK/vdir3.txt" && fail "the CRM's deletion did not reach the vdir"
f=$(vdir_item FN 'Janet Leverling') || true
has 'TEL:+1 555 0177' < "$f" || { cat "$f"; fail "the CRM's edit of Janet's phone is not in the vdir"; }
diff <(crm_names) <(vdir_names) > "$WORK/names.diff" || { cat "$WORK/names.diff"; fail "after the syncs the vdir and the CRM differ"; }

step "khard reads the vdir: names, e-mails, the account as organisation"
cat > "$WORK/khard.conf" <<EOF
[addressbooks]
[[crm]]
path = $VDIR/
[general]
default_action = list
[vcard]
preferred_version = 3.0
EOF
khard -c "$WORK/khard.conf" list > "$WORK/khard-list.out" 2>&1 || { cat "$WORK/khard-list.out"; fail "khard list failed"; }
cat "$WORK/khard-list.out"
for n in 'Nancy Davolio' 'Quinn Crm' 'Paula Vdir'; do
  has -F "$n" < "$WORK/khard-list.out" || fail "khard list does not show $n"
done
khard -c "$WORK/khard.conf" email --parsable > "$WORK/khard-email.out" 2>&1 || { cat "$WORK/khard-email.out"; fail "khard email failed"; }
has -F 'nancy@northwind.example' < "$WORK/khard-email.out" || { cat "$WORK/khard-email.out"; fail "khard email does not list Nancy's address"; }
khard -c "$WORK/khard.conf" show 'Nancy Davolio' > "$WORK/khard-show.out" 2>&1 || { cat "$WORK/khard-show.out"; fail "khard show failed"; }
has -F 'Northwind' < "$WORK/khard-show.out" || { cat "$WORK/khard-show.out"; fail "khard show does not name Nancy's organisation"; }

step "khard creates a contact in the vdir; vdirsyncer brings it to the CRM"
cat > "$WORK/new.yaml" <<'EOF'
First name : Rita
Last name  : Khard
Organisation : Fabrikam Logistics
Title : Engineer
Email :
    work : rita@fabrikam.example
Phone :
    cell : +1 555 0188
Address :
    work :
        Street : 9 Mill Lane
        City : Redmond
        Code : 98052
        Country : USA
EOF
khard -c "$WORK/khard.conf" new -a crm -i "$WORK/new.yaml" > "$WORK/khard-new.out" 2>&1 </dev/null \
  || { cat "$WORK/khard-new.out"; fail "khard new failed"; }
vs vs-sync4 sync
RITA=$(crm_contact 'Rita Khard')
[ "$(field "$RITA" email)" = rita@fabrikam.example ] || fail "khard's contact arrived with e-mail '$(field "$RITA" email)'"
[ "$(field "$RITA" phone)" = '+1 555 0188' ] || fail "khard's contact arrived with phone '$(field "$RITA" phone)'"
[ "$(field "$RITA" job_title)" = Engineer ] || fail "khard's contact arrived with title '$(field "$RITA" job_title)'"
[ -n "$(field "$RITA" account_id)" ] || fail "khard's Organisation: Fabrikam did not link the Fabrikam account"
python3 -c 'import json,sys; e=json.loads(sys.argv[1])["vcard_extra"]; assert "9 Mill Lane" in e, e' "$RITA" \
  || fail "khard's address is not kept with the contact"

step "vdirsyncer: a sync without changes changes nothing on either side"
snapshot() { (cd "$VDIR" && sha256sum -- *.vcf | sort); contacts_json; python3 -c 'import json,sys
for c in sorted(json.load(open(sys.argv[1]))["items"], key=lambda c: c["id"]): print(c["id"], c["version"])' "$WORK/contacts.json"; }
vs_unchanged vs-sync5 snapshot

step "tandem app-password revoke: refused at once; the login password still works"
"$TANDEM" app-password revoke vdirsyncer > "$WORK/revoke.out" || fail "app-password revoke failed"
AS="demo:$APP_PW" req app-gone PROPFIND "$BOOK_URL" -H 'Depth: 0' >/dev/null
want app-gone 401
req login-pw PROPFIND "$BOOK_URL" -H 'Depth: 0' >/dev/null
want login-pw 207
"$TANDEM" app-password revoke vdirsyncer > /dev/null 2>&1 && fail "revoking a revoked app password succeeded"
"$TANDEM" app-password list > "$WORK/app-pw-list2.out" || fail "app-password list failed"
has -E '^vdirsyncer ' < "$WORK/app-pw-list2.out" && fail "the revoked app password is still listed"

finish "e2e davserver contacts: OK (DAVx5 discovery, vdirsyncer two-way, khard read and write, app passwords)"
