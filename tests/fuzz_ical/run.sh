#!/usr/bin/env bash
# Builds the iCalendar fuzzer (clang, ASan+UBSan, libFuzzer) in its own build folder
# and runs it for a bounded time, seeded from the shared .ics corpus.
#   tests/fuzz_ical/run.sh [seconds]      (default 60)
# Exit status is libFuzzer's: non-zero when it found a crash (artifacts in the
# build folder's fuzz_ical/artifacts/).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
seconds="${1:-60}"
build="${TANDEM_FUZZ_BUILD_DIR:-$root/build-fuzz-ical}"
seeds="${TANDEM_ICS_CORPUS:-$root/../shared/corpus/ics}"

cmake -S "$root" -B "$build" -G Ninja -DTANDEM_FUZZ=ON -DTANDEM_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DTANDEM_SANITIZE=ON >/dev/null
cmake --build "$build" --target fuzz_ical -j2

work="$build/fuzz_ical"
mkdir -p "$work/corpus" "$work/artifacts"
if [ -d "$seeds" ]; then cp -n "$seeds"/*.ics "$work/corpus/" 2>/dev/null || true; fi
# Inputs that once failed: run first, every time.
cp -n "$here"/regressions/* "$work/corpus/" 2>/dev/null || true
"$build/tests/fuzz_ical/fuzz_ical" "$work/corpus" \
  -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$work/artifacts/" -print_final_stats=1
