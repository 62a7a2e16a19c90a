// Error checks for the CUDA libraries duet calls: cuBLAS statuses and NVRTC results
// become duet::Errors naming the call, the status and the place, like DUET_CUDA_CHECK
// (cuda_check.h) does for the runtime.
//
//   DUET_CUBLAS_CHECK(libs::cublas().gemm_ex(handle, ...));
//   DUET_NVRTC_CHECK(libs::nvrtc().compile_program(prog, n, opts));
// (the libraries are opened on first use: cuda_libs.h).
#pragma once

#include <cublas_v2.h>
#include <nvrtc.h>

#include <sstream>

#include "core/error.h"
#include "kernels/cuda/cuda_libs.h"

namespace duet::cuda::detail {

inline const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "unknown cuBLAS status";
  }
}

[[noreturn]] inline void throw_lib_error(const char* lib, const char* status, int code, const char* expr,
                                         const char* file, int line) {
  std::ostringstream os;
  os << lib << " error: " << expr << " failed with " << status << " (" << code << ") at " << file << ":" << line;
  throw ::duet::Error(os.str());
}

}  // namespace duet::cuda::detail

#define DUET_CUBLAS_CHECK(expr)                                                                             \
  do {                                                                                                      \
    const cublasStatus_t duet_cublas_st_ = (expr);                                                          \
    if (duet_cublas_st_ != CUBLAS_STATUS_SUCCESS) [[unlikely]]                                              \
      ::duet::cuda::detail::throw_lib_error("cuBLAS", ::duet::cuda::detail::cublas_status_name(duet_cublas_st_), \
                                            int(duet_cublas_st_), #expr, __FILE__, __LINE__);               \
  } while (0)

#define DUET_NVRTC_CHECK(expr)                                                                          \
  do {                                                                                                  \
    const nvrtcResult duet_nvrtc_res_ = (expr);                                                         \
    if (duet_nvrtc_res_ != NVRTC_SUCCESS) [[unlikely]]                                                  \
      ::duet::cuda::detail::throw_lib_error("NVRTC", ::duet::cuda::libs::nvrtc().get_error_string(duet_nvrtc_res_), int(duet_nvrtc_res_), \
                                            #expr, __FILE__, __LINE__);                                 \
  } while (0)
