#!/usr/bin/env bash
# REST API benchmarks (docs/bench-api.md). Starts tandemd on 127.0.0.1 with a
# temporary data directory seeded with N activities, logs in, drives it with wrk.
#
#   BUILD=/work/main/build-api bench/api/run.sh [N_ACTIVITIES] [SECONDS]
#
# Needs: tandemd and api_bench_seed built in $BUILD, wrk, python3, curl.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
BUILD="${BUILD:-$here/../../build-api}"
N="${1:-100000}"
SECS="${2:-10}"
PORT="${PORT:-18490}"
CONNS="${CONNS:-32}"
tandemd="$BUILD/src/apps/tandemd"
seed="$BUILD/bench/api/api_bench_seed"
work="$(mktemp -d /tmp/tandem-api-bench.XXXXXX)"
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "seeding $N activities..."
t0=$(date +%s.%N)
"$seed" "$work/tandem.db" "$N" > /dev/null
echo "seeded in $(echo "$(date +%s.%N) - $t0" | bc) s"

"$tandemd" --data-dir "$work" --listen "127.0.0.1:$PORT" --threads "${THREADS:-2}" \
  --log-level "${LOG_LEVEL:-info}" > "$work/tandemd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null && break; sleep 0.1; done

base="http://127.0.0.1:$PORT"
export TANDEM_TOKEN=$(curl -sf -X POST "$base/api/v1/login" -d '{"login":"bench","password":"bench"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
auth=(-H "Authorization: Bearer $TANDEM_TOKEN")
day=$(date -u -d tomorrow +%Y-%m-%d)
range="from=${day}T08:00:00Z&to=${day}T20:00:00Z&limit=100"
id=$(curl -sf "${auth[@]}" "$base/api/v1/activities?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
n_range=$(curl -sf "${auth[@]}" "$base/api/v1/activities?$range" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
echo "range query returns $n_range activities"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
tick_hz=$(getconf CLK_TCK)
run_wrk() {  # name script url
  echo "== $1"
  local before after requests
  before=$(cpu_ticks)
  wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -s "$2" "$3" > "$work/$1.txt"
  after=$(cpu_ticks)
  grep -E 'Requests/sec|Latency  |99%|Non-2xx|Socket errors|requests in' "$work/$1.txt" || true
  requests=$(awk '/requests in/ {print $1}' "$work/$1.txt")
  # Server CPU per request: meaningful even when other processes share the cores.
  python3 -c "t=($after-$before)/$tick_hz; n=$requests; print(f'tandemd CPU: {t:.2f} s for {n} requests = {1e6*t/n:.0f} us/request; {n/t:.0f} requests per CPU-second')"
}
run_wrk get_one "$here/auth.lua" "$base/api/v1/activities/$id"
run_wrk list_range "$here/auth.lua" "$base/api/v1/activities?$range"
run_wrk create "$here/create.lua" "$base/api/v1/activities"

echo "== full pull via change feed"
before=$(cpu_ticks)
python3 "$here/full_pull.py" 127.0.0.1 "$PORT" "$TANDEM_TOKEN" "${PAGE:-10000}" | tee "$work/pull.txt"
after=$(cpu_ticks)
python3 -c "print(f'tandemd CPU for the pull: {($after-$before)/$tick_hz:.2f} s')"
echo "== machine"
nproc; uptime
echo "== tandemd memory"
grep -E 'VmHWM|VmRSS' "/proc/$pid/status"
