// Layer normalisation, as torch.nn.LayerNorm: normalises over the trailing dims given by
// normalized_shape, each row by its own statistics (the same in training and eval):
//   nn::LayerNorm ln({128});                 // weight 1, bias 0, eps 1e-5
//   y = ln.forward(x);                       // x [..., 128]
//   nn::LayerNorm plain({128}, {.elementwise_affine = false});
#pragma once

#include "nn/module.h"

namespace duet::nn {

struct LayerNormOptions {
  double eps = 1e-5;
  bool elementwise_affine = true;  // a learnable weight (and bias)
  bool bias = true;                // with elementwise_affine: a learnable bias too
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(Shape normalized_shape, LayerNormOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  Tensor weight, bias;  // normalized_shape; undefined without them

 private:
  Shape normalized_shape_;
  LayerNormOptions options_;
};

}  // namespace duet::nn
