#!/usr/bin/env bash
# Sets up, builds, and runs the whole test suite; exits non-zero on any failure.
#   scripts/test.sh [extra cmake args...]
#   DUET_BUILD_DIR=build-asan scripts/test.sh -DDUET_SANITIZE=ON
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/build.sh -DDUET_BUILD_TESTS=ON "$@"
build_dir=${DUET_BUILD_DIR:-build}
ctest --test-dir "$build_dir" --output-on-failure --no-tests=error -j"$(nproc)"
