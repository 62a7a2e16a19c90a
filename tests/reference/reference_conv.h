// Test-only references for convolution and pooling (NCHW), plain loops in double over
// RefTensors, written from the definitions rather than from duet's kernels: each output
// element sums (or maxes) over its window; each gradient is the sum over the outputs that
// read an input element. `scale` holds the sum of |terms| for tolerances.
#pragma once

#include "tests/reference/reference_ops.h"

namespace duet::ref {

struct ConvGeom {
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
};
struct PoolGeom {
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  bool ceil_mode = false, count_include_pad = true;
};
// PyTorch's output size of a window over `in` elements.
int64_t window_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode);

RefTensor conv2d(const RefTensor& x, const RefTensor& w, const RefTensor* bias, const ConvGeom& g);
RefTensor conv2d_input_grad(const RefTensor& dy, const RefTensor& w, const Shape& x_shape, const ConvGeom& g);
RefTensor conv2d_weight_grad(const RefTensor& dy, const RefTensor& x, const Shape& w_shape, const ConvGeom& g);
RefTensor max_pool2d(const RefTensor& x, const PoolGeom& g);
RefTensor max_pool2d_backward(const RefTensor& dy, const RefTensor& x, const PoolGeom& g);
RefTensor avg_pool2d(const RefTensor& x, const PoolGeom& g);
RefTensor avg_pool2d_backward(const RefTensor& dy, const Shape& x_shape, const PoolGeom& g);
RefTensor adaptive_avg_pool2d(const RefTensor& x, int64_t oh, int64_t ow);
RefTensor adaptive_avg_pool2d_backward(const RefTensor& dy, const Shape& x_shape);

}  // namespace duet::ref
