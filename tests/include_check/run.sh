#!/usr/bin/env bash
# Self-test of scripts/check_includes.py on a tiny made-up tree.
#   tests/include_check/run.sh [path/to/check_includes.py]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
checker="${1:-$here/../../scripts/check_includes.py}"
tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT

fail() { echo "include check: FAILED: $*"; echo "--- checker output:"; cat "$tree/out"; exit 1; }

# Runs the checker on the tree; asserts its exit status; output in $tree/out.
expect_status() {
  local want=$1 got=0
  python3 "$checker" --root "$tree" >"$tree/out" 2>&1 || got=$?
  [ "$got" -eq "$want" ] || fail "$2: exit status $got, expected $want"
}
expect_output() {
  grep -qF -- "$1" "$tree/out" || fail "output does not contain: $1"
}

# Two modules: base (lower) and top, which depends on base.
mkdir -p "$tree/docs" "$tree/src/base" "$tree/src/top"
cat >"$tree/docs/ARCHITECTURE.md" <<'DOC'
# Architecture

| folder | target(s) | depends on |
| --- | --- | --- |
| `src/base` | `base` | - |
| `src/top` | `top` | base |

<!-- module-deps
base:
top: base
-->
DOC
cat >"$tree/src/base/base.h" <<'SRC'
#pragma once
int Base();
SRC
cat >"$tree/src/base/base.cc" <<'SRC'
#include "base/base.h"

#include <vector>
int Base() { return 1; }
SRC
cat >"$tree/src/top/top.h" <<'SRC'
#pragma once
#include "base/base.h"
int Top();
SRC
cat >"$tree/src/top/top.cc" <<'SRC'
#include "top/top.h"
int Top() { return Base() + 1; }
SRC
cat >"$tree/src/top/top_test.cc" <<'SRC'
#include "top/top.h"

#include <gtest/gtest.h>
#include "tests/helpers/not_a_module.h"
TEST(Top, Works) { EXPECT_EQ(Top(), 2); }
SRC

expect_status 0 "clean tree"
[ ! -s "$tree/out" ] || fail "clean tree printed something"

# A lower module including a higher one.
cp "$tree/src/base/base.cc" "$tree/base.cc.orig"
sed -i '2i #include "top/top.h"' "$tree/src/base/base.cc"
expect_status 1 "base including top"
expect_output "src/base/base.cc:2: includes top/top.h (module top)"
cp "$tree/base.cc.orig" "$tree/src/base/base.cc"
expect_status 0 "tree restored"

# A header that does not exist (a typo).
echo '#include "base/bsae.h"' >>"$tree/src/top/top.cc"
expect_status 1 "missing header"
expect_output "src/top/top.cc:3: includes base/bsae.h, which does not exist under src/"
sed -i '$d' "$tree/src/top/top.cc"

# A module folder the table does not list.
mkdir "$tree/src/extra" && echo '#pragma once' >"$tree/src/extra/extra.h"
expect_status 1 "unlisted module folder"
expect_output "src/extra: module folder not listed"
rm -r "$tree/src/extra"

# No table block: a parse error.
sed -i '/<!-- module-deps/,/-->/d' "$tree/docs/ARCHITECTURE.md"
expect_status 2 "missing module-deps block"
expect_output "no <!-- module-deps ... --> block"

echo "include check: all checks passed"
