// Batch normalisation layers (nn/layers/batch_norm.h) on nn::functional::batch_norm.
#include "nn/layers/batch_norm.h"

#include <algorithm>
#include <sstream>

#include "autograd/grad_mode.h"
#include "core/functions.h"
#include "nn/functional.h"

namespace duet::nn {

BatchNorm::BatchNorm(const char* name, int64_t num_features, BatchNormOptions options, std::vector<int64_t> input_dims)
    : Module(name), num_features_(num_features), options_(options), input_dims_(std::move(input_dims)) {
  DUET_CHECK(num_features > 0, name, ": num_features must be positive, got ", num_features);
  if (options_.affine) {
    weight = register_parameter("weight", ones({num_features}));
    bias = register_parameter("bias", zeros({num_features}));
  }
  if (options_.track_running_stats) {
    running_mean = register_buffer("running_mean", zeros({num_features}));
    running_var = register_buffer("running_var", ones({num_features}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, DType::Int64));
  }
}

void BatchNorm::reset_running_stats() {
  if (!options_.track_running_stats) return;
  NoGradGuard no_grad;
  running_mean.zero_();
  running_var.fill_(1.0);
  num_batches_tracked.zero_();
}

Tensor BatchNorm::forward(const Tensor& x) {
  DUET_CHECK(std::find(input_dims_.begin(), input_dims_.end(), x.dim()) != input_dims_.end(), type_name(),
             ": expected a ", input_dims_.size() == 1 ? "4-D (N, C, H, W)" : "2-D (N, C) or 3-D (N, C, L)",
             " input, got ", dtype_name(x.dtype()), shape_str(x.sizes()));
  DUET_CHECK(x.size(1) == num_features_, type_name(), ": expected ", num_features_, " channels, got input ",
             dtype_name(x.dtype()), shape_str(x.sizes()));
  const bool training = is_training();
  if (training && options_.track_running_stats) {
    NoGradGuard no_grad;
    num_batches_tracked.add_(1.0);
  }
  const bool batch_stats = training || !options_.track_running_stats;
  return functional::batch_norm(x, running_mean, running_var, weight, bias, batch_stats, options_.momentum,
                                options_.eps);
}

std::string BatchNorm::extra_repr() const {
  std::ostringstream os;
  os << num_features_ << ", eps=" << options_.eps << ", momentum=" << options_.momentum
     << ", affine=" << (options_.affine ? "true" : "false")
     << ", track_running_stats=" << (options_.track_running_stats ? "true" : "false");
  return os.str();
}

}  // namespace duet::nn
