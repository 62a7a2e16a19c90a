// Factory functions: zeros, ones, full, arange, linspace, eye, random tensors, and tensors
// from host data.
#include <cmath>
#include <cstring>

#include "core/dispatch.h"
#include "core/functions.h"
#include "core/generator.h"

namespace duet {
namespace {

Attrs factory_attrs(const Shape& shape, const TensorOptions& opts) {
  return Attrs().set("shape", shape).set("dtype", opts.dtype).set("device", opts.device);
}

// Random draws reserve counters from the default generator; the op itself is a pure
// function of its attrs (seed, offset).
Attrs random_attrs(const Shape& shape, const TensorOptions& opts) {
  int64_t n = checked_numel(shape, "random");
  Generator& gen = default_generator();
  uint64_t offset = gen.advance(uint64_t(n));
  return factory_attrs(shape, opts).set("seed", int64_t(gen.seed())).set("offset", int64_t(offset));
}

}  // namespace

Tensor empty(const Shape& shape, TensorOptions opts) { return empty_like_meta({shape, opts.dtype, opts.device}, "empty"); }

Tensor full(const Shape& shape, double value, TensorOptions opts) {
  return apply(OpKind::full, {}, factory_attrs(shape, opts).set("value", value));
}
Tensor zeros(const Shape& shape, TensorOptions opts) { return full(shape, 0.0, opts); }
Tensor ones(const Shape& shape, TensorOptions opts) { return full(shape, 1.0, opts); }
Tensor zeros_like(const Tensor& t) { return zeros(t.sizes(), {t.dtype(), t.device()}); }
Tensor ones_like(const Tensor& t) { return ones(t.sizes(), {t.dtype(), t.device()}); }
Tensor full_like(const Tensor& t, double value) { return full(t.sizes(), value, {t.dtype(), t.device()}); }
Tensor scalar_tensor(double value, TensorOptions opts) { return full({}, value, opts); }

Tensor arange(double end, TensorOptions opts) { return arange(0, end, 1, opts); }
Tensor arange(double start, double end, double step, TensorOptions opts) {
  Attrs a = Attrs().set("start", start).set("end", end).set("step", step);
  return apply(OpKind::arange, {}, a.set("dtype", opts.dtype).set("device", opts.device));
}

Tensor linspace(double start, double end, int64_t steps, TensorOptions opts) {
  Attrs a = Attrs().set("start", start).set("end", end).set("steps", steps);
  return apply(OpKind::linspace, {}, a.set("dtype", opts.dtype).set("device", opts.device));
}

Tensor eye(int64_t n, std::optional<int64_t> m, TensorOptions opts) {
  Attrs a = Attrs().set("n", n).set("m", m.value_or(n));
  return apply(OpKind::eye, {}, a.set("dtype", opts.dtype).set("device", opts.device));
}

Tensor rand(const Shape& shape, TensorOptions opts) { return uniform(shape, 0.0, 1.0, opts); }
Tensor uniform(const Shape& shape, double low, double high, TensorOptions opts) {
  return apply(OpKind::rand_uniform, {}, random_attrs(shape, opts).set("low", low).set("high", high));
}
Tensor randn(const Shape& shape, TensorOptions opts) { return normal(shape, 0.0, 1.0, opts); }
Tensor normal(const Shape& shape, double mean, double std, TensorOptions opts) {
  return apply(OpKind::rand_normal, {}, random_attrs(shape, opts).set("mean", mean).set("std", std));
}
Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions opts) {
  return apply(OpKind::randint, {}, random_attrs(shape, opts).set("low", low).set("high", high));
}

template <typename T>
Tensor tensor(const std::vector<T>& values, const Shape& shape, Device device) {
  int64_t n = checked_numel(shape, "tensor");
  DUET_CHECK(n == int64_t(values.size()), "tensor: ", values.size(), " values cannot fill shape ", shape, " (", n,
             " elements)");
  DUET_CHECK(device.is_cpu(), "tensor: host data can only be placed on the cpu directly; use .to(", device, ")");
  Tensor t = empty(shape, {dtype_v<T>, device});
  T* dst = t.data<T>();
  for (size_t i = 0; i < values.size(); ++i) dst[i] = values[i];
  return t;
}
template Tensor tensor<float>(const std::vector<float>&, const Shape&, Device);
template Tensor tensor<double>(const std::vector<double>&, const Shape&, Device);
template Tensor tensor<int32_t>(const std::vector<int32_t>&, const Shape&, Device);
template Tensor tensor<int64_t>(const std::vector<int64_t>&, const Shape&, Device);
template Tensor tensor<bool>(const std::vector<bool>&, const Shape&, Device);
template Tensor tensor<Half>(const std::vector<Half>&, const Shape&, Device);
template Tensor tensor<BFloat16>(const std::vector<BFloat16>&, const Shape&, Device);

Tensor from_blob(void* data, const Shape& shape, DType dtype, Device device) {
  int64_t nbytes = checked_nbytes(shape, dtype, "from_blob");
  DUET_CHECK(data != nullptr || nbytes == 0, "from_blob: data is null");
  auto storage = std::make_shared<Storage>(data, size_t(nbytes), device, nullptr);
  return Tensor(std::make_shared<TensorImpl>(std::move(storage), shape, contiguous_strides(shape), 0, dtype, device));
}

}  // namespace duet
