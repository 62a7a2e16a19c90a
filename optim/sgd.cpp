// SGD update (see sgd.h). State: "momentum_buffer" when momentum != 0.
#include "optim/sgd.h"

#include "autograd/grad_mode.h"
#include "core/error.h"
#include "core/functions.h"

namespace duet::optim {

SGD::SGD(std::vector<Tensor> params, double lr, SGDOptions options)
    : Optimizer(std::move(params), lr, "SGD"), options_(options) {
  const SGDOptions& o = options_;
  DUET_CHECK(o.momentum >= 0, "SGD: invalid momentum ", o.momentum, " (expected >= 0)");
  DUET_CHECK(o.dampening >= 0, "SGD: invalid dampening ", o.dampening, " (expected >= 0)");
  DUET_CHECK(o.weight_decay >= 0, "SGD: invalid weight_decay ", o.weight_decay, " (expected >= 0)");
  DUET_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0),
             "SGD: nesterov momentum requires momentum > 0 and dampening == 0, got momentum ", o.momentum,
             " and dampening ", o.dampening);
}

std::vector<std::string> SGD::buffer_names() const {
  if (options_.momentum != 0) return {"momentum_buffer"};
  return {};
}

void SGD::step() {
  begin_step();
  NoGradGuard no_grad;
  const SGDOptions& o = options_;
  for (size_t i = 0; i < params().size(); ++i) {
    const Tensor& p = params()[i];
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (o.weight_decay != 0) g = g + p * o.weight_decay;
    if (o.momentum != 0) {
      ParamState& s = state(i);
      if (!s.initialized) {
        s.initialized = true;
        s.buffers.insert("momentum_buffer", g.to(p.dtype()).clone());
      } else {
        const Tensor& buf = s.buffers.at("momentum_buffer");
        buf.mul_(o.momentum);
        buf.add_(o.dampening == 0 ? g : g * (1 - o.dampening));
      }
      count_param_step(i);
      const Tensor& buf = s.buffers.at("momentum_buffer");
      g = o.nesterov ? g + buf * o.momentum : buf;
    }
    p.sub_(times_lr(g));
  }
  count_step();
}

}  // namespace duet::optim
