// Derivative rules of convolution and pooling, and of their backward ops (so gradients of
// gradients work where they are linear):
//   conv2d:  dx = conv2d_input_grad(g, w), dw = conv2d_weight_grad(g, x), db = sum(g, N, H, W)
//   conv2d_input_grad(dy, w) = conv^T:  d dy = conv2d(G, w),  dw = conv2d_weight_grad(dy, G)
//   conv2d_weight_grad(dy, x):          d dy = conv2d(x, G),  dx = conv2d_input_grad(dy, G)
//   pooling: the backward ops; avg and adaptive backward are linear, their own gradient
//   the forward pooling of G. max_pool2d_backward's gradient is refused, not dropped.
#include "autograd/derivatives.h"
#include "core/dispatch.h"
#include "core/error.h"
#include "core/functions.h"

namespace duet {
namespace {

Attrs with(const Attrs& attrs, const char* key, const Shape& shape) { return Attrs(attrs).set(key, shape); }

// The attrs without a backward op's input_shape / weight_shape: the forward op's.
Attrs forward_attrs(const Attrs& a) {
  Attrs out;
  for (const auto& [k, v] : a.items())
    if (k != "input_shape" && k != "weight_shape") std::visit([&](const auto& x) { out.set(k, x); }, v);
  return out;
}

std::vector<Tensor> grad_conv2d(const GradCtx& c, const Tensor& g) {
  const Tensor x = c.input(0), w = c.input(1);
  Tensor gx, gw, gb;
  if (c.needs_grad(0)) gx = apply(OpKind::conv2d_input_grad, {g, w}, with(c.attrs(), "input_shape", x.sizes()));
  if (c.needs_grad(1)) gw = apply(OpKind::conv2d_weight_grad, {g, x}, with(c.attrs(), "weight_shape", w.sizes()));
  if (c.num_inputs() == 3 && c.needs_grad(2)) gb = sum(g, {0, 2, 3});
  if (c.num_inputs() == 3) return {gx, gw, gb};
  return {gx, gw};
}

std::vector<Tensor> grad_conv2d_input_grad(const GradCtx& c, const Tensor& g) {
  const Tensor dy = c.input(0), w = c.input(1);
  const Attrs conv = forward_attrs(c.attrs());
  Tensor gdy, gw;
  if (c.needs_grad(0)) gdy = apply(OpKind::conv2d, {g, w}, conv);
  if (c.needs_grad(1)) gw = apply(OpKind::conv2d_weight_grad, {dy, g}, with(conv, "weight_shape", w.sizes()));
  return {gdy, gw};
}

std::vector<Tensor> grad_conv2d_weight_grad(const GradCtx& c, const Tensor& g) {
  const Tensor dy = c.input(0), x = c.input(1);
  const Attrs conv = forward_attrs(c.attrs());
  Tensor gdy, gx;
  if (c.needs_grad(0)) gdy = apply(OpKind::conv2d, {x, g}, conv);
  if (c.needs_grad(1)) gx = apply(OpKind::conv2d_input_grad, {dy, g}, with(conv, "input_shape", x.sizes()));
  return {gdy, gx};
}

std::vector<Tensor> grad_max_pool2d(const GradCtx& c, const Tensor& g) {
  return {apply(OpKind::max_pool2d_backward, {g, c.input(0)}, c.attrs())};
}

std::vector<Tensor> grad_max_pool2d_backward(const GradCtx&, const Tensor&) {
  DUET_FAIL("max_pool2d_backward: gradients of max_pool2d's gradient (double backward) are not implemented");
}

std::vector<Tensor> grad_avg_pool2d(const GradCtx& c, const Tensor& g) {
  return {apply(OpKind::avg_pool2d_backward, {g}, with(c.attrs(), "input_shape", c.input_meta(0).shape))};
}

std::vector<Tensor> grad_avg_pool2d_backward(const GradCtx& c, const Tensor& g) {
  return {apply(OpKind::avg_pool2d, {g}, forward_attrs(c.attrs()))};
}

std::vector<Tensor> grad_adaptive_avg_pool2d(const GradCtx& c, const Tensor& g) {
  return {apply(OpKind::adaptive_avg_pool2d_backward, {g}, with(c.attrs(), "input_shape", c.input_meta(0).shape))};
}

std::vector<Tensor> grad_adaptive_avg_pool2d_backward(const GradCtx& c, const Tensor& g) {
  return {apply(OpKind::adaptive_avg_pool2d, {g},
                Attrs().set("output_size", c.attrs().get<std::vector<int64_t>>("output_size")))};
}

}  // namespace

void register_conv_derivatives(DerivativeTable& t) {
  t.set(OpKind::conv2d, grad_conv2d, kSaveInputs);
  t.set(OpKind::conv2d_input_grad, grad_conv2d_input_grad, kSaveInputs);
  t.set(OpKind::conv2d_weight_grad, grad_conv2d_weight_grad, kSaveInputs);
  t.set(OpKind::max_pool2d, grad_max_pool2d, kSaveInputs);
  t.set(OpKind::max_pool2d_backward, grad_max_pool2d_backward, kSaveNone);
  t.set(OpKind::avg_pool2d, grad_avg_pool2d, kSaveNone);
  t.set(OpKind::avg_pool2d_backward, grad_avg_pool2d_backward, kSaveNone);
  t.set(OpKind::adaptive_avg_pool2d, grad_adaptive_avg_pool2d, kSaveNone);
  t.set(OpKind::adaptive_avg_pool2d_backward, grad_adaptive_avg_pool2d_backward, kSaveNone);
}

}  // namespace duet
