// Derivative rules of the elementwise ops. Binary rules undo broadcasting with sum_to.
#include <cmath>

#include "autograd/derivatives.h"
#include "core/functions.h"
#include "core/ops/gelu_approximation.h"

namespace duet {
namespace {

using Grads = std::vector<Tensor>;

Tensor zero_like_scalar(const Tensor& g) { return scalar_like(0.0, g); }
Tensor masked(const Tensor& mask, const Tensor& g) { return where(mask, g, zero_like_scalar(g)); }

// ---- unary
Grads grad_neg(const GradCtx&, const Tensor& g) { return {neg(g)}; }
Grads grad_abs(const GradCtx& c, const Tensor& g) { return {g * sign(c.input(0))}; }
Grads grad_zero(const GradCtx& c, const Tensor& g) { return {zeros_like(g)}; }  // sign, floor, ceil, round
Grads grad_square(const GradCtx& c, const Tensor& g) { return {g * c.input(0) * 2.0}; }
Grads grad_relu(const GradCtx& c, const Tensor& g) { return {masked(gt(c.output(), zero_like_scalar(g)), g)}; }
Grads grad_exp(const GradCtx& c, const Tensor& g) { return {g * c.output()}; }
Grads grad_expm1(const GradCtx& c, const Tensor& g) { return {g * (c.output() + 1.0)}; }
Grads grad_log(const GradCtx& c, const Tensor& g) { return {g / c.input(0)}; }
Grads grad_log1p(const GradCtx& c, const Tensor& g) { return {g / (c.input(0) + 1.0)}; }
Grads grad_sqrt(const GradCtx& c, const Tensor& g) { return {g / (c.output() * 2.0)}; }
Grads grad_rsqrt(const GradCtx& c, const Tensor& g) {
  Tensor y = c.output();
  return {g * y * y * y * -0.5};
}
Grads grad_reciprocal(const GradCtx& c, const Tensor& g) {
  Tensor y = c.output();
  return {neg(g * y * y)};
}
Grads grad_sin(const GradCtx& c, const Tensor& g) { return {g * cos(c.input(0))}; }
Grads grad_cos(const GradCtx& c, const Tensor& g) { return {neg(g * sin(c.input(0)))}; }
Grads grad_tanh(const GradCtx& c, const Tensor& g) {
  Tensor y = c.output();
  return {g * (1.0 - y * y)};
}
Grads grad_sigmoid(const GradCtx& c, const Tensor& g) {
  Tensor y = c.output();
  return {g * y * (1.0 - y)};
}
Grads grad_erf(const GradCtx& c, const Tensor& g) {
  Tensor x = c.input(0);
  return {g * exp(neg(x * x)) * (2.0 / std::sqrt(M_PI))};
}
Grads grad_gelu(const GradCtx& c, const Tensor& g) {
  Tensor x = c.input(0);
  if (gelu_uses_tanh(c.attrs())) {
    const double k = std::sqrt(2.0 / M_PI), a = 0.044715;
    Tensor t = tanh((x + x * x * x * a) * k);
    Tensor left = (t + 1.0) * 0.5;
    Tensor right = x * (1.0 - t * t) * (x * x * (3.0 * a) + 1.0) * (0.5 * k);
    return {g * (left + right)};
  }
  Tensor cdf = (erf(x * M_SQRT1_2) + 1.0) * 0.5;
  Tensor pdf = exp(x * x * -0.5) * (1.0 / std::sqrt(2.0 * M_PI));
  return {g * (cdf + x * pdf)};
}
Grads grad_silu(const GradCtx& c, const Tensor& g) {
  Tensor x = c.input(0);
  Tensor s = sigmoid(x);
  return {g * s * (x * (1.0 - s) + 1.0)};
}
Grads grad_clamp(const GradCtx& c, const Tensor& g) {
  Tensor x = c.input(0);
  Tensor keep;
  if (c.attrs().has("min")) keep = ge(x, scalar_like(c.attrs().get_number("min"), x));
  if (c.attrs().has("max")) {
    Tensor below = le(x, scalar_like(c.attrs().get_number("max"), x));
    keep = keep.defined() ? logical_and(keep, below) : below;
  }
  return {masked(keep, g)};
}
Grads grad_pass(const GradCtx& c, const Tensor& g) { return {sum_to(g, c.input_meta(0).shape)}; }  // cast, copy

// ---- binary
Grads grad_add(const GradCtx& c, const Tensor& g) {
  return {sum_to(g, c.input_meta(0).shape), sum_to(g, c.input_meta(1).shape)};
}
Grads grad_sub(const GradCtx& c, const Tensor& g) {
  return {sum_to(g, c.input_meta(0).shape), c.needs_grad(1) ? sum_to(neg(g), c.input_meta(1).shape) : Tensor()};
}
Grads grad_mul(const GradCtx& c, const Tensor& g) {
  Tensor a = c.input(0), b = c.input(1);
  return {c.needs_grad(0) ? sum_to(g * b, a.sizes()) : Tensor(), c.needs_grad(1) ? sum_to(g * a, b.sizes()) : Tensor()};
}
Grads grad_div(const GradCtx& c, const Tensor& g) {
  Tensor a = c.input(0), b = c.input(1);
  Tensor ga = c.needs_grad(0) ? sum_to(g / b, a.sizes()) : Tensor();
  Tensor gb = c.needs_grad(1) ? sum_to(neg(g * a / (b * b)), b.sizes()) : Tensor();
  return {ga, gb};
}
Grads grad_pow(const GradCtx& c, const Tensor& g) {
  Tensor a = c.input(0), b = c.input(1);
  Tensor ga, gb;
  if (c.needs_grad(0)) ga = sum_to(g * b * pow(a, b - 1.0), a.sizes());
  if (c.needs_grad(1)) {
    // d(a^b)/db = a^b log(a); taken as 0 where a == 0 (the limit for b > 0), as PyTorch does.
    Tensor term = g * pow(a, b) * log(a);
    gb = sum_to(where(eq(a, zero_like_scalar(a)), zero_like_scalar(term), term), b.sizes());
  }
  return {ga, gb};
}
// maximum/minimum: the gradient goes to the winner, split evenly on ties (as PyTorch).
Grads grad_extremum(const GradCtx& c, const Tensor& g) {
  Tensor a = c.input(0), b = c.input(1);
  Tensor wins = c.op() == OpKind::maximum ? gt(a, b) : lt(a, b);
  Tensor share = wins.to(g.dtype()) + eq(a, b).to(g.dtype()) * 0.5;
  Tensor ga = c.needs_grad(0) ? sum_to(g * share, a.sizes()) : Tensor();
  Tensor gb = c.needs_grad(1) ? sum_to(g * (1.0 - share), b.sizes()) : Tensor();
  return {ga, gb};
}
Grads grad_where(const GradCtx& c, const Tensor& g) {
  Tensor cond = c.input(0);
  Tensor zero = zero_like_scalar(g);
  Tensor ga = c.needs_grad(1) ? sum_to(where(cond, g, zero), c.input_meta(1).shape) : Tensor();
  Tensor gb = c.needs_grad(2) ? sum_to(where(cond, zero, g), c.input_meta(2).shape) : Tensor();
  return {Tensor(), ga, gb};
}

}  // namespace

void register_elementwise_derivatives(DerivativeTable& t) {
  t.set(OpKind::neg, grad_neg, kSaveNone);
  t.set(OpKind::abs, grad_abs, kSaveInputs);
  t.set(OpKind::sign, grad_zero, kSaveNone);
  t.set(OpKind::floor, grad_zero, kSaveNone);
  t.set(OpKind::ceil, grad_zero, kSaveNone);
  t.set(OpKind::round, grad_zero, kSaveNone);
  t.set(OpKind::square, grad_square, kSaveInputs);
  t.set(OpKind::relu, grad_relu, kSaveOutput);
  t.set(OpKind::exp, grad_exp, kSaveOutput);
  t.set(OpKind::expm1, grad_expm1, kSaveOutput);
  t.set(OpKind::log, grad_log, kSaveInputs);
  t.set(OpKind::log1p, grad_log1p, kSaveInputs);
  t.set(OpKind::sqrt, grad_sqrt, kSaveOutput);
  t.set(OpKind::rsqrt, grad_rsqrt, kSaveOutput);
  t.set(OpKind::reciprocal, grad_reciprocal, kSaveOutput);
  t.set(OpKind::sin, grad_sin, kSaveInputs);
  t.set(OpKind::cos, grad_cos, kSaveInputs);
  t.set(OpKind::tanh, grad_tanh, kSaveOutput);
  t.set(OpKind::sigmoid, grad_sigmoid, kSaveOutput);
  t.set(OpKind::erf, grad_erf, kSaveInputs);
  t.set(OpKind::gelu, grad_gelu, kSaveInputs);
  t.set(OpKind::silu, grad_silu, kSaveInputs);
  t.set(OpKind::clamp, grad_clamp, kSaveInputs);
  t.set(OpKind::cast, grad_pass, kSaveNone);
  t.set(OpKind::copy, grad_pass, kSaveNone);
  t.set(OpKind::add, grad_add, kSaveNone);
  t.set(OpKind::sub, grad_sub, kSaveNone);
  t.set(OpKind::mul, grad_mul, kSaveInputs);
  t.set(OpKind::div, grad_div, kSaveInputs);
  t.set(OpKind::pow, grad_pow, kSaveInputs);
  t.set(OpKind::maximum, grad_extremum, kSaveInputs);
  t.set(OpKind::minimum, grad_extremum, kSaveInputs);
  t.set(OpKind::where, grad_where, kSaveInputs);
}

}  // namespace duet
