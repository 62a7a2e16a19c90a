// Derivative rules of reductions and of softmax / log_softmax.
#include "autograd/derivatives.h"
#include "core/functions.h"

namespace duet {
namespace {

using Grads = std::vector<Tensor>;

// Number of input elements folded into each output element.
double reduced_count(const GradCtx& c) {
  const Shape& in = c.input_meta(0).shape;
  auto dims = wrap_dims(c.attrs().get_or<std::vector<int64_t>>("dims", {}), int64_t(in.size()), "backward");
  double n = 1;
  for (int64_t d : dims) n *= double(in[size_t(d)]);
  return n;
}

Tensor spread(const GradCtx& c, const Tensor& g) {
  return unsqueeze_reduced(g, c.input_meta(0).shape, c.attrs()).expand(c.input_meta(0).shape);
}

Grads grad_sum(const GradCtx& c, const Tensor& g) { return {spread(c, g)}; }
Grads grad_mean(const GradCtx& c, const Tensor& g) { return {spread(c, g) / reduced_count(c)}; }
// prod: d/dx_i = prod / x_i. Inputs containing zeros give NaN/Inf here (not a silent
// wrong value); anomaly mode reports it.
Grads grad_prod(const GradCtx& c, const Tensor& g) {
  Tensor out = unsqueeze_reduced(c.output(), c.input_meta(0).shape, c.attrs());
  return {spread(c, g) * out / c.input(0)};
}
// amax/amin: the gradient is shared evenly among the elements equal to the extremum.
Grads grad_extremum(const GradCtx& c, const Tensor& g) {
  Tensor x = c.input(0);
  Tensor out = unsqueeze_reduced(c.output(), x.sizes(), c.attrs());
  Tensor mask = eq(x, out).to(g.dtype());
  auto dims = c.attrs().get_or<std::vector<int64_t>>("dims", {});
  Tensor count = sum(mask, dims, /*keepdim=*/true);
  return {spread(c, g) * mask / count};
}
Grads grad_var(const GradCtx& c, const Tensor& g) {
  Tensor x = c.input(0);
  auto dims = c.attrs().get_or<std::vector<int64_t>>("dims", {});
  double correction = c.attrs().has("correction") ? c.attrs().get_number("correction") : 1.0;
  Tensor centered = x - mean(x, dims, /*keepdim=*/true);
  Tensor scale = spread(c, g) * (2.0 / std::max(0.0, reduced_count(c) - correction));
  if (c.op() == OpKind::std) scale = scale / (unsqueeze_reduced(c.output(), x.sizes(), c.attrs()) * 2.0);
  return {scale * centered};
}

Grads grad_softmax(const GradCtx& c, const Tensor& g) {
  Tensor y = c.output();
  int64_t dim = c.attrs().get<int64_t>("dim");
  return {y * (g - sum(g * y, {dim}, /*keepdim=*/true))};
}
Grads grad_log_softmax(const GradCtx& c, const Tensor& g) {
  int64_t dim = c.attrs().get<int64_t>("dim");
  return {g - exp(c.output()) * sum(g, {dim}, /*keepdim=*/true)};
}

}  // namespace

void register_reduction_derivatives(DerivativeTable& t) {
  t.set(OpKind::sum, grad_sum, kSaveNone);
  t.set(OpKind::mean, grad_mean, kSaveNone);
  t.set(OpKind::prod, grad_prod, kSaveInputs | kSaveOutput);
  t.set(OpKind::amax, grad_extremum, kSaveInputs | kSaveOutput);
  t.set(OpKind::amin, grad_extremum, kSaveInputs | kSaveOutput);
  t.set(OpKind::var, grad_var, kSaveInputs);
  t.set(OpKind::std, grad_var, kSaveInputs | kSaveOutput);
  t.set(OpKind::softmax, grad_softmax, kSaveOutput);
  t.set(OpKind::log_softmax, grad_log_softmax, kSaveOutput);
}

}  // namespace duet
