// SGEMM benchmarks: duet's own GEMM against OpenBLAS and Eigen on square sizes 64..4096
// and on the shapes the MNIST-style MLP training uses (forward X @ W / X @ W^T, backward
// dX = dY @ W and dW = dY^T @ X), a transformer-MLP shape and char-gpt's training shapes.
// Every case runs through cpu::sgemm with the backend switched by set_gemm_backend, so the three see the same
// layouts. Counters: GFLOPS (2*M*N*K per call) and pct_peak, the share of the FMA peak
// measured at start-up (the zmm one when duet's GEMM uses AVX-512).
// Names: sgemm/<case>/<backend>; cases are "square_<n>" or "<role>_m<M>_k<K>_n<N>_<ta><tb>"
// with t = transposed operand, n = not.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "core/parallel.h"
#include "kernels/cpu/gemm.h"

namespace duet::bench {
namespace {

struct GemmCase {
  std::string name;
  int64_t M, N, K;
  bool ta, tb;
};

struct AlignedFree {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float[], AlignedFree>;

Buffer random_buffer(int64_t n, uint32_t seed) {
  Buffer b(static_cast<float*>(std::aligned_alloc(64, (size_t(n) * sizeof(float) + 63) / 64 * 64)));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (int64_t i = 0; i < n; ++i) b[i] = dist(rng);
  return b;
}

void bm_sgemm(benchmark::State& state, GemmCase c, cpu::GemmBackend backend) {
  cpu::set_gemm_backend(backend);
  settle_pools(backend == cpu::GemmBackend::OpenBLAS ? PoolOwner::OpenBlas
               : backend == cpu::GemmBackend::Eigen ? PoolOwner::Eigen
                                                    : PoolOwner::Duet);
  // Stored shapes: A is M x K (K x M when transposed), B is K x N (N x K when transposed).
  const int64_t lda = c.ta ? c.M : c.K, ldb = c.tb ? c.K : c.N;
  Buffer A = random_buffer(c.M * c.K, 1), B = random_buffer(c.K * c.N, 2), C = random_buffer(c.M * c.N, 3);
  const double flops = 2.0 * double(c.M) * double(c.N) * double(c.K);
  auto call = [&] { cpu::sgemm(c.ta, c.tb, c.M, c.N, c.K, 1.f, A.get(), lda, B.get(), ldb, 0.f, C.get(), c.N); };
  if (flops < 2e10) call();  // warm-up: packing buffers, the backend's thread pool
  for (auto _ : state) {
    call();
    benchmark::ClobberMemory();
  }
  const double peak = gemm_peak_gflops();
  state.counters["GFLOPS"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["pct_peak"] =
      benchmark::Counter(peak > 0 ? flops / 1e9 / peak * 100 : 0, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(cpu::gemm_backend_name(backend)) + " M=" + std::to_string(c.M) +
                 " N=" + std::to_string(c.N) + " K=" + std::to_string(c.K) +
                 (backend == cpu::GemmBackend::Eigen ? " (Eigen: 1 thread, no OpenMP)" : ""));
  cpu::set_gemm_backend(cpu::GemmBackend::Duet);
}

std::string shape_name(const char* role, int64_t M, int64_t K, int64_t N, bool ta, bool tb) {
  return std::string(role) + "_m" + std::to_string(M) + "_k" + std::to_string(K) + "_n" + std::to_string(N) + "_" +
         (ta ? "t" : "n") + (tb ? "t" : "n");
}

std::vector<GemmCase> gemm_cases() {
  std::vector<GemmCase> cases;
  for (int64_t n = 64; n <= 4096; n *= 2) cases.push_back({"square_" + std::to_string(n), n, n, n, false, false});
  // The MLP 784-256-128-10 at batch 128. Forward with W stored in x out (nn) and, as
  // torch's Linear stores it, out x in (nt); backward dX = dY @ W (W out x in, not
  // transposed) and dW = dY^T @ X (dY stored batch x out, so A is transposed).
  auto add = [&](const char* role, int64_t M, int64_t K, int64_t N, bool ta, bool tb) {
    cases.push_back({shape_name(role, M, K, N, ta, tb), M, N, K, ta, tb});
  };
  add("fwd", 128, 784, 256, false, false);
  add("fwd", 128, 784, 256, false, true);
  add("fwd", 128, 256, 128, false, false);
  add("fwd", 128, 256, 128, false, true);
  add("fwd", 128, 128, 10, false, false);
  add("fwd", 128, 128, 10, false, true);
  add("bwd_dx", 128, 256, 784, false, false);
  add("bwd_dw", 256, 128, 784, true, false);
  add("mlp", 512, 768, 3072, false, false);
  // char-gpt's training step (12 x 64 = 768 tokens, width 128, MLP 512): the four Linear
  // layers forward (x @ W^T), the MLP's input gradients (dY @ W) and weight gradients
  // (dY^T @ X). bench/peers/torch_gemm.py times the same shapes with PyTorch.
  add("gpt_qkv", 768, 128, 384, false, true);
  add("gpt_proj", 768, 128, 128, false, true);
  add("gpt_fc", 768, 128, 512, false, true);
  add("gpt_fc2", 768, 512, 128, false, true);
  add("gpt_fc_dx", 768, 512, 128, false, false);
  add("gpt_fc2_dx", 768, 128, 512, false, false);
  add("gpt_fc_dw", 512, 768, 128, true, false);
  add("gpt_fc2_dw", 128, 768, 512, true, false);
  return cases;
}

}  // namespace

void register_gemm_benchmarks() {
  const cpu::GemmBackend backends[] = {cpu::GemmBackend::Duet, cpu::GemmBackend::OpenBLAS, cpu::GemmBackend::Eigen};
  for (const GemmCase& c : gemm_cases())
    for (cpu::GemmBackend b : backends) {
      if (!cpu::gemm_backend_available(b)) continue;
      auto* bm = benchmark::RegisterBenchmark(("sgemm/" + c.name + "/" + cpu::gemm_backend_name(b)).c_str(),
                                              bm_sgemm, c, b);
      bm->UseRealTime()->Unit(benchmark::kMillisecond);
      // A 4096^3 call takes ~0.4-1 s (1.5 s for single-threaded Eigen): one timed call
      // per repetition keeps the whole run within a few minutes on 2 cores.
      const double flops = 2.0 * double(c.M) * double(c.N) * double(c.K);
      if (flops > 5e10) bm->Iterations(1);
      else if (flops > 1e9) bm->MinTime(0.3);
      else bm->MinTime(0.1);
    }
}

}  // namespace duet::bench
