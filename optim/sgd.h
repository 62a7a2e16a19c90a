// SGD with optional momentum, dampening, Nesterov momentum and L2 weight decay, following
// torch.optim.SGD's documented update:
//   g = grad + weight_decay * p
//   b = g on a parameter's first update, else momentum * b + (1 - dampening) * g
//   g = g + momentum * b (nesterov) or b
//   p = p - lr * g
//
//   optim::SGD opt(params, 0.1, {.momentum = 0.9, .nesterov = true});
#pragma once

#include "optim/optimizer.h"

namespace duet::optim {

struct SGDOptions {
  double momentum = 0;
  double dampening = 0;
  bool nesterov = false;
  double weight_decay = 0;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, double lr, SGDOptions options = {});
  void step() override;
  const SGDOptions& options() const { return options_; }

 protected:
  std::vector<std::string> buffer_names() const override;

 private:
  SGDOptions options_;
};

}  // namespace duet::optim
