// Error checks for CUDA runtime calls. Every cudaError_t duet sees becomes a duet::Error
// that names the call, the error and where it happened, so a failed launch or copy reads
//   "CUDA error: cudaMemcpyAsync(...) failed with cudaErrorInvalidValue (invalid argument)
//    at kernels/cuda/runtime.cpp:123"
// instead of a status code somebody forgot to look at.
//
//   DUET_CUDA_CHECK(cudaMallocAsync(&p, n, stream));
//   kernel<<<grid, block, 0, stream>>>(...);
//   DUET_CUDA_CHECK_LAUNCH();          // launch-configuration errors surface here
//
// Host-only: plain C++ that includes the CUDA runtime's API header (no nvcc needed).
// cuBLAS and NVRTC statuses have their own macros in cuda_lib_check.h.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

namespace duet::cuda::detail {

// "cudaErrorInvalidValue (invalid argument)"
std::string describe_cuda_error(cudaError_t err);
[[noreturn]] void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line);

}  // namespace duet::cuda::detail

#define DUET_CUDA_CHECK(expr)                                                          \
  do {                                                                                 \
    const cudaError_t duet_cuda_err_ = (expr);                                         \
    if (duet_cuda_err_ != cudaSuccess) [[unlikely]]                                    \
      ::duet::cuda::detail::throw_cuda_error(duet_cuda_err_, #expr, __FILE__, __LINE__); \
  } while (0)

// After a <<<...>>> launch: reports a bad configuration (too many threads, no kernel image
// for this GPU, ...). Faults inside the kernel surface at the next synchronising call.
#define DUET_CUDA_CHECK_LAUNCH() DUET_CUDA_CHECK(cudaGetLastError())
