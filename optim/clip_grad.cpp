// Gradient clipping by total norm and by value (see clip_grad.h).
#include "optim/clip_grad.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "core/error.h"
#include "core/functions.h"

namespace duet::optim {

Tensor clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  DUET_CHECK(max_norm >= 0, "clip_grad_norm_: invalid max_norm ", max_norm, " (expected >= 0)");
  DUET_CHECK(norm_type > 0, "clip_grad_norm_: invalid norm_type ", norm_type,
             " (expected > 0, or INFINITY)");
  NoGradGuard no_grad;
  std::vector<Tensor> grads;
  for (const Tensor& p : params) {
    if (!p.defined()) continue;
    Tensor g = p.grad();
    if (g.defined() && g.numel() > 0) grads.push_back(g);
  }
  if (grads.empty()) return zeros({}, DType::Float64);

  const bool inf_norm = std::isinf(norm_type);
  Tensor total;
  for (const Tensor& g : grads) {
    const Tensor a = abs(g.to(DType::Float64));
    const Tensor part = inf_norm            ? amax(a)
                        : norm_type == 2.0 ? sum(a * a)
                        : norm_type == 1.0 ? sum(a)
                                           : sum(pow(a, norm_type));
    // maximum keeps a NaN, so a NaN gradient makes the infinity norm NaN too.
    total = !total.defined() ? part : inf_norm ? maximum(total, part) : total + part;
  }
  if (!inf_norm && norm_type != 1.0) total = pow(total, 1.0 / norm_type);

  if (error_if_nonfinite) {
    const double t = total.item<double>();
    DUET_CHECK(std::isfinite(t), "clip_grad_norm_: the total norm of order ", norm_type, " of the gradients is ", t,
               "; cannot clip (pass error_if_nonfinite=false to scale anyway)");
  }
  const Tensor coef = clamp(max_norm / (total + 1e-6), std::nullopt, 1.0);
  for (const Tensor& g : grads) g.mul_(coef.to(g.dtype()));
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  DUET_CHECK(clip_value >= 0, "clip_grad_value_: invalid clip_value ", clip_value, " (expected >= 0)");
  NoGradGuard no_grad;
  for (const Tensor& p : params) {
    if (!p.defined()) continue;
    Tensor g = p.grad();
    if (g.defined()) g.clamp_(-clip_value, clip_value);
  }
}

}  // namespace duet::optim
