// Shape functions of the factories (full, arange, linspace, eye, random): no tensor
// inputs; shape, dtype and device come from attrs.
#include <cmath>

#include "core/ops/shape_fns.h"

namespace duet {
namespace {

TensorMeta meta_from_attrs(OpKind op, const Attrs& attrs, Shape shape, DType fallback) {
  checked_numel(shape, op_name(op));
  return {std::move(shape), attrs.get_or<DType>("dtype", fallback), attrs.get_or<Device>("device", Device::cpu())};
}

}  // namespace

void check_scalar_fits(const char* op, double value, DType dtype) {
  DUET_CHECK(fits_without_overflow(value, dtype), op, ": the value ", value, " cannot be converted to ", dtype,
             " without overflow");
}

TensorMeta full_shape(OpKind op, std::span<const Tensor>, const Attrs& attrs) {
  TensorMeta meta = meta_from_attrs(op, attrs, attrs.get<std::vector<int64_t>>("shape"), DType::Float32);
  check_scalar_fits(op_name(op), attrs.get_number("value"), meta.dtype);
  return meta;
}

TensorMeta arange_shape(OpKind op, std::span<const Tensor>, const Attrs& attrs) {
  double start = attrs.get_number("start"), end = attrs.get_number("end"), step = attrs.get_number("step");
  DUET_CHECK(std::isfinite(start) && std::isfinite(end), "arange: start and end must be finite, got ", start,
             " and ", end);
  DUET_CHECK(step != 0 && std::isfinite(step), "arange: step must be finite and non-zero, got ", step);
  DUET_CHECK((end - start) * step >= 0, "arange: the step ", step, " goes away from end ", end, " starting at ",
             start);
  double n = std::ceil((end - start) / step);
  DUET_CHECK(n < 9.0e18, "arange: ", n, " elements is too many");
  TensorMeta meta = meta_from_attrs(op, attrs, {int64_t(n)}, DType::Int64);
  if (is_integral(meta.dtype)) {  // the kernel converts start and step to int64 once
    check_scalar_fits("arange", start, DType::Int64);
    check_scalar_fits("arange", step, DType::Int64);
    check_scalar_fits("arange", end, meta.dtype);
    check_scalar_fits("arange", start, meta.dtype);
  }
  return meta;
}

TensorMeta linspace_shape(OpKind op, std::span<const Tensor>, const Attrs& attrs) {
  int64_t steps = attrs.get<int64_t>("steps");
  DUET_CHECK(steps >= 0, "linspace: steps must be >= 0, got ", steps);
  return meta_from_attrs(op, attrs, {steps}, DType::Float32);
}

TensorMeta eye_shape(OpKind op, std::span<const Tensor>, const Attrs& attrs) {
  int64_t n = attrs.get<int64_t>("n"), m = attrs.get<int64_t>("m");
  DUET_CHECK(n >= 0 && m >= 0, "eye: n and m must be >= 0, got ", n, " and ", m);
  return meta_from_attrs(op, attrs, {n, m}, DType::Float32);
}

TensorMeta random_shape(OpKind op, std::span<const Tensor>, const Attrs& attrs) {
  DType fallback = op == OpKind::randint ? DType::Int64 : DType::Float32;
  TensorMeta meta = meta_from_attrs(op, attrs, attrs.get<std::vector<int64_t>>("shape"), fallback);
  if (op == OpKind::randint) {
    DUET_CHECK(attrs.get<int64_t>("low") < attrs.get<int64_t>("high"), "randint: low (", attrs.get<int64_t>("low"),
               ") must be less than high (", attrs.get<int64_t>("high"), ")");
    DUET_CHECK(meta.dtype != DType::Bool, "randint: dtype bool is not supported");
    check_scalar_fits("randint", double(attrs.get<int64_t>("low")), meta.dtype);
    check_scalar_fits("randint", double(attrs.get<int64_t>("high") - 1), meta.dtype);
  } else {
    DUET_CHECK(is_floating(meta.dtype), op_name(op), ": expected a floating-point dtype, got ", meta.dtype);
    if (op == OpKind::rand_uniform)
      DUET_CHECK(attrs.get_number("low") <= attrs.get_number("high"), "rand: low (", attrs.get_number("low"),
                 ") must not exceed high (", attrs.get_number("high"), ")");
    else
      DUET_CHECK(attrs.get_number("std") >= 0, "randn: std must be >= 0, got ", attrs.get_number("std"));
  }
  return meta;
}

}  // namespace duet
