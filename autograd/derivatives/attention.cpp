// Derivative rule of the fused attention op: one attention_backward call gives dq, dk and
// dv one after another in a flat tensor (it reads the rows' log-sum-exp from the saved
// flat output, and D = rowsum(dout * out) minus the lse's own gradient); the rule slices
// it. The backward op's own gradient (double backward) is refused, not dropped.
#include "autograd/derivatives.h"
#include "core/dispatch.h"
#include "core/error.h"
#include "core/functions.h"

namespace duet {
namespace {

std::vector<Tensor> grad_attention(const GradCtx& c, const Tensor& g) {
  const Tensor q = c.input(0), k = c.input(1), v = c.input(2);
  const Tensor grads = apply(OpKind::attention_backward, {g, q, k, v, c.output()}, c.attrs());
  std::vector<Tensor> out(3);
  int64_t at = 0;
  for (size_t i = 0; i < 3; ++i) {
    const Shape& shape = c.input_meta(i).shape;
    const int64_t n = numel_of(shape);
    if (c.needs_grad(i)) out[i] = grads.narrow(0, at, n).reshape(shape);
    at += n;
  }
  return out;
}

std::vector<Tensor> refuse_double_backward(const GradCtx& c, const Tensor&) {
  DUET_FAIL(op_name(c.op()), ": gradients of attention's gradient (double backward) are not implemented");
}

}  // namespace

void register_attention_derivatives(DerivativeTable& t) {
  t.set(OpKind::attention, grad_attention, kSaveInputs | kSaveOutput);
  t.set(OpKind::attention_backward, refuse_double_backward, kSaveNone);
}

}  // namespace duet
