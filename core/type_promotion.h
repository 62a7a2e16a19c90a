// The dtype a binary op computes in, shared by shape functions and kernels.
#pragma once

#include "core/tensor.h"

namespace duet {

// PyTorch's rule: within one category (bool, integral, floating) a dimensioned operand's
// dtype wins over a 0-dim one; otherwise promote_types. So float32[3] + float64 0-dim
// stays float32, int64[3] + float64 0-dim becomes float64, bool[3] + int32 0-dim int32.
inline int dtype_category(DType t) { return t == DType::Bool ? 0 : is_floating(t) ? 2 : 1; }
inline DType result_type(const Tensor& a, const Tensor& b) {
  bool a_scalar = a.dim() == 0, b_scalar = b.dim() == 0;
  if (a_scalar != b_scalar && dtype_category(a.dtype()) == dtype_category(b.dtype()))
    return a_scalar ? b.dtype() : a.dtype();
  return promote_types(a.dtype(), b.dtype());
}

}  // namespace duet
