# Sourced by the end-to-end scripts of this folder: a temporary work folder,
# processes stopped by PID on exit, loopback ports, a Radicale calendar.
# Set E2E_NAME before sourcing; set FAIL_LOGS (files to show on failure) after.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tandem-${E2E_NAME:-e2e}.XXXXXX")
PIDS=()
FAIL_LOGS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "${KEEP:-0}" != 1 ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "${FAIL_LOGS[@]}"; do echo "--- $f:" >&2; tail -30 "$f" >&2 || true; done
  exit 1
}
step() { echo "== $*"; }
# CMD | has [GREP OPTIONS] PATTERN: grep -q that reads all of its input first.
# With pipefail, a plain `CMD | grep -q` fails at random: grep stops at the
# first match, CMD meets a closed pipe (SIGPIPE, 141) and the pipeline fails.
has() { local input; input=$(cat); grep -q "$@" <<<"$input"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# start_radicale PEERS PORT: user alice / secret, calendar crm; its PID joins PIDS.
start_radicale() {
  local pid
  pid=$(bash "$1/start-radicale.sh" "$2" "$WORK/radicale" alice secret crm 2>"$WORK/radicale-start.log") \
    || { cat "$WORK/radicale-start.log"; fail "radicale did not start"; }
  PIDS+=("$pid")
}
