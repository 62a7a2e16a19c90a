// Gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_. Parameters
// whose grad() is undefined are skipped.
//
//   loss.backward();
//   double norm = optim::clip_grad_norm_(params, /*max_norm=*/1.0);
//   opt.step();
#pragma once

#include <vector>

#include "core/tensor.h"

namespace duet::optim {

// The p-norm of all gradients taken together (as if concatenated into one vector);
// norm_type = INFINITY gives the largest absolute value. When that total exceeds max_norm,
// every gradient is scaled in place by max_norm / (total + 1e-6). Returns the total norm
// before clipping (0 when no parameter has a gradient). The norm is accumulated in float64.
// error_if_nonfinite: throw duet::Error instead of scaling when the total is NaN or Inf.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

// Clamps every gradient in place to [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace duet::optim
