# Sourced by bench/google/run.sh and bench/graph/run.sh (Tandem against a local fake
# beside a curl replay): the temporary folder, processes stopped by PID on exit,
# timing helpers, the report's medians. Set BENCH_NAME before sourcing; sets HERE
# (the benchmark's folder), ROOT, BUILD (default ./build), TANDEMD, TANDEM, REPLAY.
HERE=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
TANDEMD=$BUILD/src/apps/tandemd
TANDEM=$BUILD/src/apps/tandem
REPLAY=$HERE/replay.py
for b in "$TANDEMD" "$TANDEM"; do
  [ -x "$b" ] || { echo "missing $b (build tandemd and tandem in $BUILD first)" >&2; exit 2; }
done
command -v curl >/dev/null && command -v jq >/dev/null || { echo "needs curl and jq" >&2; exit 2; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-$BENCH_NAME.XXXXXX")
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
say() { echo "[bench-$BENCH_NAME] $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }
stop() {  # stop PID: SIGTERM, wait, forget it
  local p=$1 keep=() q
  kill "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  for q in "${PIDS[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
  PIDS=("${keep[@]}")
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { echo "$EPOCHREALTIME"; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a - b}'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime + stime of a process
median() { sort -g | awk '{v[NR] = $1} END{print v[int((NR + 1) / 2)]}'; }
col() { for r in $(seq 1 "$RUNS"); do cut -d' ' -f"$3" "$TMP/$1-$r.$2"; done; }   # col CASE FILE FIELD
list() { col "$@" | paste -sd/ | sed 's#/# / #g'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a / b}'; }
# activities_cfg API SESSION N MINUTES: a curl config creating N appointments
# through the REST API, one every MINUTES minutes from tomorrow 07:00 UTC.
activities_cfg() {
  python3 - "$@" <<'PY'
import datetime, json, sys
api, session, n, step = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
day = datetime.datetime.now(datetime.timezone.utc).replace(hour=7, minute=0, second=0, microsecond=0)
day += datetime.timedelta(days=1)
for i in range(n):
    s = day + datetime.timedelta(minutes=step * i)
    body = {"kind": "appointment", "subject": "Customer visit %d" % i, "location": "Office %d" % (i % 7),
            "description": "Agenda item %d" % i, "start": s.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": (s + datetime.timedelta(minutes=45)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "time_zone": "Europe/Berlin", "reminder_minutes": 15}
    text = json.dumps(body).replace("\\", "\\\\").replace('"', '\\"')
    if i:
        print("next")
    print('url = "%s/api/v1/activities"' % api)
    print('header = "Authorization: Bearer %s"' % session)
    print('header = "Content-Type: application/json"')
    print('data = "%s"' % text)
    print('output = "/dev/null"\nwrite-out = "%{http_code}\\n"')
PY
}
