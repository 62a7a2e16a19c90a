// CudnnConvScope for the CUDA tests that run convolutions on cuDNN (test_cuda_conv.cpp,
// test_cuda_conv_fusion.cpp); apart from cuda_test_support.h, whose `cpu(t)` helper would
// clash with namespace duet::cpu, which conv_backend.h declares.
#pragma once

#include <doctest/doctest.h>

#include "kernels/cpu/conv_backend.h"

namespace duet::testing {

// Selects cuDNN for CUDA convolutions for a scope (duet's kernels again after it), where
// the build found cuDNN; `selected` false (after saying so) where it did not:
//   const CudnnConvScope cudnn;
//   if (!cudnn.selected) return;
struct CudnnConvScope {
  bool selected = false;
  CudnnConvScope() {
    if (!cuda::conv_backend_available(cuda::ConvBackend::Cudnn)) {
      MESSAGE("skipped: this build did not find cuDNN");
      return;
    }
    cuda::set_conv_backend("cudnn");
    selected = true;
  }
  ~CudnnConvScope() {
    if (selected) cuda::set_conv_backend("duet");
  }
  CudnnConvScope(const CudnnConvScope&) = delete;
  CudnnConvScope& operator=(const CudnnConvScope&) = delete;
};

}  // namespace duet::testing
