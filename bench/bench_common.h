// Shared state of duet_bench: the FMA peak and STREAM-triad figures measured at start-up
// (so every benchmark can report its fraction of them as a counter), the thread count,
// and the registration functions of each area.
#pragma once

#include <cstdint>

namespace duet::bench {

// Measured once in main() before the benchmarks run (N threads = bench_threads()).
struct Baselines {
  double peak_ymm_gflops = 0;  // AVX2 (ymm) FMA, all threads
  double peak_zmm_gflops = 0;  // AVX-512 (zmm) FMA, all threads; 0 without AVX-512
  double triad_gbps_1m = 0;    // triad over 1M float32 elements
  double triad_gbps_16m = 0;   // triad over 16M float32 elements
};
Baselines& baselines();
int bench_threads();

// Note [Idle pools]: a BLAS library's worker threads spin for a while after each call
// before they sleep (OpenBLAS's for about 0.1 s). With repetitions interleaved at random,
// the benchmark after an OpenBLAS one would share the cores with those spinning workers:
// measured 2026-11-26, duet's 1024^3 SGEMM timed right after OpenBLAS ran at 0.78-0.88x
// OpenBLAS, after a 100 ms pause at 0.97-0.99x. Every CPU benchmark calls settle_pools
// with the library whose threads it runs on before it times anything; when that differs
// from the previous benchmark's, it waits 250 ms, so no library runs beside another's
// workers (the wait is outside the timed loop). oneDNN runs on its own OpenMP team
// (libgomp's workers spin too), so its rows settle as a library of their own.
enum class PoolOwner { Duet, OpenBlas, Eigen, OneDnn };
void settle_pools(PoolOwner owner);

// The peak duet's GEMM can reach: the zmm one when its kernels use AVX-512.
double gemm_peak_gflops();
// The triad figure for an array length (the 1M or the 16M one).
double triad_gbps_for(int64_t n);

// bench_peak.cpp: FMA FLOP/s of a register-only loop over `seconds`, on `threads` threads.
bool cpu_has_avx512();
double measure_fma_gflops(bool zmm, int threads, double seconds);
// bench_bandwidth.cpp: triad GB/s over n floats (median of a few short runs).
double measure_triad_gbps(int64_t n, double seconds);

void register_peak_benchmarks();
void register_gemm_benchmarks();
void register_bandwidth_benchmarks();
void register_conv_benchmarks();
void register_pool_benchmarks();
void register_batch_norm_benchmarks();
void register_attention_benchmarks();

}  // namespace duet::bench
