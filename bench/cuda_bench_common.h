// Helpers shared by the duet_cuda_bench files: skipping a benchmark when there is no GPU,
// and timing launches on duet's stream with CUDA events.
#pragma once

#include <benchmark/benchmark.h>

#include <string>

#include "kernels/cuda/cuda_api.h"
#include "kernels/cuda/runtime.h"

namespace duet::bench {

// True when there is a device; otherwise the benchmark is skipped with the reason.
inline bool have_gpu(benchmark::State& state) {
  if (cuda::device_count() > 0) return true;
  std::string reason = cuda::unavailable_reason();
  const std::string prefix = "no CUDA device: ";
  if (reason.rfind(prefix, 0) != 0) reason = prefix + reason;
  state.SkipWithError(reason.c_str());
  return false;
}

// Seconds per call of `run` over `launches` calls between two events on cuda:0's stream.
template <typename F>
double time_launches(F&& run, int launches) {
  cudaStream_t st = cuda::stream(0);
  cudaEvent_t start, stop;
  DUET_CUDA_CHECK(cudaEventCreate(&start));
  DUET_CUDA_CHECK(cudaEventCreate(&stop));
  DUET_CUDA_CHECK(cudaEventRecord(start, st));
  for (int i = 0; i < launches; ++i) run();
  DUET_CUDA_CHECK(cudaEventRecord(stop, st));
  DUET_CUDA_CHECK(cudaEventSynchronize(stop));
  float ms = 0;
  DUET_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
  DUET_CUDA_CHECK(cudaEventDestroy(start));
  DUET_CUDA_CHECK(cudaEventDestroy(stop));
  return double(ms) * 1e-3 / launches;
}

}  // namespace duet::bench
