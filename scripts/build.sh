#!/usr/bin/env bash
# Configures and builds duet into a build folder (default: build, Release).
#   scripts/build.sh [extra cmake args...]        e.g. -DDUET_SANITIZE=ON
#   DUET_BUILD_DIR=build-asan scripts/build.sh -DDUET_SANITIZE=ON
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${DUET_BUILD_DIR:-build}
build_type=${DUET_BUILD_TYPE:-Release}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="$build_type" "$@" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
