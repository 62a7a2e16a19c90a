// nn::functional activations, linear, dropout and flatten.
#include "nn/functional.h"

#include "core/functions.h"

namespace duet::nn::functional {

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  DUET_CHECK(w.dim() == 2, "linear: weight must be 2-D (out_features, in_features), got shape ", w.sizes());
  DUET_CHECK(x.dim() >= 1 && x.size(-1) == w.size(1), "linear: input of shape ", x.sizes(), " does not end in ",
             w.size(1), " features, which the weight of shape ", w.sizes(), " expects");
  Tensor y = matmul(x, w.t());
  return b.defined() ? y + b : y;
}

Tensor relu(const Tensor& x) { return duet::relu(x); }
Tensor gelu(const Tensor& x, const std::string& approximate) { return duet::gelu(x, approximate); }
Tensor tanh(const Tensor& x) { return duet::tanh(x); }
Tensor sigmoid(const Tensor& x) { return duet::sigmoid(x); }
Tensor silu(const Tensor& x) { return duet::silu(x); }

Tensor dropout(const Tensor& x, double p, bool training) {
  DUET_CHECK(p >= 0 && p <= 1, "dropout: probability must be in [0, 1], got ", p);
  if (!training || p == 0) return x;
  if (p == 1) return x * 0.0;
  Tensor keep = ge(rand(x.sizes(), {x.dtype(), x.device()}), scalar_like(p, x));
  return x * keep.to(x.dtype()) * (1.0 / (1.0 - p));
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) { return x.flatten(start_dim, end_dim); }

}  // namespace duet::nn::functional
