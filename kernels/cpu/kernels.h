// Declarations of every CPU kernel, one per non-view op of core/ops.def:
//   void cpu::<op>_kernel(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs);
// They are defined across kernels/cpu/*.cpp, one file per op family. Inputs arrive
// validated by the op's shape function; kernels only assert internal invariants.
#pragma once

#include <span>

#include "core/attrs.h"
#include "core/tensor.h"

namespace duet::cpu {

#define DUET_OP(name, arity, flags, shape_fn) \
  void name##_kernel(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs);
#define DUET_VIEW_OP(name, arity, shape_fn)
#include "core/ops.def"
#undef DUET_OP
#undef DUET_VIEW_OP

}  // namespace duet::cpu
