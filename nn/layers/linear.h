// Linear: y = x @ weight^T + bias, with PyTorch's default initialisation
// (kaiming_uniform_ with a = sqrt(5) for the weight; U(-1/sqrt(in), 1/sqrt(in)) for the bias).
//   auto fc = std::make_shared<nn::Linear>(784, 256);   // weight (256, 784), bias (256)
#pragma once

#include "nn/module.h"

namespace duet::nn {

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  void reset_parameters();

  Tensor weight;
  Tensor bias;  // undefined when constructed with bias = false

 private:
  int64_t in_features_, out_features_;
};

}  // namespace duet::nn
