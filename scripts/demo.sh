#!/usr/bin/env bash
# Sets up, builds (Release) and runs duet's main demo: the fashion-mlp workload trained
# for 5 epochs on Fashion-MNIST in eager mode and in graph mode, then a comparison table.
#   scripts/demo.sh [extra fashion_mlp flags, e.g. --epochs 1]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
DUET_BUILD_DIR=build scripts/build.sh -DDUET_BUILD_TESTS=OFF
out=$(mktemp -d)
for mode in eager graph; do
  echo "== fashion-mlp, $mode mode"
  ./build/examples/fashion_mlp --mode "$mode" --json "$out/$mode.json" "$@"
  echo
done
echo "== eager vs graph"
python3 scripts/compare_runs.py "$out/eager.json" "$out/graph.json"
rm -rf "$out"
