// The derivative table (filled once from each family's register function) and the
// helpers rules share.
#include "autograd/derivatives.h"

#include "core/functions.h"

namespace duet {

const DerivativeDef& derivative_for(OpKind op) {
  static const DerivativeTable table = [] {
    DerivativeTable t;
    register_elementwise_derivatives(t);
    register_reduction_derivatives(t);
    register_linalg_derivatives(t);
    register_indexing_derivatives(t);
    register_view_derivatives(t);
    register_conv_derivatives(t);
    register_batch_norm_derivatives(t);
    register_layer_norm_derivatives(t);
    register_attention_derivatives(t);
    return t;
  }();
  return table.get(op);
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.sizes() == shape) return grad;
  int64_t lead = grad.dim() - int64_t(shape.size());
  DUET_ASSERT(lead >= 0, "sum_to: gradient ", grad.sizes(), " has fewer dims than ", shape);
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < grad.dim(); ++d)
    if (d < lead || (shape[size_t(d - lead)] == 1 && grad.size(d) != 1)) dims.push_back(d);
  Tensor s = dims.empty() ? grad : sum(grad, dims, /*keepdim=*/true);
  return s.reshape(shape);
}

Tensor unsqueeze_reduced(const Tensor& grad, const Shape& input_shape, const Attrs& attrs) {
  if (attrs.get_or<bool>("keepdim", false)) return grad;
  auto dims = wrap_dims(attrs.get_or<std::vector<int64_t>>("dims", {}), int64_t(input_shape.size()), "backward");
  Shape kept = input_shape;
  for (int64_t d : dims) kept[size_t(d)] = 1;
  return grad.reshape(kept);
}

}  // namespace duet
