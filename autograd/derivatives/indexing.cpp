// Derivative rules of index_select, gather, scatter_add and cat. Gathers scatter their
// gradient back with scatter_add (duplicates accumulate); cat slices it apart.
#include "autograd/derivatives.h"
#include "core/functions.h"

namespace duet {
namespace {

using Grads = std::vector<Tensor>;

Grads grad_index_select(const GradCtx& c, const Tensor& g) {
  const TensorMeta& x = c.input_meta(0);
  if (x.shape.empty()) return {g.reshape({}), Tensor()};
  int64_t dim = wrap_dim(c.attrs().get<int64_t>("dim"), int64_t(x.shape.size()), "index_select");
  // Spread the 1-D index along `dim` of the gradient's shape.
  Shape index_shape(x.shape.size(), 1);
  index_shape[size_t(dim)] = g.size(dim);
  Tensor index = c.input(1).reshape(index_shape).expand(g.sizes());
  return {scatter_add(zeros(x.shape, {g.dtype(), g.device()}), dim, index, g), Tensor()};
}

Grads grad_gather(const GradCtx& c, const Tensor& g) {
  const TensorMeta& x = c.input_meta(0);
  int64_t dim = c.attrs().get<int64_t>("dim");
  return {scatter_add(zeros(x.shape, {g.dtype(), g.device()}), dim, c.input(1), g), Tensor()};
}

Grads grad_scatter_add(const GradCtx& c, const Tensor& g) {
  Tensor index = c.input(1);
  Tensor gsrc;
  if (c.needs_grad(2)) {
    DUET_CHECK(index.sizes() == c.input_meta(2).shape, "scatter_add backward: src ", c.input_meta(2).shape,
               " larger than index ", index.sizes(), " is not supported when src requires grad");
    gsrc = gather(g, c.attrs().get<int64_t>("dim"), index);
  }
  return {g, Tensor(), gsrc};
}

Grads grad_cat(const GradCtx& c, const Tensor& g) {
  int64_t dim = wrap_dim(c.attrs().get<int64_t>("dim"), g.dim(), "cat");
  Grads out;
  int64_t offset = 0;
  for (size_t i = 0; i < c.num_inputs(); ++i) {
    int64_t n = c.input_meta(i).shape[size_t(dim)];
    out.push_back(c.needs_grad(i) ? g.slice(dim, offset, offset + n) : Tensor());
    offset += n;
  }
  return out;
}

}  // namespace

void register_indexing_derivatives(DerivativeTable& t) {
  t.set(OpKind::index_select, grad_index_select, kSaveInputs);
  t.set(OpKind::gather, grad_gather, kSaveInputs);
  t.set(OpKind::scatter_add, grad_scatter_add, kSaveInputs);
  t.set(OpKind::cat, grad_cat, kSaveNone);
}

}  // namespace duet
