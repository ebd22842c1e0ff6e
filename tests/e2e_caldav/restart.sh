#!/usr/bin/env bash
# restart.sh TANDEMD TANDEM PEERS_DIR
# A sync run that is slow on the calendar's side, as a user meets it (issue:
# sync safety, leases). A proxy in front of Radicale stalls the run of node A
# (tandemd with ONE HTTP worker), then:
#  - two `tandem sync now` wait on A for that run, and A still answers the API;
#  - node B on the same database answers `sync now` at once: "running on node-a";
#    still so after longer than the lease (A renews it while the run lasts);
#  - A is killed (-9) in the middle of the run and restarted: it takes its dead
#    lease over at once and `sync now` succeeds, well before the lease expires.
set -euo pipefail
TANDEMD=$1; TANDEM=$2; PEERS=$3
E2E_NAME=restart
source "$(dirname "$0")/common.sh"
FAIL_LOGS=("$WORK/node-a.log" "$WORK/node-b.log" "$WORK/ctl/requests.log")
DAV_PORT=$(free_port); PROXY_PORT=$(free_port); PA=$(free_port); PB=$(free_port)
export HOME="$WORK/home"; mkdir -p "$HOME" "$WORK/ctl"
start_radicale "$PEERS" "$DAV_PORT"
python3 "$(dirname "$0")/dav_proxy.py" "$PROXY_PORT" "$DAV_PORT" "$WORK/ctl" &
PIDS+=($!)
for n in a b; do
  # A lease of 6 s: long enough to be renewed (every 2 s), short for the test.
  printf '[sync]\nnode_name = "node-%s"\nlease_seconds = 6\ncalendar_addresses = ["public", "private", "loopback"]\n' "$n" > "$WORK/node-$n.toml"
done
NODE_PID=
start_node() {  # NAME PORT [flags]
  "$TANDEMD" --config "$WORK/node-$1.toml" --data-dir "$WORK/data" --listen "127.0.0.1:$2" \
    --threads 1 "${@:3}" >>"$WORK/node-$1.log" 2>&1 &
  NODE_PID=$!
  PIDS+=($NODE_PID)
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$2/healthz" >/dev/null && return 0; sleep 0.1; done
  fail "node $1 did not start"
}
cli() { local node=$1; shift; XDG_CONFIG_HOME="$WORK/cfg-$node" "$TANDEM" "$@"; }
wait_for() {  # SECONDS FILE PATTERN
  for _ in $(seq 1 $(($1 * 10))); do grep -q "$3" "$2" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

step "node A with a pair on Radicale (through the proxy)"
start_node a "$PA" --demo
A_PID=$NODE_PID
printf 'demo\n' > "$WORK/pw"; printf 'secret\n' > "$WORK/calpw"
cli a login --server "http://127.0.0.1:$PA" --user demo --password-file "$WORK/pw" >/dev/null
cli a sync pair add --caldav "http://127.0.0.1:$PROXY_PORT/alice/crm/" --user alice \
  --password-file "$WORK/calpw" >/dev/null || fail "pair add failed"
PAIR=$(cli a sync pair list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')

step "a run of node A stalls on the calendar server"
cli a activities add --subject "Stalled call" --start "$(date -d tomorrow +%F) 10:00" >/dev/null
touch "$WORK/ctl/stall"
cli a sync now "$PAIR" >"$WORK/now-1.out" 2>&1 & W1=$!
wait_for 20 "$WORK/ctl/requests.log" "^stalled" || fail "the run never reached the calendar"
cli a sync now "$PAIR" >"$WORK/now-2.out" 2>&1 & W2=$!
# Node B starts only now: started before the new activity, its own change
# watcher would push the pair too, and whichever node came first would hold the
# stalled run (a race of about half a second, not what this test is about).
start_node b "$PB"
cli b login --server "http://127.0.0.1:$PB" --user demo --password-file "$WORK/pw" >/dev/null
sleep 0.5

step "node A answers the API while two 'sync now' wait for its run (one HTTP worker)"
XDG_CONFIG_HOME="$WORK/cfg-a" timeout 10 "$TANDEM" activities list --owner me --all --json >/dev/null \
  || fail "node A did not answer a list while 'sync now' waited"

step "node B answers 'sync now' at once: the pair runs on node A"
check_busy() {
  local rc=0
  XDG_CONFIG_HOME="$WORK/cfg-b" timeout 10 "$TANDEM" sync now "$PAIR" >"$WORK/b.out" 2>&1 || rc=$?
  [ "$rc" = 4 ] || { cat "$WORK/b.out"; fail "node B: exit $rc, expected 4 (busy elsewhere)"; }
  grep -q "running on node node-a (process $A_PID) since" "$WORK/b.out" \
    || { cat "$WORK/b.out"; fail "node B did not name node A"; }
}
check_busy
sleep 8  # longer than the 6 s lease: node A renews it while its run lasts
check_busy

step "kill -9 node A in the middle of its run; restart it"
kill -9 "$A_PID"
wait "$W1" 2>/dev/null || true; wait "$W2" 2>/dev/null || true
kill "${PIDS[-1]}" 2>/dev/null || true  # node B stops (it must not take the pair meanwhile)
rm -f "$WORK/ctl/stall"
start_node a "$PA"
start=$(date +%s.%N)
XDG_CONFIG_HOME="$WORK/cfg-a" timeout 20 "$TANDEM" sync now "$PAIR" >"$WORK/after.out" 2>&1 \
  || { cat "$WORK/after.out"; fail "sync now after the restart failed"; }
took=$(python3 -c "import time; print(round(time.time() - $start, 2))")
grep -q "took over the lease of a process of this node that is gone" "$WORK/node-a.log" \
  || fail "the restarted node did not take its dead lease over"
n=$(curl -s -u alice:secret "http://127.0.0.1:$DAV_PORT/alice/crm/" | grep -c '^SUMMARY:Stalled call' || true)
[ "$n" = 1 ] || fail "the CRM call is $n times on the calendar"
echo "restart: sync now after kill -9 answered in ${took} s; all checks passed"
