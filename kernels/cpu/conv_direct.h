// Direct convolution on a padded-width grid (float32, AVX-512), beside the im2col + GEMM
// kernels of conv.cpp, which choose it per shape (conv_direct.cpp says how it works and
// where it wins). Strided layers read phase planes (Note [Strided grids]). The input
// gradient of a stride-1 convolution is itself a stride-1 convolution (of dy with the
// flipped, transposed weights), so the forward kernel serves both; the weight gradient has
// a kernel of its own.
//
//   if (cpu::conv_direct_forward_applies(d)) cpu::conv_direct_forward(x, w, out, d, epilogue);
#pragma once

#include <cstdint>
#include <functional>

#include "core/ops/conv_geometry.h"

namespace duet::cpu {

// An NCHW float32 image read with any element strides.
struct ImageView {
  const float* p;
  int64_t sn, sc, sh, sw;
};

// Applied to each (sample, group) block of the forward's output right after it is stored:
// `rows` output channels from oc0, P contiguous pixels each.
using ConvBlockEpilogue = std::function<void(float* block, int64_t oc0, int64_t rows, int64_t P)>;

// Whether these kernels take the pass: float32 (the caller's check), AVX-512 micro-kernels
// in use (detail::gemm_isa(), so tests can cap it), a kernel larger than 1x1 (im2col of a
// 1x1 is a plain or subsampled copy, and measured faster), one padded input within 1 MB;
// forward and input gradient also need at least one sample per thread (they thread over
// samples) and tiles that pay (>= 4 output channels, >= 16 taps); the input gradient
// needs stride 1 and padding <= dilation * (kernel - 1).
bool conv_direct_forward_applies(const ConvDims& d);
bool conv_direct_input_grad_applies(const ConvDims& d);
bool conv_direct_weight_grad_applies(const ConvDims& d);

// out: contiguous [N, OC, OH, OW]; w: contiguous [OC, C / groups, KH, KW].
void conv_direct_forward(const ImageView& x, const float* w, float* out, const ConvDims& d,
                         const ConvBlockEpilogue& epilogue);
// dx: contiguous [N, C, H, W] (overwritten); dy: [N, OC, OH, OW].
void conv_direct_input_grad(const ImageView& dy, const float* w, float* dx, const ConvDims& d);
// dw: contiguous [OC, C / groups, KH, KW] (overwritten). Samples are summed in chunks of
// `chunk` (each chunk's sum in a fixed order, the chunks added in order), so the bits do not
// depend on the thread count.
void conv_direct_weight_grad(const ImageView& dy, const ImageView& x, float* dw, const ConvDims& d, int64_t chunk);

}  // namespace duet::cpu
