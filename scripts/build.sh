#!/usr/bin/env bash
# Configures and builds Tandem in build/ (ninja, ccache). Extra arguments are
# passed to `cmake --build` (e.g. --target tandemd).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} ${CMAKE_ARGS:-}
fi
cmake --build "$BUILD_DIR" -j"$JOBS" "$@"
