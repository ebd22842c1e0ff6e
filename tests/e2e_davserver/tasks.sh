#!/usr/bin/env bash
# The CRM's tasks as a CalDAV task list (tandemd /dav/calendars/<id>/tasks/)
# against real clients on 127.0.0.1:
#  - discovery as a tasks program does it: the calendar home lists two calendars,
#    the task list with supported-calendar-component-set VTODO;
#  - python3-caldav: the principal's calendars, the task list's todos, a todo
#    saved and completed through the library;
#  - vdirsyncer two-way with a local vdir of VTODOs: the first sync brings the CRM's
#    tasks (and no appointment), creations, edits (completion included) and
#    deletions both ways, unmodeled properties (PRIORITY, X-) kept, a no-change
#    sync changing nothing;
#  - the wrong component refused in each calendar.
# Usage: tasks.sh TANDEMD TANDEM PEERS_DIR
set -euo pipefail
TANDEMD=$1; TANDEM=$2; PEERS=$3
E2E_NAME=davserver-tasks
source "$(dirname "$0")/lib.sh"
for tool in curl vdirsyncer python3; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (apt-get install $tool)"
done
/usr/bin/python3 -c 'import caldav' 2>/dev/null || fail "python3-caldav is not installed (apt-get install python3-caldav)"
ICS=(-H 'Content-Type: text/calendar; charset=utf-8')

step "start tandemd --demo"
start_tandemd "$TANDEMD"
printf 'demo\n' > "$WORK/pw"
"$TANDEM" login --server "$BASE" --user demo --password-file "$WORK/pw" >/dev/null || fail "CLI login failed"
demo_id
TASKS="/dav/calendars/$DEMO_ID/tasks/"
TASKS_URL="$BASE$TASKS"
acts_json() { "$TANDEM" activities list --owner me --all --json > "$WORK/acts.json" || fail "activities list failed"; }
# subjects of the demo user's CRM tasks, sorted
crm_tasks() {
  acts_json
  python3 -c 'import json,sys
for a in json.load(open(sys.argv[1]))["items"]:
    if a["kind"] == "task": print(a["subject"])' "$WORK/acts.json" | sort
}
crm_task() {  # SUBJECT -> the task as JSON
  acts_json
  python3 -c 'import json,sys
m=[a for a in json.load(open(sys.argv[1]))["items"] if a["subject"]==sys.argv[2]]
assert len(m)==1, (sys.argv[2], len(m)); print(json.dumps(m[0]))' "$WORK/acts.json" "$1" \
    || fail "no single CRM activity '$1'"
}
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
todo_ics() {  # UID SUMMARY DUE [extra lines as \r\n-separated text]
  printf 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Tandem e2e//tasks//EN\r\nBEGIN:VTODO\r\nUID:%s\r\nDTSTAMP:%s\r\nDUE:%s\r\nSUMMARY:%s\r\n%bEND:VTODO\r\nEND:VCALENDAR\r\n' \
    "$1" "$(date -u +%Y%m%dT%H%M%SZ)" "$3" "$2" "${4:-}"
}
N_TASKS=$(crm_tasks | wc -l)
[ "$N_TASKS" -ge 1 ] || fail "the demo data has no task"

# ---------------------------------------------------------------------------
step "discovery: the calendar home lists the appointments and the task list"
reqb home PROPFIND "$BASE$HOME_SET" -H 'Depth: 1' "${XML[@]}" >/dev/null <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/">
<prop><resourcetype/><displayname/><C:supported-calendar-component-set/><CS:getctag/><sync-token/>
<current-user-privilege-set/></prop></propfind>
XML
want home 207
need_prop home "$TASKS" D:resourcetype 'calendar'
need_prop home "$TASKS" D:displayname 'Tasks'
need_prop home "$TASKS" C:supported-calendar-component-set 'VTODO'
need_prop home "$TASKS" D:current-user-privilege-set 'write'
need_prop home "$CAL" C:supported-calendar-component-set 'VEVENT'

step "the wrong component is refused in each calendar, and nothing is written"
event_ics "ev-in-tasks" "An event among the tasks" "20261210T100000Z" "20261210T110000Z" \
  | reqb wrong1 PUT "${TASKS_URL}ev-in-tasks.ics" "${ICS[@]}" >/dev/null
want wrong1 403
has supported-calendar-component < "$WORK/r/wrong1.body" || { show wrong1; fail "no supported-calendar-component"; }
todo_ics "todo-in-cal" "A task among the events" "20261210T100000Z" \
  | reqb wrong2 PUT "${CAL_URL}todo-in-cal.ics" "${ICS[@]}" >/dev/null
want wrong2 403
crm_tasks | has -x 'A task among the events' && fail "a refused VTODO reached the CRM"
acts_json; has 'An event among the tasks' < "$WORK/acts.json" && fail "a refused VEVENT reached the CRM"

# ---------------------------------------------------------------------------
step "python3-caldav: the task list's todos, a todo saved and completed"
/usr/bin/python3 - "$BASE/dav/" "$N_TASKS" > "$WORK/caldav.out" 2>&1 <<'PY' || { cat "$WORK/caldav.out"; fail "python3-caldav failed"; }
import sys, datetime, caldav
url, n = sys.argv[1], int(sys.argv[2])
client = caldav.DAVClient(url=url, username="demo", password="demo")
cals = {c.url.path.rstrip("/").split("/")[-1]: c for c in client.principal().calendars()}
assert set(cals) >= {"appointments", "tasks"}, sorted(cals)
todos = cals["tasks"].todos(include_completed=True)
assert len(todos) == n, (len(todos), n)
due = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(days=3)
t = cals["tasks"].save_todo(summary="Prepare the Litware demo", due=due)
uid = t.icalendar_component["uid"]
got = cals["tasks"].todo_by_uid(uid)
assert "Prepare the Litware demo" in got.data, got.data
got.complete()
again = cals["tasks"].todo_by_uid(uid)
assert "STATUS:COMPLETED" in again.data, again.data
print("ok", len(todos), "todos")
PY
cat "$WORK/caldav.out"
T=$(crm_task 'Prepare the Litware demo')
[ "$(field "$T" kind)" = task ] || fail "the todo saved through python3-caldav is not a CRM task"
grep -q 'STATUS:COMPLETED' <<<"$(field "$T" ical_extra)" || fail "the completion is not kept with the CRM task"

# ---------------------------------------------------------------------------
step "vdirsyncer: first two-way sync brings the CRM's tasks into a local vdir"
VDIR="$WORK/vdir"; mkdir -p "$VDIR/tasks" "$WORK/vdirsyncer-status"
cat > "$WORK/vdirsyncer.conf" <<EOF
[general]
status_path = "$WORK/vdirsyncer-status/"

[pair crm]
a = "crm_remote"
b = "crm_local"
collections = ["tasks"]

[storage crm_remote]
type = "caldav"
url = "$BASE/dav/"
username = "demo"
password = "demo"
item_types = ["VTODO"]

[storage crm_local]
type = "filesystem"
path = "$VDIR/"
fileext = ".ics"
EOF
VDIR="$WORK/vdir/tasks"
vdir_summaries() {
  python3 - "$VDIR" <<'PY' | sort
import glob, os, sys
for f in glob.glob(os.path.join(sys.argv[1], "*.ics")):
    text = open(f, encoding="utf-8").read().replace("\r\n", "\n").replace("\n ", "").replace("\n\t", "")
    assert "BEGIN:VTODO" in text and "BEGIN:VEVENT" not in text, f
    for line in text.split("\n"):
        if line.startswith("SUMMARY"):
            print(line.split(":", 1)[1].replace("\\,", ",").replace("\\;", ";").replace("\\\\", "\\"))
PY
}
vs vs-discover discover
vs vs-sync1 sync
diff <(crm_tasks) <(vdir_summaries) > "$WORK/tasks.diff" \
  || { cat "$WORK/tasks.diff"; fail "the vdir's VTODOs are not the CRM's tasks"; }
echo "vdir: $(find "$VDIR" -name '*.ics' | wc -l) tasks"

step "vdirsyncer: a creation, a completion and a deletion in the vdir reach the CRM"
DUE=$(date -u -d '+6 days' +%Y%m%d)T160000Z
todo_ics "vdir-todo-1" "Made in the tasks program" "$DUE" 'PRIORITY:1\r\nX-TASKS-APP:kept\r\n' \
  > "$VDIR/vdir-todo-1.ics"
f=$(vdir_item SUMMARY 'Send Contoso proposal') || true
[ -n "$f" ] || fail "no vdir item for 'Send Contoso proposal'"
python3 - "$f" <<'PY'
import sys
p = sys.argv[1]; t = open(p, encoding="utf-8").read()
t = t.replace("END:VTODO", "STATUS:COMPLETED\r\nCOMPLETED:20261205T120000Z\r\nPERCENT-COMPLETE:100\r\nEND:VTODO", 1)
open(p, "w", encoding="utf-8").write(t)
PY
f=$(vdir_item SUMMARY 'Prepare the Litware demo') || true
[ -n "$f" ] || fail "no vdir item for 'Prepare the Litware demo'"
rm "$f"
vs vs-sync2 sync
crm_tasks > "$WORK/crm2.txt"
has -x 'Made in the tasks program' < "$WORK/crm2.txt" || fail "the vdir's creation is not a CRM task"
has -x 'Prepare the Litware demo' < "$WORK/crm2.txt" && fail "the vdir's deletion did not reach the CRM"
T=$(crm_task 'Made in the tasks program')
[ "$(field "$T" end)" = "$(date -u -d '+6 days' +%Y-%m-%d)T16:00:00Z" ] || fail "the vdir's task is not due at 16:00: $T"
grep -q 'X-TASKS-APP:kept' <<<"$(field "$T" ical_extra)" || fail "the task lost X-TASKS-APP"
grep -q 'STATUS:COMPLETED' <<<"$(field "$(crm_task 'Send Contoso proposal')" ical_extra)" \
  || fail "the completion made in the vdir is not in the CRM"
[ "$(field "$(crm_task 'Send Contoso proposal')" regarding_type)" = opportunity ] \
  || fail "the completed task lost what it is regarding"

step "vdirsyncer: a creation, an edit and a deletion in the CRM (tandem CLI) reach the vdir"
KDAY=$(date -u -d '+5 days' +%Y-%m-%d)
"$TANDEM" activities add --kind task --subject "Made in the CRM" --start "$KDAY 15:00" --end "$KDAY 15:00" \
  >/dev/null || fail "CLI add failed"
"$TANDEM" activities edit "$(field "$(crm_task 'Made in the tasks program')" id)" \
  --subject 'Made in the tasks program (CRM edit)' >/dev/null || fail "CLI edit failed"
"$TANDEM" activities delete "$(field "$(crm_task 'Send Contoso proposal')" id)" >/dev/null || fail "CLI delete failed"
vs vs-sync3 sync
vdir_summaries > "$WORK/vdir3.txt"
has -x 'Made in the CRM' < "$WORK/vdir3.txt" || fail "the CRM's creation is not in the vdir"
has -x 'Made in the tasks program (CRM edit)' < "$WORK/vdir3.txt" || fail "the CRM's edit is not in the vdir"
has -x 'Send Contoso proposal' < "$WORK/vdir3.txt" && fail "the CRM's deletion did not reach the vdir"
f=$(vdir_item SUMMARY 'Made in the tasks program \(CRM edit\)') || true
grep -q '^PRIORITY:1' "$f" || fail "the CRM's edit dropped the task's PRIORITY"
diff <(crm_tasks) <(sort "$WORK/vdir3.txt") > "$WORK/tasks.diff" \
  || { cat "$WORK/tasks.diff"; fail "after the syncs the vdir and the CRM differ"; }

step "vdirsyncer: a sync without changes changes nothing on either side"
snapshot() { (cd "$VDIR" && sha256sum -- *.ics | sort); acts_json; python3 -c 'import json,sys
for a in sorted(json.load(open(sys.argv[1]))["items"], key=lambda a: a["id"]): print(a["id"], a["version"])' "$WORK/acts.json"; }
vs_unchanged vs-sync4 snapshot
finish "davserver tasks: all steps passed"
