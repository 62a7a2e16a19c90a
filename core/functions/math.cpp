// Op functions for elementwise, reduction, linear-algebra and indexing ops: each builds
// its attrs and calls apply().
#include <cmath>

#include "core/dispatch.h"
#include "core/functions.h"

namespace duet {

#define DUET_UNARY_FN(name) \
  Tensor name(const Tensor& x) { return apply(OpKind::name, {x}); }
DUET_UNARY_FN(neg)
DUET_UNARY_FN(abs)
DUET_UNARY_FN(sign)
DUET_UNARY_FN(square)
DUET_UNARY_FN(floor)
DUET_UNARY_FN(ceil)
DUET_UNARY_FN(round)
DUET_UNARY_FN(relu)
DUET_UNARY_FN(exp)
DUET_UNARY_FN(expm1)
DUET_UNARY_FN(log)
DUET_UNARY_FN(log1p)
DUET_UNARY_FN(sqrt)
DUET_UNARY_FN(rsqrt)
DUET_UNARY_FN(reciprocal)
DUET_UNARY_FN(sin)
DUET_UNARY_FN(cos)
DUET_UNARY_FN(tanh)
DUET_UNARY_FN(sigmoid)
DUET_UNARY_FN(erf)
DUET_UNARY_FN(silu)
DUET_UNARY_FN(logical_not)
#undef DUET_UNARY_FN

Tensor gelu(const Tensor& x, const std::string& approximate) {
  return apply(OpKind::gelu, {x}, Attrs().set("approximate", approximate));
}

Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max) {
  Attrs a;
  if (min) a.set("min", *min);
  if (max) a.set("max", *max);
  return apply(OpKind::clamp, {x}, a);
}

Tensor cast(const Tensor& x, DType dtype) { return apply(OpKind::cast, {x}, Attrs().set("dtype", dtype)); }

#define DUET_BINARY_FN(name) \
  Tensor name(const Tensor& a, const Tensor& b) { return apply(OpKind::name, {a, b}); }
DUET_BINARY_FN(add)
DUET_BINARY_FN(sub)
DUET_BINARY_FN(mul)
DUET_BINARY_FN(div)
DUET_BINARY_FN(pow)
DUET_BINARY_FN(maximum)
DUET_BINARY_FN(minimum)
DUET_BINARY_FN(eq)
DUET_BINARY_FN(ne)
DUET_BINARY_FN(lt)
DUET_BINARY_FN(le)
DUET_BINARY_FN(gt)
DUET_BINARY_FN(ge)
DUET_BINARY_FN(logical_and)
DUET_BINARY_FN(logical_or)
#undef DUET_BINARY_FN

Tensor pow(const Tensor& a, double exponent) { return pow(a, scalar_like(exponent, a)); }

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) { return apply(OpKind::where, {cond, a, b}); }

Tensor scalar_like(double value, const Tensor& like) {
  DType dt = like.dtype();
  if (!is_floating(dt)) {
    bool whole = std::isfinite(value) && value == std::floor(value);
    dt = whole ? (dt == DType::Bool ? DType::Int64 : dt) : DType::Float32;
    DUET_CHECK(fits_without_overflow(value, dt), "the scalar ", value, " cannot be converted to ", dt,
               " without overflow (it is combined with a tensor of dtype ", like.dtype(), ")");
  }
  return full({}, value, {dt, like.device()});
}

namespace {
Attrs reduce_attrs(std::vector<int64_t> dims, bool keepdim) {
  return Attrs().set("dims", std::move(dims)).set("keepdim", keepdim);
}
Attrs arg_attrs(std::optional<int64_t> dim, bool keepdim) {
  Attrs a = Attrs().set("keepdim", keepdim);
  if (dim) a.set("dim", *dim);
  return a;
}
}  // namespace

Tensor sum(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  return apply(OpKind::sum, {x}, reduce_attrs(std::move(dims), keepdim));
}
Tensor mean(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  return apply(OpKind::mean, {x}, reduce_attrs(std::move(dims), keepdim));
}
Tensor prod(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  return apply(OpKind::prod, {x}, reduce_attrs(std::move(dims), keepdim));
}
Tensor amax(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  return apply(OpKind::amax, {x}, reduce_attrs(std::move(dims), keepdim));
}
Tensor amin(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  return apply(OpKind::amin, {x}, reduce_attrs(std::move(dims), keepdim));
}
Tensor var(const Tensor& x, std::vector<int64_t> dims, bool keepdim, double correction) {
  return apply(OpKind::var, {x}, reduce_attrs(std::move(dims), keepdim).set("correction", correction));
}
Tensor std(const Tensor& x, std::vector<int64_t> dims, bool keepdim, double correction) {
  return apply(OpKind::std, {x}, reduce_attrs(std::move(dims), keepdim).set("correction", correction));
}
Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  return apply(OpKind::argmax, {x}, arg_attrs(dim, keepdim));
}
Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  return apply(OpKind::argmin, {x}, arg_attrs(dim, keepdim));
}
namespace {
ValuesIndices extreme_along(const Tensor& x, int64_t dim, bool keepdim, bool largest) {
  const Tensor kept = largest ? argmax(x, dim, /*keepdim=*/true) : argmin(x, dim, /*keepdim=*/true);
  const int64_t d = x.dim() == 0 ? 0 : wrap_dim(dim, x.dim(), largest ? "max" : "min");
  Tensor values = x.dim() == 0 ? x.clone() : gather(x, d, kept);
  if (keepdim || x.dim() == 0) return {values, x.dim() == 0 ? kept.reshape({}) : kept};
  return {values.squeeze(d), kept.squeeze(d)};
}
}  // namespace
ValuesIndices topk(const Tensor& x, int64_t k, int64_t dim, bool largest) {
  const Tensor idx =
      apply(OpKind::topk_indices, {x}, Attrs().set("k", k).set("dim", dim).set("largest", largest));
  if (x.dim() == 0) return {x.clone(), idx};
  return {gather(x, wrap_dim(dim, x.dim(), "topk"), idx), idx};
}
ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim) { return extreme_along(x, dim, keepdim, true); }
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim) { return extreme_along(x, dim, keepdim, false); }
Tensor softmax(const Tensor& x, int64_t dim) { return apply(OpKind::softmax, {x}, Attrs().set("dim", dim)); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return apply(OpKind::log_softmax, {x}, Attrs().set("dim", dim)); }

Tensor matmul(const Tensor& a, const Tensor& b) { return apply(OpKind::matmul, {a, b}); }

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  return apply(OpKind::index_select, {x, index}, Attrs().set("dim", dim));
}
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  return apply(OpKind::gather, {x, index}, Attrs().set("dim", dim));
}
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  return apply(OpKind::scatter_add, {x, index, src}, Attrs().set("dim", dim));
}
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  DUET_CHECK(!tensors.empty(), "cat: expected a non-empty list of tensors");
  return apply(OpKind::cat, std::span<const Tensor>(tensors), Attrs().set("dim", dim));
}
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  DUET_CHECK(!tensors.empty(), "stack: expected a non-empty list of tensors");
  for (size_t i = 1; i < tensors.size(); ++i)
    DUET_CHECK(tensors[i].sizes() == tensors[0].sizes(), "stack: all tensors must have one shape, but tensor 0 is ",
               tensors[0].sizes(), " and tensor ", i, " is ", tensors[i].sizes());
  int64_t d = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> parts;
  parts.reserve(tensors.size());
  for (const Tensor& t : tensors) parts.push_back(t.unsqueeze(d));
  return cat(parts, d);
}
Tensor as_strided(const Tensor& x, const Shape& size, const Shape& stride, int64_t offset) {
  return apply(OpKind::as_strided, {x}, Attrs().set("size", size).set("stride", stride).set("offset", offset));
}
Tensor as_strided_scatter(const Tensor& base, const Tensor& src, const Shape& size, const Shape& stride,
                          int64_t offset) {
  return apply(OpKind::as_strided_scatter, {base, src},
               Attrs().set("size", size).set("stride", stride).set("offset", offset));
}
Tensor one_hot(const Tensor& index, int64_t num_classes) {
  return apply(OpKind::one_hot, {index}, Attrs().set("num_classes", num_classes));
}

}  // namespace duet
