// The machine's FMA peak, measured rather than looked up: a loop of independent FMAs on
// registers only (16 accumulator chains, enough to cover 4-cycle latency on 2 FMA ports),
// for ymm (AVX2) and, where present, zmm (AVX-512), on 1 thread and on all threads
// (one copy of the loop per duet::parallel_for chunk). Reported as GFLOP/s (2 per FMA lane).
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "core/parallel.h"

namespace duet::bench {
namespace {

constexpr int kChains = 16;

#define DUET_FMA16(OP)                                                                                          \
  a0 = OP(a0, x, y), a1 = OP(a1, x, y), a2 = OP(a2, x, y), a3 = OP(a3, x, y), a4 = OP(a4, x, y),               \
  a5 = OP(a5, x, y), a6 = OP(a6, x, y), a7 = OP(a7, x, y), a8 = OP(a8, x, y), a9 = OP(a9, x, y),               \
  a10 = OP(a10, x, y), a11 = OP(a11, x, y), a12 = OP(a12, x, y), a13 = OP(a13, x, y), a14 = OP(a14, x, y),     \
  a15 = OP(a15, x, y)

// Runs `iters` rounds of 16 dependent-free FMAs; returns a value the caller must keep.
__attribute__((target("avx2,fma"), noinline)) float fma_loop_ymm(int64_t iters) {
  const __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-3f);
  // Distinct starting values: identical chains would be merged into one by the compiler.
  __m256 a0 = _mm256_set1_ps(1.00f), a1 = _mm256_set1_ps(1.01f), a2 = _mm256_set1_ps(1.02f);
  __m256 a3 = _mm256_set1_ps(1.03f), a4 = _mm256_set1_ps(1.04f), a5 = _mm256_set1_ps(1.05f);
  __m256 a6 = _mm256_set1_ps(1.06f), a7 = _mm256_set1_ps(1.07f), a8 = _mm256_set1_ps(1.08f);
  __m256 a9 = _mm256_set1_ps(1.09f), a10 = _mm256_set1_ps(1.10f), a11 = _mm256_set1_ps(1.11f);
  __m256 a12 = _mm256_set1_ps(1.12f), a13 = _mm256_set1_ps(1.13f), a14 = _mm256_set1_ps(1.14f);
  __m256 a15 = _mm256_set1_ps(1.15f);
  for (int64_t i = 0; i < iters; ++i) {
    DUET_FMA16(_mm256_fmadd_ps);
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                           _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)),
                                     _mm256_add_ps(_mm256_add_ps(a12, a13), _mm256_add_ps(a14, a15))));
  return _mm256_cvtss_f32(s);
}

__attribute__((target("avx512f,avx2,fma"), noinline)) float fma_loop_zmm(int64_t iters) {
  const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-3f);
  __m512 a0 = _mm512_set1_ps(1.00f), a1 = _mm512_set1_ps(1.01f), a2 = _mm512_set1_ps(1.02f);
  __m512 a3 = _mm512_set1_ps(1.03f), a4 = _mm512_set1_ps(1.04f), a5 = _mm512_set1_ps(1.05f);
  __m512 a6 = _mm512_set1_ps(1.06f), a7 = _mm512_set1_ps(1.07f), a8 = _mm512_set1_ps(1.08f);
  __m512 a9 = _mm512_set1_ps(1.09f), a10 = _mm512_set1_ps(1.10f), a11 = _mm512_set1_ps(1.11f);
  __m512 a12 = _mm512_set1_ps(1.12f), a13 = _mm512_set1_ps(1.13f), a14 = _mm512_set1_ps(1.14f);
  __m512 a15 = _mm512_set1_ps(1.15f);
  for (int64_t i = 0; i < iters; ++i) {
    DUET_FMA16(_mm512_fmadd_ps);
  }
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                           _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)),
                                     _mm512_add_ps(_mm512_add_ps(a12, a13), _mm512_add_ps(a14, a15))));
  alignas(64) float lanes[16];  // (_mm512_reduce_add_ps trips a false GCC 12 warning)
  _mm512_store_ps(lanes, s);
  float total = 0;
  for (float v : lanes) total += v;
  return total;
}
#undef DUET_FMA16

// One round per thread of `iters` loop trips; the FLOPs of all threads together.
// Note [Load-fed ceiling]: the register-only loops above are the FMA units' limit; a GEMM
// micro-kernel must also feed them from memory. fed_loop_zmm runs the instruction mix of
// duet's AVX-512 micro-kernel (per step: two 16-float loads of B, 12 broadcast loads of A,
// 24 FMAs into 24 accumulators) over packed panels that stay in L1 (128 steps: 6 KB of A,
// 16 KB of B), with nothing else: no packing, no C traffic, no edges. What it reaches is a
// ceiling for kernels of that mix on this machine (2026-11-26, the 2-core VM: 82-91% of
// the register-only figure across runs, moved by code placement and load; standalone
// probes of 8x48 and 6x64 tiles did no better than 12x32).
constexpr int64_t kFedSteps = 128;

__attribute__((target("avx512f,avx2,fma"), noinline)) float fed_loop_zmm(const float* a, const float* b,
                                                                        int64_t reps) {
  float total = 0;
  for (int64_t r = 0; r < reps; ++r) {
    __m512 acc[12][2];
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
#pragma GCC unroll 2
    for (int64_t p = 0; p < kFedSteps; ++p) {
      const __m512 b0 = _mm512_load_ps(b + 32 * p), b1 = _mm512_load_ps(b + 32 * p + 16);
#pragma GCC unroll 12
      for (int i = 0; i < 12; ++i) {
        const __m512 ai = _mm512_set1_ps(a[12 * p + i]);
        acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
        acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
      }
    }
    __m512 s = _mm512_setzero_ps();
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) s = _mm512_add_ps(s, _mm512_add_ps(acc[i][0], acc[i][1]));
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, s);
    total += lanes[0];
  }
  return total;
}

// Runs work() once on each of `threads` threads (the caller's alone when 1), keeping its
// results alive so the loops are not optimised away.
template <typename Work>
void on_each_thread(int threads, const Work& work) {
  std::atomic<float> sink{0};
  auto body = [&](int64_t lo, int64_t hi) {
    float acc = 0;
    for (int64_t t = lo; t < hi; ++t) acc += work();
    sink.store(acc, std::memory_order_relaxed);
  };
  if (threads == 1) body(0, 1);
  else parallel_for(0, threads, 1, body);
  benchmark::DoNotOptimize(sink.load());
}

// FLOPs of `reps` fed loops on each of `threads` threads, each with its own panels.
double run_fed(int threads, int64_t reps) {
  on_each_thread(threads, [&] {
    alignas(64) float a[12 * kFedSteps];
    alignas(64) float b[32 * kFedSteps];
    for (int64_t i = 0; i < 12 * kFedSteps; ++i) a[i] = 1e-3f * float(i % 7);
    for (int64_t i = 0; i < 32 * kFedSteps; ++i) b[i] = 1e-3f * float(i % 5);
    return fed_loop_zmm(a, b, reps);
  });
  return double(threads) * double(reps) * double(kFedSteps) * 24 * 16 * 2.0;
}

void bm_fed_peak(benchmark::State& state, int threads) {
  settle_pools(PoolOwner::Duet);
  double flops = 0;
  for (auto _ : state) flops += run_fed(threads, 4096);
  state.counters["GFLOPS"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel("12x32 micro-kernel mix from L1, " + std::to_string(threads) + " thread(s)");
}

double run_fma(bool zmm, int threads, int64_t iters) {
  on_each_thread(threads, [&] { return zmm ? fma_loop_zmm(iters) : fma_loop_ymm(iters); });
  const int lanes = zmm ? 16 : 8;
  return double(threads) * double(iters) * kChains * lanes * 2.0;
}

void bm_fma_peak(benchmark::State& state, bool zmm, int threads) {
  settle_pools(PoolOwner::Duet);
  const int64_t iters = int64_t(1) << 20;
  double flops = 0;
  for (auto _ : state) flops += run_fma(zmm, threads, iters);
  state.counters["GFLOPS"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
  std::string label = zmm ? "zmm" : "ymm";
  label += " FMA, " + std::to_string(threads) + " thread(s)";
  state.SetLabel(label);
}

}  // namespace

bool cpu_has_avx512() {
  static const bool ok = __builtin_cpu_supports("avx512f");
  return ok;
}

double measure_fma_gflops(bool zmm, int threads, double seconds) {
  // A few short runs; the median resists a neighbour stealing a slice of one of them.
  const int64_t iters = int64_t(1) << 20;
  std::vector<double> rates;
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  run_fma(zmm, threads, iters);  // warm-up (frequency licence, thread wake-up)
  do {
    const auto t0 = std::chrono::steady_clock::now();
    const double flops = run_fma(zmm, threads, iters);
    rates.push_back(flops / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 1e9);
  } while (std::chrono::steady_clock::now() < end || rates.size() < 5);
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

void register_peak_benchmarks() {
  const int nt = bench_threads();
  std::vector<int> counts{1};
  if (nt > 1) counts.push_back(nt);
  for (bool zmm : {false, true}) {
    if (zmm && !cpu_has_avx512()) continue;
    for (int t : counts) {
      // Appended piecewise: GCC 12 warns falsely (-Wrestrict) on the chained operator+.
      std::string name = "peak/fma_";
      name += zmm ? "zmm" : "ymm";
      name += "/threads:";
      name += std::to_string(t);
      benchmark::RegisterBenchmark(name.c_str(), bm_fma_peak, zmm, t)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  if (!cpu_has_avx512()) return;
  for (int t : counts) {
    std::string name = "peak/fed_zmm/threads:";
    name += std::to_string(t);
    benchmark::RegisterBenchmark(name.c_str(), bm_fed_peak, t)->UseRealTime()->Unit(benchmark::kMillisecond);
  }
}

}  // namespace duet::bench
