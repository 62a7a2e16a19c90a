// Adam (Kingma & Ba), following torch.optim.Adam's documented update at step t:
//   g = grad + weight_decay * p                        (L2 penalty added to the gradient)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g^2
//   v_max = max(v_max, v)                              (amsgrad only; v_max replaces v below)
//   p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// State per parameter: "exp_avg", "exp_avg_sq", "max_exp_avg_sq" (amsgrad) and its step t.
//
//   optim::Adam opt(params, 1e-3, {.beta2 = 0.98, .amsgrad = true});
#pragma once

#include "optim/optimizer.h"

namespace duet::optim {

struct AdamOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
  bool amsgrad = false;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, double lr = 1e-3, AdamOptions options = {});
  // Groups with weight decays of their own (optimizer.h ParamGroup).
  Adam(std::vector<ParamGroup> groups, double lr, AdamOptions options = {});
  void step() override;
  const AdamOptions& options() const { return options_; }
  double weight_decay_of(size_t param) const { return weight_decay_[param]; }

 protected:
  // AdamW reuses the moment update with its own name and decoupled decay.
  Adam(std::vector<ParamGroup> groups, double lr, AdamOptions options, std::string name, bool decoupled);
  std::vector<std::string> buffer_names() const override;

 private:
  // 1 - beta^step for both moments, as 0-dim float64 tensors (captured steps).
  struct Corrections {
    Tensor bias1, bias2;
  };
  Corrections corrections(const Tensor& step) const;

  AdamOptions options_;
  bool decoupled_;
  std::vector<double> weight_decay_;  // per parameter, from its group
};

}  // namespace duet::optim
