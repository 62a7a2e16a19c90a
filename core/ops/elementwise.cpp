// Shape functions of the elementwise ops: broadcasting and dtype rules.
// Dtype rules follow PyTorch: ops such as exp promote integers to float32; binary ops
// promote (a dimensioned operand's dtype wins over a 0-dim one of the same category);
// comparisons give bool; true division of integers gives float32.
#include "core/ops/shape_fns.h"
#include "core/type_promotion.h"

namespace duet {
namespace {

void check_not_bool(OpKind op, const Tensor& t) {
  DUET_CHECK(t.dtype() != DType::Bool, op_name(op), ": expected a numeric tensor, got ", describe(t),
             " (cast it with .to(DType::Float32) first)");
}

}  // namespace

TensorMeta unary_same_shape(OpKind op, std::span<const Tensor> in, const Attrs&) {
  if (op != OpKind::copy) check_not_bool(op, in[0]);
  return {in[0].sizes(), in[0].dtype(), in[0].device()};
}

TensorMeta unary_float_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  if (op == OpKind::gelu) {
    std::string approx = attrs.get_or<std::string>("approximate", "none");
    DUET_CHECK(approx == "none" || approx == "tanh", "gelu: approximate must be \"none\" or \"tanh\", got \"",
               approx, "\"");
  }
  DType out = is_floating(in[0].dtype()) ? in[0].dtype() : DType::Float32;
  return {in[0].sizes(), out, in[0].device()};
}

TensorMeta unary_bool_shape(OpKind op, std::span<const Tensor> in, const Attrs&) {
  return {in[0].sizes(), DType::Bool, in[0].device()};
}

TensorMeta clamp_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  check_not_bool(op, in[0]);
  DUET_CHECK(attrs.has("min") || attrs.has("max"), "clamp: at least one of min and max must be given");
  if (attrs.has("min") && attrs.has("max"))
    DUET_CHECK(!(attrs.get_number("min") > attrs.get_number("max")), "clamp: min (", attrs.get_number("min"),
               ") is greater than max (", attrs.get_number("max"), ")");
  return {in[0].sizes(), in[0].dtype(), in[0].device()};
}

TensorMeta cast_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  return {in[0].sizes(), attrs.get<DType>("dtype"), in[0].device()};
}

TensorMeta binary_shape(OpKind op, std::span<const Tensor> in, const Attrs&) {
  Device dev = common_device(op, in);
  Shape shape = broadcast_shapes(in[0].sizes(), in[1].sizes(), op_name(op));
  DType dt = result_type(in[0], in[1]);
  DUET_CHECK(dt != DType::Bool, op_name(op), ": expected numeric tensors, got ", describe(in[0]), " and ",
             describe(in[1]));
  if (op == OpKind::div && is_integral(dt)) dt = DType::Float32;
  return {shape, dt, dev};
}

TensorMeta compare_shape(OpKind op, std::span<const Tensor> in, const Attrs&) {
  Device dev = common_device(op, in);
  return {broadcast_shapes(in[0].sizes(), in[1].sizes(), op_name(op)), DType::Bool, dev};
}

TensorMeta where_shape(OpKind op, std::span<const Tensor> in, const Attrs&) {
  Device dev = common_device(op, in);
  DUET_CHECK(in[0].dtype() == DType::Bool, "where: the condition must be a bool tensor, got ", describe(in[0]));
  Shape shape = broadcast_shapes(in[0].sizes(), in[1].sizes(), "where");
  shape = broadcast_shapes(shape, in[2].sizes(), "where");
  return {shape, result_type(in[1], in[2]), dev};
}

}  // namespace duet
