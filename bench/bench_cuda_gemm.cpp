// duet_cuda_bench: FP32 GEMM on CUDA, duet's tiled SGEMM (kernels/cuda/gemm_sgemm.cu)
// against cuBLAS (CUBLAS_COMPUTE_32F, default math mode: no TF32), both called directly
// (cuda::duet_gemm / cuda::cublas_gemm) on preallocated row-major device matrices.
// Shapes: square 1024, 2048, 4096, 8192, and fashion-mlp's layers at batch 128
// (M x K x N = 128x784x256, 128x256x128, 128x128x10).
// Timing: cudaEvents on duet's stream around a batch of launches (sized to about 20 ms of
// work, at least one launch) after a warm-up; manual time per GEMM. Counter GFLOPs =
// 2 M N K / time. Without a GPU every benchmark stops with SkipWithError("no CUDA device:
// ...") and the binary exits 0. Names: cuda_gemm/<duet|cublas>/<M>x<K>x<N>.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "bench/cuda_bench_common.h"
#include "core/functions.h"
#include "kernels/cuda/cuda_api.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/runtime.h"

namespace duet::bench {
namespace {

void bm_cuda_sgemm(benchmark::State& state, int64_t M, int64_t K, int64_t N, bool use_cublas) {
  if (!have_gpu(state)) return;
  const Device dev = Device::cuda(0);
  cuda::DeviceGuard guard(0);
  const Tensor a = randn({M, K}, {DType::Float32, dev});
  const Tensor b = randn({K, N}, {DType::Float32, dev});
  Tensor c = empty({M, N}, {DType::Float32, dev});
  cuda::GemmArgs g;
  g.dtype = DType::Float32;
  g.device = 0;
  g.M = M, g.N = N, g.K = K;
  g.a = a.data_ptr(), g.rsa = K, g.csa = 1;
  g.b = b.data_ptr(), g.rsb = N, g.csb = 1;
  g.c = c.data_ptr(), g.ldc = N;
  auto run = [&] {
    if (use_cublas) cuda::cublas_gemm(g);
    else cuda::duet_gemm(g);
  };

  const double flops = 2.0 * double(M) * double(N) * double(K);
  time_launches(run, 3);  // warm-up: module load, cuBLAS handle and heuristics, clocks
  // About 20 ms of work per timing at 20 TFLOP/s.
  const int launches = int(std::clamp(2e-2 * 20e12 / flops, 1.0, 1000.0));
  for (auto _ : state) state.SetIterationTime(time_launches(run, launches));
  state.counters["GFLOPs"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

const bool kRegistered = [] {
  const int64_t shapes[][3] = {{1024, 1024, 1024}, {2048, 2048, 2048}, {4096, 4096, 4096}, {8192, 8192, 8192},
                               {128, 784, 256},    {128, 256, 128},    {128, 128, 10}};
  for (const auto& s : shapes)
    for (bool cublas : {false, true}) {
      const std::string name = std::string("cuda_gemm/") + (cublas ? "cublas/" : "duet/") + std::to_string(s[0]) +
                               "x" + std::to_string(s[1]) + "x" + std::to_string(s[2]);
      benchmark::RegisterBenchmark(name.c_str(), bm_cuda_sgemm, s[0], s[1], s[2], cublas)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
    }
  return true;
}();

}  // namespace
}  // namespace duet::bench
