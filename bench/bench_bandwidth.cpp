// Memory-bound ops against a STREAM-triad baseline. The triad (a[i] = b[i] + s*c[i]) is
// hand-written here and threaded with duet::parallel_for; the ops run duet's CPU kernels
// through run_kernel_into on preallocated outputs (no allocation in the timed loop), over
// 1M and 16M float32 elements. Counters: GBps (bytes an ideal kernel moves: each input
// read once, each output written once) and pct_triad (against the triad of the same
// length, measured at start-up). Names: bw/<op>/<n>.
// "adam" is optim::Adam::step on one parameter: 13 elementwise ops, counted at 30 floats
// of traffic per element (each op's own inputs and outputs), temporaries allocated per op
// as in training.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "core/dispatch.h"
#include "core/functions.h"
#include "core/parallel.h"
#include "optim/adam.h"

namespace duet::bench {
namespace {

struct AlignedFree {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float[], AlignedFree>;

Buffer make_buffer(int64_t n, float value) {
  Buffer b(static_cast<float*>(std::aligned_alloc(64, size_t(n) * sizeof(float))));
  parallel_for(0, n, 1 << 16, [&](int64_t lo, int64_t hi) { std::fill(b.get() + lo, b.get() + hi, value); });
  return b;  // first-touched by the threads that will use it
}

// Split so each thread gets one contiguous half, matching how the kernels split.
void triad(float* a, const float* b, const float* c, float s, int64_t n) {
  parallel_for(0, n, 1 << 14, [=](int64_t lo, int64_t hi) {
#pragma GCC ivdep
    for (int64_t i = lo; i < hi; ++i) a[i] = b[i] + s * c[i];
  });
}

void set_bw_counters(benchmark::State& state, double bytes_per_call, int64_t n) {
  const double triad = triad_gbps_for(n);
  state.counters["GBps"] = benchmark::Counter(bytes_per_call / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["pct_triad"] = benchmark::Counter(triad > 0 ? bytes_per_call / 1e9 / triad * 100 : 0,
                                                   benchmark::Counter::kIsIterationInvariantRate);
}

void bm_triad(benchmark::State& state, int64_t n) {
  settle_pools(PoolOwner::Duet);
  Buffer a = make_buffer(n, 0.f), b = make_buffer(n, 1.f), c = make_buffer(n, 2.f);
  for (auto _ : state) {
    triad(a.get(), b.get(), c.get(), 0.5f, n);
    benchmark::ClobberMemory();
  }
  set_bw_counters(state, 12.0 * double(n), n);
}

// One kernel call on preallocated tensors; `floats_moved` per element of x.
struct KernelCase {
  std::string name;
  OpKind op;
  int inputs;       // 1 or 2 (both shaped like x)
  bool rows;        // x is [n / 1024, 1024] and the op works along dim 1
  double floats;    // floats moved per element
};

void bm_kernel(benchmark::State& state, KernelCase kc, int64_t n) {
  settle_pools(PoolOwner::Duet);
  const Shape shape = kc.rows ? Shape{n / 1024, 1024} : Shape{n};
  std::vector<Tensor> in{randn(shape)};
  if (kc.inputs == 2) in.push_back(randn(shape));
  Attrs attrs;
  if (kc.rows) attrs.set("dim", int64_t(-1));
  const TensorMeta meta = infer_meta(kc.op, in, attrs);
  Tensor out = empty_like_meta(meta);
  run_kernel_into(kc.op, in, attrs, out);  // warm-up
  for (auto _ : state) {
    run_kernel_into(kc.op, in, attrs, out);
    benchmark::ClobberMemory();
  }
  set_bw_counters(state, kc.floats * 4.0 * double(n), n);
}

// log_softmax over [rows, C] rows, then the log-probability of each row's target.
void bm_cross_entropy(benchmark::State& state, int64_t n) {
  settle_pools(PoolOwner::Duet);
  const int64_t C = 1024, R = n / C;
  Tensor x = randn({R, C});
  Tensor target = randint(0, C, {R, 1});
  Attrs dim_attrs;
  dim_attrs.set("dim", int64_t(1));
  std::vector<Tensor> ls_in{x};
  Tensor logp = empty_like_meta(infer_meta(OpKind::log_softmax, ls_in, dim_attrs));
  std::vector<Tensor> g_in{logp, target};
  Tensor picked = empty_like_meta(infer_meta(OpKind::gather, g_in, dim_attrs));
  for (auto _ : state) {
    run_kernel_into(OpKind::log_softmax, ls_in, dim_attrs, logp);
    run_kernel_into(OpKind::gather, g_in, dim_attrs, picked);
    benchmark::ClobberMemory();
  }
  set_bw_counters(state, 8.0 * double(n) + double(R) * (8 + 4 + 4), n);
}

void bm_adam(benchmark::State& state, int64_t n) {
  settle_pools(PoolOwner::Duet);
  Tensor p = randn({n});
  p.requires_grad_();
  p.set_grad(randn({n}));
  optim::Adam opt({p}, 1e-3);
  opt.step();  // allocates the moment buffers
  for (auto _ : state) {
    opt.step();
    benchmark::ClobberMemory();
  }
  set_bw_counters(state, 30.0 * 4.0 * double(n), n);
}

}  // namespace

double measure_triad_gbps(int64_t n, double seconds) {
  Buffer a = make_buffer(n, 0.f), b = make_buffer(n, 1.f), c = make_buffer(n, 2.f);
  triad(a.get(), b.get(), c.get(), 0.5f, n);
  std::vector<double> rates;
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  do {
    const auto t0 = std::chrono::steady_clock::now();
    triad(a.get(), b.get(), c.get(), 0.5f, n);
    rates.push_back(12.0 * double(n) / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 1e9);
  } while (std::chrono::steady_clock::now() < end || rates.size() < 5);
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

void register_bandwidth_benchmarks() {
  const std::vector<KernelCase> kernels = {
      {"add", OpKind::add, 2, false, 3},        {"mul", OpKind::mul, 2, false, 3},
      {"exp", OpKind::exp, 1, false, 2},        {"relu", OpKind::relu, 1, false, 2},
      {"sum", OpKind::sum, 1, false, 1},        {"amax", OpKind::amax, 1, false, 1},
      {"softmax", OpKind::softmax, 1, true, 2}, {"log_softmax", OpKind::log_softmax, 1, true, 2},
  };
  for (int64_t n : {int64_t(1) << 20, int64_t(1) << 24}) {
    const std::string sz = n == (int64_t(1) << 20) ? "1M" : "16M";
    const double min_time = n == (int64_t(1) << 20) ? 0.1 : 0.2;
    auto tune = [&](benchmark::internal::Benchmark* b) {
      b->UseRealTime()->Unit(benchmark::kMicrosecond)->MinTime(min_time);
    };
    tune(benchmark::RegisterBenchmark(("bw/triad/" + sz).c_str(), bm_triad, n));
    for (const KernelCase& kc : kernels)
      tune(benchmark::RegisterBenchmark(("bw/" + kc.name + "/" + sz).c_str(), bm_kernel, kc, n));
    tune(benchmark::RegisterBenchmark(("bw/cross_entropy/" + sz).c_str(), bm_cross_entropy, n));
    tune(benchmark::RegisterBenchmark(("bw/adam/" + sz).c_str(), bm_adam, n));
  }
}

}  // namespace duet::bench
