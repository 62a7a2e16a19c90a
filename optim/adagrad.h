// Adagrad, following torch.optim.Adagrad's documented update at step t:
//   g = grad + weight_decay * p
//   clr = lr / (1 + (t - 1) * lr_decay)
//   sum = sum + g^2                           (sum starts at initial_accumulator_value)
//   p = p - clr * g / (sqrt(sum) + eps)
// As in PyTorch the state ("sum", step 0) exists from construction, so it is in
// state_dict() before the first step.
//
//   optim::Adagrad opt(params, 1e-2, {.lr_decay = 1e-4});
#pragma once

#include "optim/optimizer.h"

namespace duet::optim {

struct AdagradOptions {
  double lr_decay = 0;
  double weight_decay = 0;
  double initial_accumulator_value = 0;
  double eps = 1e-10;
};

class Adagrad : public Optimizer {
 public:
  Adagrad(std::vector<Tensor> params, double lr = 1e-2, AdagradOptions options = {});
  void step() override;
  const AdagradOptions& options() const { return options_; }

 protected:
  std::vector<std::string> buffer_names() const override { return {"sum"}; }

 private:
  AdagradOptions options_;
};

}  // namespace duet::optim
