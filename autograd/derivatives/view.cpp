// Derivative rules of the view ops: the gradient of a view is routed back to the shape
// of the tensor it views (reshape back, permute back, sum over expanded dims, and place
// a slice's or a strided window's gradient into zeros); and of as_strided_scatter.
#include "autograd/derivatives.h"
#include "core/functions.h"

namespace duet {
namespace {

using Grads = std::vector<Tensor>;

Grads grad_reshape(const GradCtx& c, const Tensor& g) { return {g.reshape(c.input_meta(0).shape)}; }

Grads grad_permute(const GradCtx& c, const Tensor& g) {
  const auto& dims = c.attrs().get<std::vector<int64_t>>("dims");
  std::vector<int64_t> inverse(dims.size());
  for (size_t i = 0; i < dims.size(); ++i)
    inverse[size_t(wrap_dim(dims[i], int64_t(dims.size()), "permute"))] = int64_t(i);
  return {g.permute(inverse)};
}

Grads grad_expand(const GradCtx& c, const Tensor& g) { return {sum_to(g, c.input_meta(0).shape)}; }

Grads grad_slice(const GradCtx& c, const Tensor& g) {
  const Shape& in = c.input_meta(0).shape;
  int64_t dim = wrap_dim(c.attrs().get<int64_t>("dim"), int64_t(in.size()), "slice");
  int64_t n = in[size_t(dim)], step = c.attrs().get_or<int64_t>("step", 1);
  int64_t start = c.attrs().get_or<int64_t>("start", 0);
  if (start < 0) start += n;
  start = std::clamp<int64_t>(start, 0, n);
  int64_t len = g.size(dim);
  TensorOptions opts{g.dtype(), g.device()};
  if (step == 1) {  // pad with zeros on both sides
    Shape before = in, after = in;
    before[size_t(dim)] = start;
    after[size_t(dim)] = n - start - len;
    return {cat({zeros(before, opts), g, zeros(after, opts)}, dim)};
  }
  Shape index_shape(in.size(), 1);
  index_shape[size_t(dim)] = len;
  Tensor index = arange(double(start), double(start + len * step), double(step), {DType::Int64, g.device()})
                     .reshape(index_shape)
                     .expand(g.sizes());
  return {scatter_add(zeros(in, opts), dim, index, g)};
}

// The flat element index each position of an as_strided window reads, flattened.
Tensor window_index(const Attrs& a, Device device) {
  const auto& size = a.get<std::vector<int64_t>>("size");
  const auto& stride = a.get<std::vector<int64_t>>("stride");
  Tensor index = full(size, double(a.get_or<int64_t>("offset", 0)), {DType::Int64, device});
  for (size_t k = 0; k < size.size(); ++k) {
    Shape s(size.size(), 1);
    s[k] = size[k];
    index = index + (arange(double(size[k]), {DType::Int64, device}) * double(stride[k])).reshape(s);
  }
  return index.reshape({-1});
}

// The window may read an element more than once: its gradients add up there.
Grads grad_as_strided(const GradCtx& c, const Tensor& g) {
  const TensorMeta& in = c.input_meta(0);
  Tensor flat = zeros({numel_of(in.shape)}, {g.dtype(), g.device()});
  return {scatter_add(flat, 0, window_index(c.attrs(), g.device()), g.reshape({-1})).reshape(in.shape)};
}

Grads grad_as_strided_scatter(const GradCtx& c, const Tensor& g) {
  const auto& a = c.attrs();
  const Shape size = a.get<std::vector<int64_t>>("size"), stride = a.get<std::vector<int64_t>>("stride");
  const int64_t offset = a.get_or<int64_t>("offset", 0);
  Tensor base_grad, src_grad;
  if (c.needs_grad(0)) base_grad = as_strided_scatter(g, zeros(size, {g.dtype(), g.device()}), size, stride, offset);
  if (c.needs_grad(1)) src_grad = as_strided(g, size, stride, offset);
  return {base_grad, src_grad};
}

}  // namespace

void register_view_derivatives(DerivativeTable& t) {
  t.set(OpKind::reshape, grad_reshape, kSaveNone);
  t.set(OpKind::permute, grad_permute, kSaveNone);
  t.set(OpKind::expand, grad_expand, kSaveNone);
  t.set(OpKind::slice, grad_slice, kSaveNone);
  t.set(OpKind::as_strided, grad_as_strided, kSaveNone);
  t.set(OpKind::as_strided_scatter, grad_as_strided_scatter, kSaveNone);
}

}  // namespace duet
