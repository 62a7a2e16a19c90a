#!/usr/bin/env bash
# Checks the CUDA backend on a machine WITH a GPU: builds duet for sm_90 (override with
# DUET_CUDA_ARCHS, e.g. "80" for an A100) in build-gpu, runs the CUDA tests (ctest label
# `cuda`), runs the CUDA benchmarks (duet_cuda_bench: GEMM vs cuBLAS, conv layers vs cuDNN)
# and fashion-mlp, fashion-lenet and fashion-resnet eager vs graph on the GPU (train_bench
# --device cuda, DUET_GPU_EPOCHS epochs, default 1), and writes a report:
#   scripts/gpu_check.sh OUTDIR      ->  OUTDIR/gpu-check-<date>.md
# Exits non-zero if the build or a CUDA test fails (the report is written either way).
set -uo pipefail
if [[ $# -ne 1 ]]; then
  echo "usage: scripts/gpu_check.sh OUTDIR" >&2
  exit 2
fi
out_dir=$1
cd "$(dirname "$0")/.."
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
report="$out_dir/gpu-check-$stamp.md"
build_dir=${DUET_BUILD_DIR:-build-gpu}
archs=${DUET_CUDA_ARCHS:-90}
jobs=$(nproc)
log="$out_dir/gpu-check-$stamp.log"

status=0
step() {  # step NAME COMMAND...: runs COMMAND, appends its output to the log, records failure
  local name=$1
  shift
  echo "== $name" | tee -a "$log"
  if ! "$@" >>"$log" 2>&1; then
    echo "== $name FAILED" | tee -a "$log"
    status=1
    return 1
  fi
}

if command -v nvidia-smi >/dev/null 2>&1; then
  gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1)
else
  gpu="nvidia-smi not found"
fi

nvcc=${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
built=0
step "configure" cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DDUET_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="$archs" -DDUET_BUILD_TESTS=ON &&
  step "build" cmake --build "$build_dir" -j"$jobs" && built=1

ctest_out="(not run: the build failed)"
skipped=""
bench_out="(not run)"
conv_out=""
train_out="(not run)"
if [[ $built == 1 ]]; then
  # -V: the tests' per-op case counts belong in the report; a skip here means the GPU is
  # not usable (driver, permissions), which is a failure on a machine meant to have one.
  ctest_out=$(ctest --test-dir "$build_dir" -L cuda -V 2>&1)
  ctest_rc=$?
  echo "$ctest_out" >>"$log"
  [[ $ctest_rc == 0 ]] || status=1
  if grep -q "skipped: no CUDA device" <<<"$ctest_out"; then
    skipped=$(grep -m1 -o "skipped: no CUDA device.*" <<<"$ctest_out")
    status=1
  fi
  bench=$(find "$build_dir" -maxdepth 3 -type f -name duet_cuda_bench -perm -u+x | head -n 1)
  if [[ -z $bench ]]; then
    bench_out="(no duet_cuda_bench binary: Google Benchmark missing or the build has no CUDA)"
  else
    # SGEMM duet vs cuBLAS, bandwidth kernels vs a device-to-device copy, conv layers duet
    # vs cuDNN, in one run.
    bench_json="$out_dir/gpu-check-$stamp-bench.json"
    bench_out=$("$bench" --benchmark_min_time=0.2 --benchmark_out="$bench_json" --benchmark_out_format=json 2>&1)
    [[ $? == 0 ]] || status=1
    echo "$bench_out" >>"$log"
    if [[ -s $bench_json ]]; then
      conv_out=$(python3 - "$bench_json" <<'PY'
import json, sys
rows = {b["name"].removesuffix("/manual_time"): b for b in json.load(open(sys.argv[1]))["benchmarks"]
        if b["name"].startswith("cuda_conv/") and "real_time" in b}
print("| layer | pass | duet us | cuDNN us | duet / cuDNN speed |")
print("|---|---|---:|---:|---:|")
for name, b in rows.items():
    if not name.endswith("/duet"): continue
    c = rows.get(name.removesuffix("/duet") + "/cudnn")
    _, layer, pss, _ = name.split("/")
    ratio = f"{c['real_time'] / b['real_time']:.2f}x" if c else "-"
    print(f"| {layer} | {pss} | {b['real_time']:.1f} | {c['real_time'] if c else float('nan'):.1f} | {ratio} |")
PY
)
    fi
  fi
  # fashion-mlp eager vs graph on the GPU (1 epoch each; JSON Lines records).
  train=$(find "$build_dir" -maxdepth 3 -type f -name train_bench -perm -u+x | head -n 1)
  train_json="$out_dir/gpu-check-$stamp-train.jsonl"
  if [[ -z $train ]]; then
    train_out="(no train_bench binary)"
  else
    train_out=""
    for workload in fashion-mlp fashion-lenet fashion-resnet; do
      for mode in eager graph; do
        if ! "$train" --workload "$workload" --mode "$mode" --device cuda --epochs "${DUET_GPU_EPOCHS:-1}" \
          --json "$train_json" >>"$log" 2>&1; then
          train_out+="$workload $mode on cuda FAILED (see the log)"$'\n'
          status=1
        fi
      done
    done
    if [[ -s $train_json ]]; then
      train_out+=$(python3 - "$train_json" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
print("| workload | mode | step p50 ms | step p90 ms | samples/s | accuracy | peak device bytes | kernels/step |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r['workload']} | {r['mode']} | {r['step_ms_median']:.3f} | {r['step_ms_p90']:.3f} | "
          f"{r['samples_per_second']:.0f} | {r['test_accuracy']:.4f} | {r['peak_allocator_bytes']} | "
          f"{r['kernel_launches']:.0f} |")
by = {(r["workload"], r["mode"]): r for r in rows}
for w in dict.fromkeys(r["workload"] for r in rows):
    if (w, "eager") in by and (w, "graph") in by:
        ratio = by[(w, "graph")]["step_ms_median"] / by[(w, "eager")]["step_ms_median"]
        print(f"\n{w}: graph/eager step time {ratio:.2f}x")
PY
)
    fi
  fi
fi

{
  echo "# duet GPU check, $stamp"
  echo
  echo "- GPU (name, driver, memory): $gpu"
  echo "- CUDA archs built: $archs; build dir: $build_dir; commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
  echo "- nvcc: $("$nvcc" --version 2>/dev/null | tail -n 1)"
  echo "- result: $([[ $status == 0 ]] && echo PASSED || echo FAILED)${skipped:+ ($skipped)} (full log: $(basename "$log"))"
  echo
  echo "## ctest -L cuda"
  echo
  echo '```'
  if [[ $built == 1 ]]; then  # the tests' messages and the summaries, without file prefixes
    grep -E "on cuda:|cases on cuda|skipped:|Passed|Failed|tests passed|test cases:|assertions:" <<<"$ctest_out" |
      sed -E -e 's#^[0-9]+: ##' -e 's#^/[^ ]*: (MESSAGE: )?##' | awk '!seen[$0]++' | tail -n 80
  else
    echo "$ctest_out"
  fi
  echo '```'
  echo
  echo "## CUDA benchmarks (duet_cuda_bench)"
  echo
  echo '```'
  echo "$bench_out"
  echo '```'
  echo
  echo "## Convolutions, duet vs cuDNN (duet_cuda_bench cuda_conv/; target: >= 0.7x on the ResNet 3x3 layers)"
  echo
  echo "${conv_out:-(no conv rows)}"
  echo
  echo "## The workloads on the GPU (train_bench --device cuda, eager and graph)"
  echo
  echo "$train_out"
} >"$report"
echo "report: $report"
exit $status
