// cuDNN as a selectable alternative for softmax and log_softmax on CUDA devices, next to
// duet's own kernels (softmax.cu), never chosen silently:
//
//   DUET_SOFTMAX=duet|cudnn          (environment, read once on first use)
//   cuda::set_softmax_backend("cudnn");
//
// Asking for cudnn in a build without cuDNN (or without CUDA) throws duet::Error naming
// what is missing; an unknown name throws naming the choices. Portable: declared in every
// build, the CUDA build implements it in cudnn_softmax.cpp, others in cuda_stub.cpp.
#pragma once

#include <string_view>

#include "core/tensor.h"

namespace duet::cuda {

enum class SoftmaxBackend { Duet, Cudnn };

void set_softmax_backend(std::string_view name);
SoftmaxBackend get_softmax_backend();
bool cudnn_available();  // this build links cuDNN

// softmax (log = false) or log_softmax of `in` over `dim` (>= 0) into `out` of the same
// shape and dtype, on in's device, through cudnnSoftmaxForward; a strided `in` is copied
// contiguous first and a strided `out` gets the result copied in. float32, float64,
// float16 and bfloat16.
void cudnn_softmax(const Tensor& in, const Tensor& out, int64_t dim, bool log);

}  // namespace duet::cuda
