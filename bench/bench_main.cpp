// duet_bench's main: sets the thread count (DUET_NUM_THREADS, default: all cores),
// measures the FMA peak and the STREAM triad once so that the GEMM and bandwidth
// benchmarks can report "% of peak" / "% of triad" counters, records them in the JSON
// context, then runs the benchmarks (peak, SGEMM, bandwidth; each area also has its own
// rows for the baselines, measured like any other benchmark).
#include <benchmark/benchmark.h>

#include <chrono>
#include <string>
#include <thread>

#include "bench/bench_common.h"
#include "core/parallel.h"
#include "kernels/cpu/gemm.h"

namespace duet::bench {

Baselines& baselines() {
  static Baselines b;
  return b;
}

int bench_threads() { return get_num_threads(); }

void settle_pools(PoolOwner owner) {
  static PoolOwner last = PoolOwner::Duet;  // the baselines measured in main() run on duet's pool
  if (owner == last) return;
  last = owner;
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
}

double gemm_peak_gflops() {
  const Baselines& b = baselines();
  const bool zmm = cpu::detail::gemm_isa() == cpu::detail::GemmIsa::Avx512 && b.peak_zmm_gflops > 0;
  return zmm ? b.peak_zmm_gflops : b.peak_ymm_gflops;
}

double triad_gbps_for(int64_t n) {
  const Baselines& b = baselines();
  return n >= (int64_t(1) << 24) ? b.triad_gbps_16m : b.triad_gbps_1m;
}

}  // namespace duet::bench

int main(int argc, char** argv) {
  using namespace duet::bench;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  const int nt = bench_threads();
  duet::set_num_threads(nt);  // starts the pool before anything is timed
  Baselines& b = baselines();
  b.peak_ymm_gflops = measure_fma_gflops(false, nt, 0.3);
  if (cpu_has_avx512()) b.peak_zmm_gflops = measure_fma_gflops(true, nt, 0.3);
  b.triad_gbps_1m = measure_triad_gbps(int64_t(1) << 20, 0.3);
  b.triad_gbps_16m = measure_triad_gbps(int64_t(1) << 24, 0.5);

  benchmark::AddCustomContext("duet_threads", std::to_string(nt));
  benchmark::AddCustomContext("duet_gemm_isa", duet::cpu::detail::gemm_isa() == duet::cpu::detail::GemmIsa::Avx512
                                                   ? "avx512"
                                                   : "avx2");
  benchmark::AddCustomContext("startup_peak_ymm_gflops", std::to_string(b.peak_ymm_gflops));
  benchmark::AddCustomContext("startup_peak_zmm_gflops", std::to_string(b.peak_zmm_gflops));
  benchmark::AddCustomContext("startup_triad_1m_gbps", std::to_string(b.triad_gbps_1m));
  benchmark::AddCustomContext("startup_triad_16m_gbps", std::to_string(b.triad_gbps_16m));

  register_peak_benchmarks();
  register_gemm_benchmarks();
  register_bandwidth_benchmarks();
  register_conv_benchmarks();
  register_pool_benchmarks();
  register_batch_norm_benchmarks();
  register_attention_benchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
