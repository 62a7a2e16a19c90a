// nn::functional::batch_norm (nn/functional.h) on the batch-norm ops of core/ops.def: the
// batch statistics come from batch_norm_stats of the detached input (the training-mode
// rule of batch_norm differentiates through them itself: autograd/derivatives/batch_norm.cpp),
// and the running statistics are buffers updated in place without gradient tracking, which
// graph mode captures as write-backs.
#include "autograd/grad_mode.h"
#include "core/dispatch.h"
#include "core/functions.h"
#include "nn/functional.h"

namespace duet::nn::functional {

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  DUET_CHECK(x.dim() >= 2, "batch_norm: expected an (N, C, ...) input with at least 2 dims, got ",
             dtype_name(x.dtype()), shape_str(x.sizes()));
  const int64_t C = x.size(1);
  const TensorOptions opts{x.dtype(), x.device()};
  const Tensor w = weight.defined() ? weight : ones({C}, opts);
  const Tensor b = bias.defined() ? bias : zeros({C}, opts);
  const Attrs attrs = Attrs().set("eps", eps).set("training", training);
  if (!training) {
    DUET_CHECK(running_mean.defined() && running_var.defined(),
               "batch_norm: eval mode normalises with running_mean and running_var, which were not given");
    return apply(OpKind::batch_norm, {x, running_mean, running_var, w, b}, attrs);
  }
  const int64_t M = x.numel() / std::max<int64_t>(1, C);
  DUET_CHECK(M > 1, "batch_norm: expected more than 1 value per channel when training, got input ",
             dtype_name(x.dtype()), shape_str(x.sizes()));
  const Tensor stats = apply(OpKind::batch_norm_stats, {x.detach()}, {});
  const Tensor mean = stats.select(0, 0), var = stats.select(0, 1);
  if (running_mean.defined() || running_var.defined()) {
    NoGradGuard no_grad;
    if (running_mean.defined()) running_mean.mul_(1 - momentum).add_(mean * momentum);
    if (running_var.defined()) running_var.mul_(1 - momentum).add_(var * (momentum * double(M) / double(M - 1)));
  }
  return apply(OpKind::batch_norm, {x, mean, var, w, b}, attrs);
}

}  // namespace duet::nn::functional
