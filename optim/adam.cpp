// Adam update (see adam.h); also the engine of AdamW, which differs only in how weight
// decay is applied.
#include "optim/adam.h"

#include "core/dispatch.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "core/error.h"
#include "core/functions.h"

namespace duet::optim {

Adam::Adam(std::vector<Tensor> params, double lr, AdamOptions options)
    : Adam(std::vector<ParamGroup>{{std::move(params), std::nullopt}}, lr, options, "Adam", /*decoupled=*/false) {}

Adam::Adam(std::vector<ParamGroup> groups, double lr, AdamOptions options)
    : Adam(std::move(groups), lr, options, "Adam", /*decoupled=*/false) {}

Adam::Adam(std::vector<ParamGroup> groups, double lr, AdamOptions options, std::string name, bool decoupled)
    : Optimizer(params_of(groups), lr, name), options_(options), decoupled_(decoupled) {
  const AdamOptions& o = options_;
  DUET_CHECK(o.beta1 >= 0 && o.beta1 < 1, name, ": invalid beta1 ", o.beta1, " (expected 0 <= beta1 < 1)");
  DUET_CHECK(o.beta2 >= 0 && o.beta2 < 1, name, ": invalid beta2 ", o.beta2, " (expected 0 <= beta2 < 1)");
  DUET_CHECK(o.eps >= 0, name, ": invalid eps ", o.eps, " (expected >= 0)");
  for (size_t k = 0; k < groups.size(); ++k) {
    const double wd = groups[k].weight_decay.value_or(o.weight_decay);
    DUET_CHECK(wd >= 0, name, ": invalid weight_decay ", wd, groups.size() > 1 ? " in parameter group " : "",
               groups.size() > 1 ? std::to_string(k) : std::string(), " (expected >= 0)");
    weight_decay_.insert(weight_decay_.end(), groups[k].params.size(), wd);
  }
}

std::vector<std::string> Adam::buffer_names() const {
  if (options_.amsgrad) return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  return {"exp_avg", "exp_avg_sq"};
}

Adam::Corrections Adam::corrections(const Tensor& step) const {
  const AdamOptions& o = options_;
  const TensorOptions on_step{DType::Float64, step.device()};
  return {1.0 - pow(full({}, o.beta1, on_step), step), 1.0 - pow(full({}, o.beta2, on_step), step)};
}

void Adam::step() {
  begin_step();
  NoGradGuard no_grad;
  const AdamOptions& o = options_;
  const double lr = this->lr();
  const bool capturing = is_capturing();
  Corrections shared;  // while capturing: the lockstep parameters' bias corrections
  for (size_t i = 0; i < params().size(); ++i) {
    const Tensor& p = params()[i];
    Tensor g = p.grad();
    if (!g.defined()) continue;
    ParamState& s = state_with_zero_buffers(i);
    // A parameter updated on every step so far counts with the optimizer (one counter for
    // all such parameters in a graph); the compiled step keeps to the choice made here.
    const bool lockstep = s.step == step_count();
    if (capturing) {
      guard("step counts", [this, i, lockstep] { return (state(i).step == step_count()) == lockstep; });
      if (!lockstep) param_step_tensor(i);  // made before the count below advances it
    }
    const int64_t t = count_param_step(i);

    const double wd = weight_decay_[i];
    if (decoupled_) {
      if (wd != 0) {
        if (capturing) p.mul_((1.0 - lr_tensor(p.device()) * wd).to(p.dtype()));
        else p.mul_(1 - lr * wd);
      }
    } else if (wd != 0) {
      g = g + p * wd;
    }
    const Tensor& m = s.buffers.at("exp_avg");
    const Tensor& v = s.buffers.at("exp_avg_sq");
    m.mul_(o.beta1).add_(g * (1 - o.beta1));
    v.mul_(o.beta2).add_(g * g * (1 - o.beta2));
    Tensor second = v;
    if (o.amsgrad) {
      const Tensor& vmax = s.buffers.at("max_exp_avg_sq");
      vmax.copy_(maximum(vmax, v));
      second = vmax;
    }
    if (capturing) {
      // In a captured step the bias corrections come from a step-count tensor that the
      // graph updates each run, so replays keep counting (Note [Optimizers under capture]).
      // They are converted to the parameter's dtype as eager mode's host numbers are.
      if (lockstep && !shared.bias1.defined()) shared = corrections(step_count_tensor() + 1.0);
      Corrections c = lockstep ? shared : corrections(param_step_tensor(i));
      const DType dt = p.dtype();
      Tensor denom = sqrt(second) / sqrt(c.bias2).to(dt) + o.eps;
      p.sub_(m / denom * (lr_tensor(p.device()) / c.bias1).to(dt));
      continue;
    }
    const double bias1 = 1 - std::pow(o.beta1, double(t));
    const double bias2 = 1 - std::pow(o.beta2, double(t));
    Tensor denom = sqrt(second) / std::sqrt(bias2) + o.eps;
    p.sub_(m / denom * (lr / bias1));
  }
  count_step();
}

}  // namespace duet::optim
