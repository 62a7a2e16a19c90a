// The dtype a binary op computes in, shared by shape functions and kernels.
#pragma once

#include "core/tensor.h"

namespace duet {

// PyTorch's rule: within one category (floating, or integral/bool) a dimensioned operand's
// dtype wins over a 0-dim one; otherwise promote_types. So float32[3] + float64 0-dim
// stays float32, and int64[3] + float64 0-dim becomes float64.
inline DType result_type(const Tensor& a, const Tensor& b) {
  bool a_scalar = a.dim() == 0, b_scalar = b.dim() == 0;
  if (a_scalar != b_scalar && is_floating(a.dtype()) == is_floating(b.dtype()))
    return a_scalar ? b.dtype() : a.dtype();
  return promote_types(a.dtype(), b.dtype());
}

}  // namespace duet
