// Gradient clipping by total norm and by value (see clip_grad.h).
#include "optim/clip_grad.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "core/error.h"
#include "core/functions.h"

namespace duet::optim {

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type,
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
  if (grads.empty()) return 0.0;

  const bool inf_norm = std::isinf(norm_type);
  double total = 0;
  for (const Tensor& g : grads) {
    Tensor a = abs(g.to(DType::Float64));
    if (inf_norm) {
      const double m = amax(a).item<double>();
      total = std::isnan(m) ? m : std::max(total, m);  // a NaN gradient makes the norm NaN
      if (std::isnan(total)) break;
    } else if (norm_type == 2.0) {
      total += sum(a * a).item<double>();
    } else if (norm_type == 1.0) {
      total += sum(a).item<double>();
    } else {
      total += sum(pow(a, norm_type)).item<double>();
    }
  }
  if (!inf_norm && norm_type != 1.0) total = std::pow(total, 1.0 / norm_type);

  DUET_CHECK(!error_if_nonfinite || std::isfinite(total), "clip_grad_norm_: the total norm of order ", norm_type,
             " of the gradients is ", total, "; cannot clip (pass error_if_nonfinite=false to scale anyway)");
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1 || std::isnan(coef))
    for (const Tensor& g : grads) g.mul_(coef);
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
