// The CPU convolution's forward entry with a store epilogue (conv.cpp): eager's conv2d
// kernel runs it with the bias alone; graph mode's fused conv nodes (graph/fusion.h) add
// an eval-mode batch norm and a ReLU, applied per output channel to each sample's output
// block right after the GEMM that computes it, while it is still in cache, instead of in
// passes of their own over the whole output.
//
//   cpu::ConvEpilogue epi;
//   epi.bias = b;                                     // conv2d's bias (optional)
//   epi.batch_norm = cpu::ConvEpilogue::BatchNorm{mean, var, gamma, beta, eps};
//   epi.relu = true;
//   cpu::conv2d_forward_with_epilogue(x, w, epi, out, conv_attrs);
//
// Each element gets eager's operations in eager's order, on the same values: the GEMM's
// sum, + bias (only when there is one), batch_norm.h's x * scale + shift, then eager's
// relu; so the result is the bits of conv2d, batch_norm and relu run one after the other
// (Note [One batch-norm formula] in batch_norm.h).
#pragma once

#include <optional>

#include "core/attrs.h"
#include "core/tensor.h"

namespace duet::cpu {

struct ConvEpilogue {
  Tensor bias;  // [OC], added first; undefined: none
  // batch_norm's inputs 1-4 and eps: y = x * scale + shift per output channel.
  struct BatchNorm {
    Tensor mean, var, weight, bias;
    double eps = 0;
  };
  std::optional<BatchNorm> batch_norm;
  bool relu = false;
};

// out = epilogue(conv2d(x, w)), with conv2d's attrs (stride, padding, dilation, groups);
// x and w of one float dtype, any strides; out a contiguous [N, OC, OH, OW] of that dtype.
// When conv_backend.h selects a vendor backend, the conv (with the bias) is that backend's
// call, as in eager mode, and the rest of the epilogue a second pass (Note [Epilogues on a
// vendor backend] in conv.cpp).
void conv2d_forward_with_epilogue(const Tensor& x, const Tensor& w, const ConvEpilogue& epilogue, const Tensor& out,
                                  const Attrs& attrs);

}  // namespace duet::cpu
