// Test-only references for layer normalisation of RefTensors over their last `k` dims (rows
// of D values), plain loops in double from the definitions (see core/ops.def for the ops).
// weight and bias are optional (nullptr: absent).
#pragma once

#include "tests/reference/reference_ops.h"

namespace duet::ref {

RefTensor layer_norm(const RefTensor& x, const RefTensor* weight, const RefTensor* bias, int64_t k, double eps);
RefTensor layer_norm_backward(const RefTensor& dy, const RefTensor& x, const RefTensor* weight, int64_t k, double eps);
RefTensor layer_norm_backward_affine(const RefTensor& dy, const RefTensor& x, int64_t k,
                                     double eps);  // [2, D]: sum dy * xhat, sum dy

}  // namespace duet::ref
