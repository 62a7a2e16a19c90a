// RMSprop, following torch.optim.RMSprop's documented update:
//   g = grad + weight_decay * p
//   v = alpha * v + (1 - alpha) * g^2
//   centered: g_avg = alpha * g_avg + (1 - alpha) * g;  v~ = v - g_avg^2   (else v~ = v)
//   momentum > 0: b = momentum * b + g / (sqrt(v~) + eps);  p = p - lr * b
//   else:         p = p - lr * g / (sqrt(v~) + eps)
// State per parameter: "square_avg", "momentum_buffer" (momentum > 0), "grad_avg" (centered).
//
//   optim::RMSprop opt(params, 1e-2, {.momentum = 0.9, .centered = true});
#pragma once

#include "optim/optimizer.h"

namespace duet::optim {

struct RMSpropOptions {
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
};

class RMSprop : public Optimizer {
 public:
  RMSprop(std::vector<Tensor> params, double lr = 1e-2, RMSpropOptions options = {});
  void step() override;
  const RMSpropOptions& options() const { return options_; }

 protected:
  std::vector<std::string> buffer_names() const override;

 private:
  RMSpropOptions options_;
};

}  // namespace duet::optim
