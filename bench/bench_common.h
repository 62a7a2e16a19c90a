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

}  // namespace duet::bench
