// Test-only references for batch normalisation over dim 1 of (N, C, ...) RefTensors, plain
// loops in double from the definitions (see core/ops.def for the ops).
#pragma once

#include "tests/reference/reference_ops.h"

namespace duet::ref {

RefTensor batch_norm_stats(const RefTensor& x);  // [2, C]: mean, biased variance
RefTensor batch_norm(const RefTensor& x, const RefTensor& mean, const RefTensor& var, const RefTensor& weight,
                     const RefTensor& bias, double eps);
RefTensor batch_norm_backward_reduce(const RefTensor& dy, const RefTensor& x, const RefTensor& mean,
                                     const RefTensor& var, double eps);  // [2, C]: sum dy, sum dy * xhat
RefTensor batch_norm_backward(const RefTensor& dy, const RefTensor& x, const RefTensor& mean, const RefTensor& var,
                              const RefTensor& weight, const RefTensor& sums, double eps, bool training);

}  // namespace duet::ref
