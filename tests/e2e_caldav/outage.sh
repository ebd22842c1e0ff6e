#!/usr/bin/env bash
# outage.sh TANDEMD TANDEM PEERS_DIR
# A calendar server that goes away in the middle of a run, as a user meets it
# (issue: sync safety). A proxy in front of Radicale exits after 10 PUTs of a
# run that has 30 CRM activities to send:
#  - the run stops as "calendar unreachable" after a few failed items (not one
#    attempt per item), keeps what it did, and says how many are left;
#  - `tandem sync now` and `tandem sync status` say the calendar is unreachable
#    (not tandemd), with exit code 6;
#  - once the server is back, the next run sends the rest: every activity is on
#    the calendar once.
set -euo pipefail
TANDEMD=$1; TANDEM=$2; PEERS=$3
E2E_NAME=outage
source "$(dirname "$0")/common.sh"
FAIL_LOGS=("$WORK/tandemd.log" "$WORK/ctl/requests.log")
DAV_PORT=$(free_port); PROXY_PORT=$(free_port); PORT=$(free_port)
export HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/cfg"; mkdir -p "$HOME" "$WORK/ctl"
start_radicale "$PEERS" "$DAV_PORT"
PROXY_PID=
start_proxy() {
  python3 "$(dirname "$0")/dav_proxy.py" "$PROXY_PORT" "$DAV_PORT" "$WORK/ctl" &
  PROXY_PID=$!
  PIDS+=($PROXY_PID)
  for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$PROXY_PORT/" && return 0; sleep 0.1; done
  fail "the proxy did not start"
}
start_proxy
"$TANDEMD" --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" --demo >"$WORK/tandemd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
printf 'demo\n' > "$WORK/pw"; printf 'secret\n' > "$WORK/calpw"
"$TANDEM" login --server "http://127.0.0.1:$PORT" --user demo --password-file "$WORK/pw" >/dev/null
"$TANDEM" sync pair add --caldav "http://127.0.0.1:$PROXY_PORT/alice/crm/" --user alice \
  --password-file "$WORK/calpw" >/dev/null || fail "pair add failed"
PAIR=$("$TANDEM" sync pair list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
before=$("$TANDEM" activities list --owner me --all --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')

step "30 new CRM activities; the calendar server goes away after 10 of them"
touch "$WORK/ctl/stall"  # the run the changes trigger waits until all 30 are in
for i in $(seq 1 30); do
  "$TANDEM" activities add --subject "Outage visit $i" --start "$(date -d tomorrow +%F) 09:00" >/dev/null
done
puts_before=$(grep -c '^PUT ' "$WORK/ctl/requests.log" || true)
echo $((puts_before + 10)) > "$WORK/ctl/die-after-puts"
rc=0
"$TANDEM" sync now "$PAIR" >"$WORK/now.out" 2>&1 &
NOW=$!
sleep 4  # past the change feed's debounce: the triggered run is waiting on the proxy
rm -f "$WORK/ctl/stall"
wait "$NOW" || rc=$?
cat "$WORK/now.out"
grep -q "proxy going away" "$WORK/ctl/requests.log" || fail "the proxy never went away"
[ "$rc" = 6 ] || fail "sync now: exit $rc, expected 6 (calendar unreachable)"
grep -qi "calendar" "$WORK/now.out" || fail "sync now did not name the calendar"
grep -q "127.0.0.1:$PORT" "$WORK/now.out" && fail "sync now blamed tandemd"

step "the stopped run kept what it did and says what is left"
python3 - "$WORK/data/tandem.db" "$PAIR" <<'PY' || fail "the cut run is not recorded as unreachable"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
outcomes = [r[0] for r in db.execute(
    "SELECT outcome FROM sync_runs WHERE pair_id=? AND dry_run=0 ORDER BY started", (sys.argv[2],))]
cut = [o for o in outcomes if o.startswith("calendar unreachable")]
assert cut, outcomes
failed = db.execute("SELECT count(*) FROM sync_log WHERE pair_id=? AND error<>''", (sys.argv[2],)).fetchone()[0]
# Stopped after a few failures (3), not one failure per item left (20).
assert 1 <= failed <= 6, f"{failed} failed items logged: met item by item"
print("cut run:", cut[-1][:160])
PY
n=$(curl -s -u alice:secret "http://127.0.0.1:$DAV_PORT/alice/crm/" | grep -c '^SUMMARY:Outage visit' || true)
[ "$n" = 10 ] || fail "$n of the first 10 visits reached the calendar"
"$TANDEM" sync status >"$WORK/status.out" || true
cat "$WORK/status.out"
grep -q "calendar unreachable\|failed" "$WORK/status.out" || fail "sync status does not show the failure"
grep -q "(ok)" "$WORK/status.out" && fail "sync status says ok"

step "the server is back: the next run sends the rest, none twice"
rm -f "$WORK/ctl/die-after-puts"
start_proxy
"$TANDEM" sync now "$PAIR" >"$WORK/again.out" 2>&1 || { cat "$WORK/again.out"; fail "sync after the outage failed"; }
cat "$WORK/again.out"
ics=$(curl -s -u alice:secret "http://127.0.0.1:$DAV_PORT/alice/crm/")
for i in $(seq 1 30); do
  n=$(grep -c "^SUMMARY:Outage visit $i\s*$" <<<"$ics" || true)
  [ "$n" = 1 ] || fail "Outage visit $i is $n times on the calendar"
done
after=$("$TANDEM" activities list --owner me --all --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
[ "$after" = $((before + 30)) ] || fail "the CRM has $after activities, expected $((before + 30))"
echo "outage: all checks passed"
