#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds everything, runs every
# test (unit, contract, interop with real Radicale/Xandikos/khal peers on 127.0.0.1).
#   scripts/test.sh            everything
#   scripts/test.sh -L unit    only the fast unit tests (any ctest arguments work)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
# Unit tests in parallel first, then the interop tests that start servers.
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 900 -j"$(nproc)" "$@"
