// cuDNN as the selectable alternative for the convolution kernels on CUDA devices
// (DUET_CONV=cudnn or cuda::set_conv_backend("cudnn"); kernels/cpu/conv_backend.h has the
// table), next to duet's own kernels in conv.cu, which call this when it is selected.
// Built with CUDA; without cuDNN it only throws, and it is never reached then, since
// selecting the backend already fails.
#pragma once

#include <span>

#include "core/attrs.h"
#include "core/tensor.h"
#include "kernels/cpu/conv_backend.h"

namespace duet::cuda {

// One pass of conv2d on cuDNN: inputs as the op's (forward: x, w[, bias]; input gradient:
// dy, w; weight gradient: dy, x), out contiguous. Operands may be strided (cuDNN reads
// them through their strides; the weight is made contiguous first). float32 and float64
// compute in their own precision on FMA math (no TF32 tensor cores, as duet's kernels and
// cuBLAS backend), float16 and bfloat16 in float32. Of the algorithms cuDNN's heuristics
// offer, the first deterministic one runs, so two runs give the same bits.
void cudnn_conv(cpu::ConvPass pass, std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs);

}  // namespace duet::cuda
