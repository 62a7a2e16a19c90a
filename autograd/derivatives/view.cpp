// Derivative rules of the view ops: the gradient of a view is routed back to the shape
// of the tensor it views (reshape back, permute back, sum over expanded dims, and place
// a slice's gradient into zeros).
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

}  // namespace

void register_view_derivatives(DerivativeTable& t) {
  t.set(OpKind::reshape, grad_reshape, kSaveNone);
  t.set(OpKind::permute, grad_permute, kSaveNone);
  t.set(OpKind::expand, grad_expand, kSaveNone);
  t.set(OpKind::slice, grad_slice, kSaveNone);
}

}  // namespace duet
