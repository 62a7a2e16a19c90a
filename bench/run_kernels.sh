#!/usr/bin/env bash
# Runs duet_bench (FMA peak, SGEMM vs OpenBLAS/Eigen, memory-bound ops vs STREAM triad)
# and writes bench/results/kernels-<date>.json (Google Benchmark JSON, medians of
# repetitions) and bench/results/kernels-<date>.md (the table from kernels_table.py).
#   bench/run_kernels.sh                 # 2 threads, build dir "build"
#   DUET_BUILD_DIR=build-bench DUET_NUM_THREADS=1 bench/run_kernels.sh
#   bench/run_kernels.sh --benchmark_filter=sgemm/square   # extra flags go to duet_bench
# Repetitions of all benchmarks run in a random interleaved order, so a burst of load on
# a shared machine lands on duet and its peers alike instead of on one of them.
# About 5-8 minutes on a 2-core machine: 2048^3 and 4096^3 SGEMM run one call per
# repetition (see bench_gemm.cpp), everything else a short minimum time.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${DUET_BUILD_DIR:-build}
THREADS=${DUET_NUM_THREADS:-2}
REPS=${DUET_BENCH_REPETITIONS:-5}

if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$BUILD_DIR" -j"$(nproc)" --target duet_bench

mkdir -p bench/results
stamp=$(date +%Y-%m-%d)
json=bench/results/kernels-$stamp.json
md=bench/results/kernels-$stamp.md
# Commas would split --benchmark_context's list.
model=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n1 | tr ',' ' ')
cores=$(nproc)

DUET_NUM_THREADS=$THREADS "$BUILD_DIR/bench/duet_bench" \
  --benchmark_repetitions="$REPS" \
  --benchmark_enable_random_interleaving=true \
  --benchmark_report_aggregates_only=true \
  --benchmark_context="cpu_model=$model,cpu_cores=$cores" \
  --benchmark_out="$json" --benchmark_out_format=json \
  "$@"
python3 bench/kernels_table.py "$json" > "$md"
echo "wrote $json and $md"
