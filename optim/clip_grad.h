// Gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_. Parameters
// whose grad() is undefined are skipped.
//
//   loss.backward();
//   Tensor norm = optim::clip_grad_norm_(params, /*max_norm=*/1.0);   // float64 0-dim
//   opt.step();
// Written as tensor ops with no value read on the host (as PyTorch's), so a compiled
// training step can clip: every gradient is multiplied by min(1, max_norm / (total +
// 1e-6)), which is exactly 1 (no change) below the limit.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace duet::optim {

// The p-norm of all gradients taken together (as if concatenated into one vector);
// norm_type = INFINITY gives the largest absolute value. Every gradient is scaled in place
// by min(1, max_norm / (total + 1e-6)) in its own dtype (a NaN total makes them NaN, as in
// PyTorch). Returns the total norm before clipping as a float64 0-dim tensor on the
// gradients' device (0 when no parameter has a gradient), accumulated in float64.
// error_if_nonfinite: throw duet::Error instead of scaling when the total is NaN or Inf
// (this reads the total on the host, so a compiled step cannot use it).
Tensor clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

// Clamps every gradient in place to [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace duet::optim
