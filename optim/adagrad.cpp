// Adagrad update (see adagrad.h).
#include "optim/adagrad.h"

#include "autograd/grad_mode.h"
#include "core/dispatch.h"
#include "core/error.h"
#include "core/functions.h"

namespace duet::optim {

Adagrad::Adagrad(std::vector<Tensor> params, double lr, AdagradOptions options)
    : Optimizer(std::move(params), lr, "Adagrad"), options_(options) {
  const AdagradOptions& o = options_;
  DUET_CHECK(o.lr_decay >= 0, "Adagrad: invalid lr_decay ", o.lr_decay, " (expected >= 0)");
  DUET_CHECK(o.weight_decay >= 0, "Adagrad: invalid weight_decay ", o.weight_decay, " (expected >= 0)");
  DUET_CHECK(o.initial_accumulator_value >= 0, "Adagrad: invalid initial_accumulator_value ",
             o.initial_accumulator_value, " (expected >= 0)");
  DUET_CHECK(o.eps >= 0, "Adagrad: invalid eps ", o.eps, " (expected >= 0)");
  NoGradGuard no_grad;
  for (size_t i = 0; i < this->params().size(); ++i) {
    ParamState& s = state(i);
    s.initialized = true;
    s.buffers.insert("sum", full_like(this->params()[i], o.initial_accumulator_value));
  }
}

void Adagrad::step() {
  begin_step();
  NoGradGuard no_grad;
  const AdagradOptions& o = options_;
  for (size_t i = 0; i < params().size(); ++i) {
    const Tensor& p = params()[i];
    Tensor g = p.grad();
    if (!g.defined()) continue;
    ParamState& s = state(i);
    if (!s.initialized) {  // a loaded state dict may predate this parameter's state
      s.initialized = true;
      s.buffers.insert("sum", full_like(p, o.initial_accumulator_value));
    }
    // A decaying rate depends on the step count: in a captured step it comes from the
    // count's and the rate's tensors (Note [Optimizers under capture]), converted as eager's
    // host number is.
    const bool counted = is_capturing() && o.lr_decay != 0;
    if (counted) param_step_tensor(i);  // made before the count below advances it
    const int64_t t = count_param_step(i);
    if (o.weight_decay != 0) g = g + p * o.weight_decay;
    const Tensor& sum = s.buffers.at("sum");
    sum.add_(g * g);
    if (counted) {
      Tensor clr = lr_tensor(p.device()) / (1.0 + (param_step_tensor(i) - 1.0) * o.lr_decay);
      p.sub_(g / (sqrt(sum) + o.eps) * clr.to(p.dtype()));
    } else if (o.lr_decay == 0) {
      p.sub_(times_lr(g / (sqrt(sum) + o.eps)));  // lr / (1 + (t-1) * 0) is lr exactly
    } else {
      const double clr = lr() / (1 + double(t - 1) * o.lr_decay);
      p.sub_(g / (sqrt(sum) + o.eps) * clr);
    }
  }
  count_step();
}

}  // namespace duet::optim
