// RMSprop update (see rmsprop.h).
#include "optim/rmsprop.h"

#include "autograd/grad_mode.h"
#include "core/error.h"
#include "core/functions.h"

namespace duet::optim {

RMSprop::RMSprop(std::vector<Tensor> params, double lr, RMSpropOptions options)
    : Optimizer(std::move(params), lr, "RMSprop"), options_(options) {
  const RMSpropOptions& o = options_;
  DUET_CHECK(o.alpha >= 0, "RMSprop: invalid alpha ", o.alpha, " (expected >= 0)");
  DUET_CHECK(o.eps >= 0, "RMSprop: invalid eps ", o.eps, " (expected >= 0)");
  DUET_CHECK(o.weight_decay >= 0, "RMSprop: invalid weight_decay ", o.weight_decay, " (expected >= 0)");
  DUET_CHECK(o.momentum >= 0, "RMSprop: invalid momentum ", o.momentum, " (expected >= 0)");
}

std::vector<std::string> RMSprop::buffer_names() const {
  std::vector<std::string> names = {"square_avg"};
  if (options_.momentum > 0) names.push_back("momentum_buffer");
  if (options_.centered) names.push_back("grad_avg");
  return names;
}

void RMSprop::step() {
  begin_step();
  NoGradGuard no_grad;
  const RMSpropOptions& o = options_;
  for (size_t i = 0; i < params().size(); ++i) {
    const Tensor& p = params()[i];
    Tensor g = p.grad();
    if (!g.defined()) continue;
    ParamState& s = state_with_zero_buffers(i);
    count_param_step(i);
    if (o.weight_decay != 0) g = g + p * o.weight_decay;

    const Tensor& sq = s.buffers.at("square_avg");
    sq.mul_(o.alpha).add_(g * g * (1 - o.alpha));
    Tensor avg;
    if (o.centered) {
      const Tensor& ga = s.buffers.at("grad_avg");
      ga.mul_(o.alpha).add_(g * (1 - o.alpha));
      avg = sqrt(sq - ga * ga) + o.eps;
    } else {
      avg = sqrt(sq) + o.eps;
    }
    if (o.momentum > 0) {
      const Tensor& buf = s.buffers.at("momentum_buffer");
      buf.mul_(o.momentum).add_(g / avg);
      p.sub_(times_lr(buf));
    } else {
      p.sub_(times_lr(g / avg));
    }
  }
  count_step();
}

}  // namespace duet::optim
