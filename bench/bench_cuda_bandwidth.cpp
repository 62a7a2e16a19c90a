// duet_cuda_bench: memory-bound CUDA kernels against a device-to-device copy, at 16M
// float32 elements. The baseline is cudaMemcpyAsync D2D on duet's stream (its own row,
// and measured once more at first use so every row can report pct_d2d against the same
// run). The ops run duet's CUDA kernels through run_kernel_into on preallocated device
// tensors: add (contiguous), mul with a row broadcast ([4096, 4096] * [4096]), relu, exp,
// sum of everything, sum over the last dim and over dim 0 of [16384, 1024] / [1024,
// 16384], amax of everything, softmax and log_softmax over rows of 1024.
// Timing: cudaEvents around kLaunches launches after a warm-up (manual time per
// iteration = elapsed / kLaunches). Counters: GBps (bytes an ideal kernel moves: each
// input read once, each output written once, per second) and pct_d2d.
// Without a GPU every benchmark stops with SkipWithError("no CUDA device: ...") and the
// binary exits 0. Names: cuda_bw/<op>/16M.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/cuda_bench_common.h"
#include "core/dispatch.h"
#include "core/functions.h"
#include "kernels/cuda/cuda_api.h"
#include "kernels/cuda/runtime.h"

namespace duet::bench {
namespace {

constexpr int64_t kN = int64_t(1) << 24;
constexpr int kLaunches = 20;

struct D2dBuffers {
  Tensor src, dst;
};
D2dBuffers d2d_buffers() {
  const TensorOptions opts(DType::Float32, Device::cuda(0));
  return {zeros({kN}, opts), empty({kN}, opts)};
}
void d2d_copy(const D2dBuffers& b) {
  DUET_CUDA_CHECK(cudaMemcpyAsync(b.dst.data_ptr(), b.src.data_ptr(), size_t(kN) * 4, cudaMemcpyDeviceToDevice,
                                  cuda::stream(0)));
}

// The D2D copy's GB/s (read + write), median of 7 timings, measured once per run.
double d2d_gbps() {
  static const double gbps = [] {
    cuda::DeviceGuard guard(0);
    D2dBuffers b = d2d_buffers();
    auto copy = [&] { d2d_copy(b); };
    time_launches(copy, kLaunches);  // warm-up
    std::vector<double> rates;
    for (int k = 0; k < 7; ++k) rates.push_back(8.0 * double(kN) / time_launches(copy, kLaunches) / 1e9);
    std::sort(rates.begin(), rates.end());
    return rates[rates.size() / 2];
  }();
  return gbps;
}

// Runs `fn` (already warmed up) kLaunches times per iteration and reports its bandwidth.
void run_timed(benchmark::State& state, double bytes_per_call, const std::function<void()>& fn) {
  const double base = d2d_gbps();
  double total = 0;
  int64_t calls = 0;
  for (auto _ : state) {
    const double s = time_launches(fn, kLaunches);
    state.SetIterationTime(s);
    total += s;
    ++calls;
  }
  const double gbps = calls > 0 && total > 0 ? bytes_per_call * double(calls) / total / 1e9 : 0;
  state.counters["GBps"] = gbps;
  state.counters["pct_d2d"] = base > 0 ? gbps / base * 100 : 0;
}

void bm_d2d(benchmark::State& state) {
  if (!have_gpu(state)) return;
  cuda::DeviceGuard guard(0);
  D2dBuffers b = d2d_buffers();
  auto copy = [&] { d2d_copy(b); };
  time_launches(copy, kLaunches);
  run_timed(state, 8.0 * double(kN), copy);
}

struct OpCase {
  std::string name;
  OpKind op;
  std::vector<Shape> inputs;  // float32 device tensors of these shapes
  Attrs attrs;
  double bytes;               // per call
};

void bm_op(benchmark::State& state, const OpCase& c) {
  if (!have_gpu(state)) return;
  cuda::DeviceGuard guard(0);
  const TensorOptions opts(DType::Float32, Device::cuda(0));
  std::vector<Tensor> in;
  for (const Shape& s : c.inputs) in.push_back(randn(s, opts));
  const TensorMeta meta = infer_meta(c.op, in, c.attrs);
  Tensor out = empty_like_meta(meta);
  auto call = [&] { run_kernel_into(c.op, in, c.attrs, out); };
  time_launches(call, kLaunches);  // warm-up (first launches, caches)
  run_timed(state, c.bytes, call);
}

Attrs dims_of(std::vector<int64_t> dims) {
  Attrs a;
  a.set("dims", std::move(dims));
  return a;
}
Attrs dim_of(int64_t dim) {
  Attrs a;
  a.set("dim", dim);
  return a;
}

const bool kRegistered = [] {
  const double n = double(kN), f = 4.0;
  const Shape flat{kN}, rows{kN / 1024, 1024}, cols{1024, kN / 1024}, sq{4096, 4096};
  const std::vector<OpCase> cases = {
      {"add", OpKind::add, {flat, flat}, {}, 3 * f * n},
      {"mul_broadcast", OpKind::mul, {sq, {4096}}, {}, 2 * f * n + f * 4096},
      {"relu", OpKind::relu, {flat}, {}, 2 * f * n},
      {"exp", OpKind::exp, {flat}, {}, 2 * f * n},
      {"sum_all", OpKind::sum, {flat}, dims_of({}), f * n + f},
      {"sum_last_dim", OpKind::sum, {rows}, dims_of({1}), f * n + f * double(kN / 1024)},
      {"sum_dim0", OpKind::sum, {cols}, dims_of({0}), f * n + f * double(kN / 1024)},
      {"amax_all", OpKind::amax, {flat}, dims_of({}), f * n + f},
      {"softmax_rows", OpKind::softmax, {rows}, dim_of(1), 2 * f * n},
      {"log_softmax_rows", OpKind::log_softmax, {rows}, dim_of(1), 2 * f * n},
  };
  benchmark::RegisterBenchmark("cuda_bw/d2d_copy/16M", bm_d2d)->UseManualTime()->Unit(benchmark::kMicrosecond);
  for (const OpCase& c : cases)
    benchmark::RegisterBenchmark(("cuda_bw/" + c.name + "/16M").c_str(), bm_op, c)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  return true;
}();

}  // namespace
}  // namespace duet::bench
