// Shape functions of layer normalisation's ops (core/ops.def): x in float32 or float64 is
// normalised over its trailing `normalized_dims` dims (a row of D values, their product),
// every other index a row of its own; weight and bias, where given, have those trailing
// dims' shape (as torch.nn.LayerNorm's normalized_shape) and x's dtype. The affine
// gradients travel as one [2, D] tensor.
#include "core/ops/shape_fns.h"

namespace duet {
namespace {

void check_attrs(OpKind op, const Tensor& x, const Attrs& attrs) {
  DUET_CHECK(attrs.has("normalized_dims") && attrs.has("eps") && attrs.get_number("eps") >= 0, op_name(op),
             ": needs attrs normalized_dims and a non-negative eps");
  const int64_t k = attrs.get<int64_t>("normalized_dims");
  DUET_CHECK(k >= 1 && k <= x.dim(), op_name(op), ": normalized_dims ", k, " must be between 1 and the input's ",
             x.dim(), " dims (input ", describe(x), ")");
  DUET_CHECK(x.dtype() == DType::Float32 || x.dtype() == DType::Float64, op_name(op),
             ": expected a float32 or float64 input, got ", describe(x),
             " (other dtypes are not supported by these kernels yet)");
}

// The trailing dims normalised together: [D0, D1, ...].
Shape normalized_shape(const Tensor& x, const Attrs& attrs) {
  const int64_t k = attrs.get<int64_t>("normalized_dims");
  return Shape(x.sizes().end() - k, x.sizes().end());
}

void check_affine(OpKind op, const Tensor& x, const Tensor& t, const Attrs& attrs, const char* what) {
  const Shape want = normalized_shape(x, attrs);
  DUET_CHECK(t.sizes() == want, op_name(op), ": ", what, " must have the normalised shape ", shape_str(want),
             " (the last ", want.size(), " dims of the input ", describe(x), "), got ", describe(t));
  DUET_CHECK(t.dtype() == x.dtype(), op_name(op), ": ", what, " ", describe(t), " must have the input's dtype ",
             dtype_name(x.dtype()));
}

void check_gradient(OpKind op, const Tensor& dy, const Tensor& x) {
  DUET_CHECK(dy.sizes() == x.sizes() && dy.dtype() == x.dtype(), op_name(op), ": output gradient ", describe(dy),
             " must match the input ", describe(x));
}

}  // namespace

TensorMeta layer_norm_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  DUET_CHECK(!in.empty() && in.size() <= 3, op_name(op), ": expected (x), (x, weight) or (x, weight, bias), got ",
             in.size(), " inputs");
  Device dev = common_device(op, in);
  const Tensor& x = in[0];
  check_attrs(op, x, attrs);
  if (in.size() > 1) check_affine(op, x, in[1], attrs, "weight");
  if (in.size() > 2) check_affine(op, x, in[2], attrs, "bias");
  return {x.sizes(), x.dtype(), dev};
}

TensorMeta layer_norm_backward_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  DUET_CHECK(in.size() == 2 || in.size() == 3, op_name(op), ": expected (dy, x) or (dy, x, weight), got ", in.size(),
             " inputs");
  Device dev = common_device(op, in);
  const Tensor& x = in[1];
  check_attrs(op, x, attrs);
  check_gradient(op, in[0], x);
  if (in.size() > 2) check_affine(op, x, in[2], attrs, "weight");
  return {x.sizes(), x.dtype(), dev};
}

TensorMeta layer_norm_affine_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  Device dev = common_device(op, in);
  const Tensor& x = in[1];
  check_attrs(op, x, attrs);
  check_gradient(op, in[0], x);
  return {{2, numel_of(normalized_shape(x, attrs))}, x.dtype(), dev};
}

}  // namespace duet
