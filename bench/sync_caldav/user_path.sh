#!/usr/bin/env bash
# user_path.sh [N] [PORT]: the first sync as a user runs it, whole processes,
# discovery included: `tandem sync pair add --caldav URL` against a running
# tandemd, beside `vdirsyncer discover` + `vdirsyncer sync` (bench-vdirsyncer.sh),
# the same N events (default 10000) in a calendar of their own for each, each
# tool meeting a freshly started, warmed Radicale on 127.0.0.1:PORT (default 5301).
#   vds    : vdirsyncer (its phase 1: discover + full sync)
#   empty  : tandemd with an empty CRM (the admin user pairs)
#   demo   : tandemd --demo (the demo user's 8 appointments go out to the calendar)
# For each Tandem case: the CLI's wall time, the requests Radicale logged and the
# seconds Radicale itself logged for them (the server's share), and the ratio of
# the whole to that share (target: within 1.25x). docs/bench-sync-caldav.md.
# Env: BUILD (build dir with tandemd/tandem, default build-syncbench), PEERS, KEEP=1,
#      SKIP_VDIRSYNCER=1 (Tandem only), REUSE (see common.sh).
set -euo pipefail
N=${1:-10000}
PORT=${2:-5301}
. "$(dirname "$0")/common.sh"
TANDEMD=$BUILD/src/apps/tandemd
TANDEM=$BUILD/src/apps/tandem
[ -x "$TANDEMD" ] && [ -x "$TANDEM" ] || { echo "build tandemd and tandem in $BUILD first" >&2; exit 2; }

bench_tmp bench-user-path
RADDIR=$TMP/radicale
LOG=$RADDIR/radicale.log
SERVER_PID=$("$PEERS/start-radicale.sh" "$PORT" "$RADDIR" test test vds)
BASE=http://127.0.0.1:$PORT
SKIP_VDIRSYNCER=${SKIP_VDIRSYNCER:-0}
CALS=(empty demo); [ "$SKIP_VDIRSYNCER" = 1 ] || CALS=(vds empty demo)
seed_radicale "$N" "user$N" "${CALS[@]}"
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b - a}'; }

VDS=-
if [ "$SKIP_VDIRSYNCER" != 1 ]; then
  restart_radicale
  radicale_warm vds
  SERVER_LOG=$LOG "$PEERS/bench-vdirsyncer.sh" "$BASE/test/vds/" test test "$TMP/vds" > "$TMP/vds.out"
  d=$(sed -nE 's/^1 discover +: ([0-9.]+) s.*/\1/p' "$TMP/vds.out")
  f=$(sed -nE 's/^1 full sync +: ([0-9.]+) s.*/\1/p' "$TMP/vds.out")
  VDS=$(awk -v a="$d" -v b="$f" 'BEGIN{printf "%.2f", a + b}')
  echo "[user_path] vdirsyncer discover $d s + sync $f s" >&2
fi

printf 'test\n' > "$TMP/calpw"
tandem_case() {  # tandem_case NAME [tandemd flags]: sets T_<NAME>, S_<NAME>, R_<NAME>, O_<NAME>
  local name=$1 api pid pw login m t0 out
  shift
  restart_radicale
  radicale_warm "$name"
  api=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$TANDEMD" "$@" --data-dir "$TMP/tandem-$name" --listen "127.0.0.1:$api" >"$TMP/tandemd-$name.log" 2>&1 &
  pid=$!; OTHER_PIDS="${OTHER_PIDS:-} $pid"
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$api/healthz" >/dev/null && break; sleep 0.1; done
  if [ "$name" = demo ]; then login=demo; pw=demo
  else login=admin; pw=$(sed -nE 's/^\*\*\*   ([0-9a-f]+)$/\1/p' "$TMP/tandemd-$name.log" | head -1); fi
  printf '%s\n' "$pw" > "$TMP/pw-$name"
  export XDG_CONFIG_HOME=$TMP/cli-$name
  "$TANDEM" login --server "http://127.0.0.1:$api" --user "$login" --password-file "$TMP/pw-$name" >/dev/null
  sync; sleep 1
  m=$(radicale_marks); t0=$(date +%s.%N)
  "$TANDEM" sync pair add --caldav "$BASE/test/$name/" --user test --password-file "$TMP/calpw" \
    > "$TMP/add-$name.out"
  eval "T_$name=$(elapsed "$t0")"
  out=$(sed -n 2,3p "$TMP/add-$name.out" | tr '\n' ' ')
  eval "S_$name=$(radicale_time "$m")"
  eval "R_$name=\"$(radicale_reqs "$m")\""
  eval "O_$name=\"\$out\""
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "[user_path] $name: $out" >&2
}
tandem_case empty
tandem_case demo --demo

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "-" || b <= 0) print "-"; else printf "%.2fx", a / b }'; }
echo
echo "Radicale $(radicale --version 2>/dev/null || echo '?'), $N events, $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| case | vdirsyncer discover+sync s | tandem sync pair add s | vdirsyncer / Tandem | Radicale's share s | Tandem / Radicale's share | requests |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for c in empty demo; do
  eval "t=\$T_$c; s=\$S_$c; r=\$R_$c"
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$c CRM" "$VDS" "$t" "$(ratio "$VDS" "$t")" "$s" "$(ratio "$t" "$s")" "$r"
done
