// AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, following
// torch.optim.AdamW: first p = p * (1 - lr * weight_decay), then Adam's moment update with
// the raw gradient (no L2 term). weight_decay defaults to 1e-2 as in PyTorch.
//
//   optim::AdamW opt(params, 3e-4, {.weight_decay = 0.1});
//   optim::AdamW gpt_opt({{matrices, 0.1}, {others, 0.0}}, 1e-3, {.beta2 = 0.99});
#pragma once

#include "optim/adam.h"

namespace duet::optim {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, double lr = 1e-3, AdamWOptions options = {});
  // Groups with weight decays of their own, as nanoGPT's: {{matrices, 0.1}, {the rest, 0.0}}.
  AdamW(std::vector<ParamGroup> groups, double lr, AdamWOptions options = {});
  const AdamWOptions& options() const { return options_; }

 private:
  AdamWOptions options_;
};

}  // namespace duet::optim
