// nn::functional::layer_norm (nn/functional.h) on the layer_norm op of core/ops.def: checks
// normalized_shape against the input's trailing dims and passes the affine operands that
// are given (a bias without a weight gets a weight of ones: x * 1 is exact, so the result
// is the bias added to xhat).
#include "core/dispatch.h"
#include "core/functions.h"
#include "nn/functional.h"

namespace duet::nn::functional {

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias, double eps) {
  const int64_t k = int64_t(normalized_shape.size());
  const bool trailing = k >= 1 && k <= x.dim() && Shape(x.sizes().end() - k, x.sizes().end()) == normalized_shape;
  DUET_CHECK(trailing, "layer_norm: normalized_shape ", shape_str(normalized_shape),
             " must be the input's last dims, got input ", dtype_name(x.dtype()), shape_str(x.sizes()));
  const Attrs attrs = Attrs().set("normalized_dims", k).set("eps", eps);
  if (!weight.defined() && !bias.defined()) return apply(OpKind::layer_norm, {x}, attrs);
  const Tensor w = weight.defined() ? weight : ones(normalized_shape, {x.dtype(), x.device()});
  if (!bias.defined()) return apply(OpKind::layer_norm, {x, w}, attrs);
  return apply(OpKind::layer_norm, {x, w, bias}, attrs);
}

}  // namespace duet::nn::functional
