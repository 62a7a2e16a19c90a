// What duet's cuDNN callers share (cudnn_softmax.cpp, cudnn_conv.cpp): the status check,
// one handle per device bound to duet's stream of that device (so cuDNN work is ordered
// with duet's own kernels; created on first use, kept for the process like the streams),
// and the cuDNN data type of a duet dtype. Built with CUDA and cuDNN only.
#pragma once

#if defined(DUET_HAVE_CUDNN)
#include <cudnn.h>

#include <sstream>

#include "core/dtype.h"
#include "core/error.h"
#include "kernels/cuda/cuda_libs.h"

#define DUET_CUDNN_CHECK(expr)                                                                             \
  do {                                                                                                     \
    const cudnnStatus_t duet_cudnn_st_ = (expr);                                                           \
    if (duet_cudnn_st_ != CUDNN_STATUS_SUCCESS) [[unlikely]] {                                             \
      std::ostringstream duet_cudnn_os_;                                                                   \
      duet_cudnn_os_ << "cuDNN error: " #expr " failed with "                                              \
                     << ::duet::cuda::libs::cudnn().get_error_string(duet_cudnn_st_) << " ("              \
                     << int(duet_cudnn_st_) << ") at " << __FILE__ << ":" << __LINE__;                     \
      throw ::duet::Error(duet_cudnn_os_.str());                                                           \
    }                                                                                                      \
  } while (0)

namespace duet::cuda {

// The current device's handle (the caller holds a DeviceGuard for `device`).
cudnnHandle_t cudnn_handle(int device);
// float32, float64, float16, bfloat16; anything else is an error naming `op`.
cudnnDataType_t cudnn_dtype(DType dt, const char* op);

// A tensor descriptor owned for one call.
struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  TensorDesc() { DUET_CUDNN_CHECK(libs::cudnn().create_tensor_descriptor(&d)); }
  ~TensorDesc() { libs::cudnn().destroy_tensor_descriptor(d); }
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
};

}  // namespace duet::cuda
#endif
