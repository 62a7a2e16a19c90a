// The oneDNN backend of the CPU convolution kernels (DUET_CONV=onednn; conv_backend.h).
// Defined in kernels/cpu/conv_onednn.cpp only in builds with oneDNN (DUET_HAVE_ONEDNN,
// cmake option DUET_ONEDNN); conv_backend.cpp calls them only there.
#pragma once

#include <cstddef>
#include <span>

#include "core/attrs.h"
#include "core/tensor.h"

namespace duet::cpu::onednn {

// Whether oneDNN runs this call: float32 with every operand non-empty. float64 (oneDNN 2.x
// has no f64 data type) and empty operands run on duet's kernel.
bool takes(std::span<const Tensor> inputs, const Tensor& out);

// The three passes, with the inputs and attrs of the ops (core/ops.def): (x, w[, b]),
// (dy, w) + input_shape, (dy, x) + weight_shape. `out` is contiguous (the kernel layer
// allocates it); inputs may have any strides.
void conv2d(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs);
void conv2d_input_grad(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs);
void conv2d_weight_grad(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs);

// Primitives created so far and kept by shape (tests, benchmarks); clear_cache drops them.
size_t cached_plans();
void clear_cache();

}  // namespace duet::cpu::onednn
