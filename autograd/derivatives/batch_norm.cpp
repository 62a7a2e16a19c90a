// Derivative rules of batch normalisation, per channel c over the M = N * S values of x
// in it (xhat = (x - mean) * invstd, invstd = 1 / sqrt(var + eps), scale = weight * invstd):
//   batch_norm_stats: d mean / dx = 1 / M, d var / dx = 2 (x - mean) / M.
//   batch_norm, training: mean and var are x's own batch statistics, so the gradient of x
//     goes through them too: dx = scale (dy - mean(dy) - xhat mean(dy xhat)), one fused
//     reduce (batch_norm_backward_reduce: sum dy, sum dy xhat) and one elementwise kernel
//     (batch_norm_backward); they take no gradient of their own (refused if asked).
//   batch_norm, eval: dx = dy * scale, and mean and var (running statistics) get theirs.
//   dweight = sum dy xhat, dbias = sum dy in both modes.
// The backward ops' own gradients (double backward) are refused, not dropped.
#include "autograd/derivatives.h"
#include "core/dispatch.h"
#include "core/error.h"
#include "core/functions.h"

namespace duet {
namespace {

// [C] values shaped to broadcast against an (N, C, ...) tensor of `dims` dims.
Tensor per_channel(const Tensor& v, int64_t dims) {
  Shape s(size_t(dims), 1);
  s[1] = v.size(0);
  return v.reshape(s);
}

std::vector<Tensor> grad_batch_norm_stats(const GradCtx& c, const Tensor& g) {
  const Tensor x = c.input(0);
  const double M = double(x.numel() / std::max<int64_t>(1, x.size(1)));
  const Tensor mean = per_channel(c.output().select(0, 0), x.dim());
  const Tensor g_mean = per_channel(g.select(0, 0), x.dim()), g_var = per_channel(g.select(0, 1), x.dim());
  return {(g_mean + g_var * 2.0 * (x - mean)) / M};
}

std::vector<Tensor> grad_batch_norm(const GradCtx& c, const Tensor& g) {
  const Tensor x = c.input(0), mean = c.input(1), var = c.input(2), weight = c.input(3);
  const double eps = c.attrs().get_number("eps");
  const bool training = c.attrs().get<bool>("training");
  DUET_CHECK(!training || !(c.needs_grad(1) || c.needs_grad(2)),
             "batch_norm: in training mode mean and var are the input's own batch statistics (batch_norm_stats of "
             "the input, detached) and take no gradient of their own; the input's gradient accounts for them");
  const Attrs eps_attr = Attrs().set("eps", eps);
  const bool need_sums = c.needs_grad(3) || c.needs_grad(4) || (training && c.needs_grad(0)) ||
                         (!training && (c.needs_grad(1) || c.needs_grad(2)));
  const Tensor sums = need_sums ? apply(OpKind::batch_norm_backward_reduce, {g, x, mean, var}, eps_attr) : Tensor();
  std::vector<Tensor> out(5);
  if (training && c.needs_grad(0))
    out[0] = apply(OpKind::batch_norm_backward, {g, x, mean, var, weight, sums},
                   Attrs(eps_attr).set("training", true));
  if (!training) {
    const Tensor invstd = rsqrt(var + eps);
    if (c.needs_grad(0)) out[0] = g * per_channel(weight * invstd, x.dim());
    if (c.needs_grad(1)) out[1] = -(sums.select(0, 0) * weight * invstd);  // sum(dy) * -scale
    // sum(dy (x - mean)) = sums[1] / invstd; d invstd / d var = -invstd^3 / 2
    if (c.needs_grad(2)) out[2] = sums.select(0, 1) * weight * invstd * invstd * -0.5;
  }
  if (c.needs_grad(3)) out[3] = sums.select(0, 1);
  if (c.needs_grad(4)) out[4] = sums.select(0, 0);
  return out;
}

std::vector<Tensor> refuse_double_backward(const GradCtx& c, const Tensor&) {
  DUET_FAIL(op_name(c.op()), ": gradients of batch_norm's gradient (double backward) are not implemented");
}

}  // namespace

void register_batch_norm_derivatives(DerivativeTable& t) {
  t.set(OpKind::batch_norm_stats, grad_batch_norm_stats, kSaveInputs | kSaveOutput);
  t.set(OpKind::batch_norm, grad_batch_norm, kSaveInputs);
  t.set(OpKind::batch_norm_backward_reduce, refuse_double_backward, kSaveNone);
  t.set(OpKind::batch_norm_backward, refuse_double_backward, kSaveNone);
}

}  // namespace duet
