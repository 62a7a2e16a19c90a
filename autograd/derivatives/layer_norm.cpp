// Derivative rules of layer normalisation, per row of D values (xhat = (x - mean) * rstd,
// rstd = 1 / sqrt(var + eps), g = dy * weight or dy):
//   dx = rstd (g - mean(g) - xhat mean(g xhat))    one fused kernel, layer_norm_backward
//   dweight = sum over rows of dy xhat, dbias = sum over rows of dy
//                                                   one kernel for both, layer_norm_backward_affine
// The backward ops' own gradients (double backward) are refused, not dropped.
#include "autograd/derivatives.h"
#include "core/dispatch.h"
#include "core/error.h"
#include "core/functions.h"

namespace duet {
namespace {

std::vector<Tensor> grad_layer_norm(const GradCtx& c, const Tensor& g) {
  const Tensor x = c.input(0);
  const size_t n = c.num_inputs();
  std::vector<Tensor> out(n);
  if (c.needs_grad(0)) {
    std::vector<Tensor> args{g, x};
    if (n > 1) args.push_back(c.input(1));
    out[0] = apply(OpKind::layer_norm_backward, args, c.attrs());
  }
  const bool affine = (n > 1 && c.needs_grad(1)) || (n > 2 && c.needs_grad(2));
  if (affine) {
    const Tensor sums = apply(OpKind::layer_norm_backward_affine, {g, x}, c.attrs());
    const Shape& shape = c.input_meta(1).shape;
    if (c.needs_grad(1)) out[1] = sums.select(0, 0).reshape(shape);
    if (n > 2 && c.needs_grad(2)) out[2] = sums.select(0, 1).reshape(shape);
  }
  return out;
}

std::vector<Tensor> refuse_double_backward(const GradCtx& c, const Tensor&) {
  DUET_FAIL(op_name(c.op()), ": gradients of layer_norm's gradient (double backward) are not implemented");
}

}  // namespace

void register_layer_norm_derivatives(DerivativeTable& t) {
  t.set(OpKind::layer_norm, grad_layer_norm, kSaveInputs);
  t.set(OpKind::layer_norm_backward, refuse_double_backward, kSaveNone);
  t.set(OpKind::layer_norm_backward_affine, refuse_double_backward, kSaveNone);
}

}  // namespace duet
