// Batch normalisation layers, as torch.nn's BatchNorm1d (input (N, C) or (N, C, L)) and
// BatchNorm2d ((N, C, H, W)):
//   nn::BatchNorm2d bn(16);           // weight 1, bias 0; running_mean 0, running_var 1
//   y = bn.forward(x);                // training: batch statistics, running ones updated
//   bn.eval(); y = bn.forward(x);     // eval: the running statistics
// Buffers (in the state dict): running_mean, running_var, num_batches_tracked (int64).
#pragma once

#include "nn/module.h"

namespace duet::nn {

struct BatchNormOptions {
  double eps = 1e-5;
  double momentum = 0.1;
  bool affine = true;               // learnable weight and bias
  bool track_running_stats = true;  // false: no buffers, batch statistics in eval too
};

class BatchNorm : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  void reset_running_stats();

  Tensor weight, bias;                                      // (C), undefined without affine
  Tensor running_mean, running_var, num_batches_tracked;   // undefined without tracking

 protected:
  BatchNorm(const char* name, int64_t num_features, BatchNormOptions options, std::vector<int64_t> input_dims);

 private:
  int64_t num_features_;
  BatchNormOptions options_;
  std::vector<int64_t> input_dims_;  // the input ranks the layer accepts
};

class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t num_features, BatchNormOptions options = {})
      : BatchNorm("BatchNorm1d", num_features, options, {2, 3}) {}
};

class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t num_features, BatchNormOptions options = {})
      : BatchNorm("BatchNorm2d", num_features, options, {4}) {}
};

}  // namespace duet::nn
