#!/usr/bin/env bash
# litmus.sh TANDEMD TANDEM PEERS_DIR
# The litmus WebDAV (RFC 4918) compliance suites basic, props and http against
# tandemd's CalDAV collection /dav/calendars/<demo's id>/appointments/ as demo/demo.
# Prints each FAIL/WARNING, the pass count per suite and the total; fails when the
# total passed is below LITMUS_FLOOR (what the server achieves: a calendar
# collection refuses litmus's MKCOL and non-iCalendar resources, so a share of the
# tests cannot pass; for comparison ../shared/peers/BASELINES.md: Radicale 31/51,
# Xandikos 44/60 over all five suites). Also checks that litmus left the
# demo user's CRM appointments as they were.
set -euo pipefail
TANDEMD=$1; TANDEM=$2; PEERS=$3
E2E_NAME=davserver-litmus
source "$(dirname "$0")/lib.sh"
# The floor: the total litmus passes tandemd reached when this test was written;
# lower means a regression. Measured 2026-12-07: 3/6 (basic 1/2, props 1/2, http 1/2):
# each suite's "init" (OPTIONS) passes and its "begin" fails, because litmus
# first MKCOLs URL/litmus/ and a calendar collection holds no collections (RFC
# 4791 4.2: 403), after which litmus stops the suite. Raise it when more pass.
LITMUS_FLOOR=${LITMUS_FLOOR:-3}
SUITES=${SUITES:-basic props http}
command -v litmus >/dev/null || fail "litmus is not installed (apt-get install litmus)"

step "start tandemd --demo"
start_tandemd "$TANDEMD"
demo_id
printf 'demo\n' > "$WORK/pw"
"$TANDEM" login --server "$BASE" --user demo --password-file "$WORK/pw" >/dev/null || fail "CLI login failed"
crm_state() {
  "$TANDEM" activities list --owner me --all --json | python3 -c 'import json,sys
for a in sorted(json.load(sys.stdin)["items"], key=lambda a: a["id"]): print(a["id"], a["version"], a["subject"])'
}
crm_state > "$WORK/crm-before.txt"

step "litmus ($SUITES) against $CAL_URL"
mkdir -p "$WORK/litmus"  # litmus writes debug.log and child.log to the current folder
(cd "$WORK/litmus" && TESTS="$SUITES" timeout 240 litmus -k "$CAL_URL" demo demo > "$WORK/litmus.out" 2>&1) || true
# litmus draws progress with control characters: keep printable text, one line each
tr -cd '\11\12\15\40-\176' < "$WORK/litmus.out" | tr '\r' '\n' > "$WORK/litmus.txt"
grep -E ' (FAIL|WARNING)' "$WORK/litmus.txt" | sed 's/^ */   /' | cut -c1-200 || true
grep -E '^<- summary for' "$WORK/litmus.txt" || { tail -30 "$WORK/litmus.txt"; fail "litmus printed no summary"; }
read -r RUN PASSED < <(awk '/^<- summary for/ { for (i = 1; i <= NF; i++) { if ($i == "run:") r += $(i-2); if ($i == "passed,") p += $(i-1) } }
  END { print r + 0, p + 0 }' "$WORK/litmus.txt")
awk '/^<- summary for/ { s = $0; sub(/.*summary for ./, "", s); sub(/.:.*/, "", s)
       for (i = 1; i <= NF; i++) { if ($i == "run:") r = $(i-2); if ($i == "passed,") p = $(i-1) }
       printf "suite %-6s %s/%s passed\n", s, p, r }' "$WORK/litmus.txt"
echo "litmus total: $PASSED/$RUN passed (floor $LITMUS_FLOOR)"
[ "$RUN" -gt 0 ] || fail "litmus ran no test"
[ "$PASSED" -ge "$LITMUS_FLOOR" ] || { cp "$WORK/litmus/debug.log" "$WORK/litmus-debug.log" 2>/dev/null || true
  fail "litmus passed $PASSED tests, below the floor of $LITMUS_FLOOR"; }

step "litmus left the CRM's appointments as they were, and tandemd still answers"
crm_state > "$WORK/crm-after.txt"
diff "$WORK/crm-before.txt" "$WORK/crm-after.txt" || fail "litmus changed the demo user's CRM activities"
curl -sf "$BASE/healthz" >/dev/null || fail "tandemd no longer answers after litmus"
echo "davserver litmus: passed"
