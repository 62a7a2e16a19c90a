// nn::LayerNorm (nn/layers/layer_norm.h) on nn::functional::layer_norm.
#include "nn/layers/layer_norm.h"

#include <sstream>

#include "core/functions.h"
#include "nn/functional.h"

namespace duet::nn {

LayerNorm::LayerNorm(Shape normalized_shape, LayerNormOptions options)
    : Module("LayerNorm"), normalized_shape_(std::move(normalized_shape)), options_(options) {
  DUET_CHECK(!normalized_shape_.empty() && numel_of(normalized_shape_) > 0, "LayerNorm: normalized_shape must be ",
             "non-empty with positive sizes, got ", shape_str(normalized_shape_));
  if (options_.elementwise_affine) {
    weight = register_parameter("weight", ones(normalized_shape_));
    if (options_.bias) bias = register_parameter("bias", zeros(normalized_shape_));
  }
}

Tensor LayerNorm::forward(const Tensor& x) {
  return functional::layer_norm(x, normalized_shape_, weight, bias, options_.eps);
}

std::string LayerNorm::extra_repr() const {
  std::ostringstream os;
  os << shape_str(normalized_shape_) << ", eps=" << options_.eps
     << ", elementwise_affine=" << (options_.elementwise_affine ? "true" : "false")
     << ", bias=" << (options_.elementwise_affine && options_.bias ? "true" : "false");
  return os.str();
}

}  // namespace duet::nn
