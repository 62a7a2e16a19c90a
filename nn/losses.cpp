// The loss functions of nn::functional.
// Note [ignore_index]: targets equal to ignore_index contribute nothing and are left out
// of the mean. When ignore_index could be a class (>= 0) the mask is always built, in
// both modes, so eager and graph mode compute the loss with the same ops. A negative
// ignore_index (the default -100) is masked in eager mode only when a target equals it;
// while a graph is captured the targets have no values yet, so no mask is built, and a
// negative ignored target then fails in gather with an out-of-range error: an error,
// never a silently different loss.
#include <cmath>

#include "core/functions.h"
#include "nn/functional.h"

namespace duet::nn::functional {
namespace {

Tensor reduce(const Tensor& loss, Reduction r) {
  switch (r) {
    case Reduction::None: return loss;
    case Reduction::Sum: return sum(loss);
    case Reduction::Mean: return mean(loss);
  }
  return loss;
}

// Checks (N, C) scores against (N) class targets; returns them as 2-D / 1-D.
std::pair<Tensor, Tensor> class_inputs(const char* op, const Tensor& scores, const Tensor& target) {
  DUET_CHECK(scores.is_floating_point(), op, ": expected floating-point scores, got ", dtype_name(scores.dtype()));
  DUET_CHECK(target.dtype() == DType::Int64 || target.dtype() == DType::Int32, op,
             ": expected int64 class indices as the target, got ", dtype_name(target.dtype()));
  DUET_CHECK(scores.dim() == 1 || scores.dim() == 2, op, ": expected scores of shape (N, C) or (C), got ",
             scores.sizes());
  DUET_CHECK(target.dim() == scores.dim() - 1 && (scores.dim() == 1 || target.size(0) == scores.size(0)), op,
             ": scores of shape ", scores.sizes(), " need a target of shape ",
             scores.dim() == 2 ? Shape{scores.size(0)} : Shape{}, ", got ", target.sizes());
  if (scores.dim() == 1) return {scores.unsqueeze(0), target.reshape({1})};
  return {scores, target};
}

// Whether masking for ignore_index is needed; validates class ranges when values exist.
bool needs_ignore_mask(const char* op, const Tensor& target, int64_t classes, int64_t ignore_index) {
  const bool could_be_class = ignore_index >= 0 && ignore_index < classes;  // Note [ignore_index]
  if (target.is_symbolic()) return could_be_class;
  bool any_ignored = could_be_class;
  for (int64_t t : target.to_vector<int64_t>()) {
    if (t == ignore_index) {
      any_ignored = true;
      continue;
    }
    DUET_CHECK(t >= 0 && t < classes, op, ": target ", t, " is out of range for ", classes,
               " classes (expected 0 <= target < ", classes, ")");
  }
  return any_ignored;
}

// Per-sample negative log-likelihood of the targets, masked for ignore_index, reduced.
Tensor nll_from_log_probs(const char* op, const Tensor& log_probs, const Tensor& target, int64_t ignore_index,
                          double smoothing, Reduction reduction) {
  int64_t classes = log_probs.size(1);
  bool mask = needs_ignore_mask(op, target, classes, ignore_index);
  Tensor idx = target.to(DType::Int64);
  Tensor valid;
  if (mask) {
    valid = ne(idx, scalar_like(double(ignore_index), idx));
    idx = where(valid, idx, scalar_like(0.0, idx));
  }
  Tensor loss = neg(gather(log_probs, 1, idx.unsqueeze(1)).squeeze(1));  // (N)
  if (smoothing > 0) {
    Tensor smooth = neg(mean(log_probs, {1}));
    loss = loss * (1.0 - smoothing) + smooth * smoothing;
  }
  if (!mask) return reduce(loss, reduction);
  Tensor weight = valid.to(loss.dtype());
  loss = loss * weight;
  if (reduction == Reduction::Mean) return sum(loss) / sum(weight);
  return reduce(loss, reduction);
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, CrossEntropyOptions o) {
  DUET_CHECK(o.label_smoothing >= 0 && o.label_smoothing <= 1, "cross_entropy: label_smoothing must be in [0, 1], got ",
             o.label_smoothing);
  auto [scores, t] = class_inputs("cross_entropy", logits, target);
  Tensor loss = nll_from_log_probs("cross_entropy", log_softmax(scores, 1), t, o.ignore_index, o.label_smoothing,
                                   o.reduction);
  return logits.dim() == 1 && o.reduction == Reduction::None ? loss.reshape({}) : loss;
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, NllOptions o) {
  auto [scores, t] = class_inputs("nll_loss", log_probs, target);
  Tensor loss = nll_from_log_probs("nll_loss", scores, t, o.ignore_index, 0.0, o.reduction);
  return log_probs.dim() == 1 && o.reduction == Reduction::None ? loss.reshape({}) : loss;
}

namespace {
void check_same_shape(const char* op, const Tensor& input, const Tensor& target) {
  DUET_CHECK(input.sizes() == target.sizes(), op, ": input of shape ", input.sizes(), " and target of shape ",
             target.sizes(), " differ (broadcasting them is usually a bug; reshape one of them)");
}
}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction r) {
  check_same_shape("mse_loss", input, target);
  return reduce(square(input - target), r);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction r) {
  check_same_shape("l1_loss", input, target);
  return reduce(abs(input - target), r);
}

Tensor binary_cross_entropy_with_logits(const Tensor& x, const Tensor& y, Reduction r) {
  check_same_shape("binary_cross_entropy_with_logits", x, y);
  Tensor zero = scalar_like(0.0, x);
  return reduce(maximum(x, zero) - x * y + log1p(exp(neg(abs(x)))), r);
}

}  // namespace duet::nn::functional
