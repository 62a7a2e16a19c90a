// Shape functions of convolution and pooling (NCHW, float32/float64), and of their
// backward ops: every check of the inputs and the window (core/ops/conv_geometry.h) is
// here, so the kernels of every device assume valid geometry.
//   conv2d(x [N, C, H, W], w [OC, C / groups, KH, KW] (, b [OC])) -> [N, OC, OH, OW]
//   conv2d_input_grad(dy, w), attr input_shape -> [N, C, H, W]
//   conv2d_weight_grad(dy, x), attr weight_shape -> [OC, C / groups, KH, KW]
//   max_pool2d(x), avg_pool2d(x) -> [N, C, OH, OW]; their backward ops (dy, x) and (dy)
//   adaptive_avg_pool2d(x), attr output_size [OH, OW]; backward (dy), attr input_shape
#include <string>

#include "core/ops/conv_geometry.h"
#include "core/ops/shape_fns.h"

namespace duet {
namespace {

void check_float_4d(OpKind op, const Tensor& t, const char* what) {
  DUET_CHECK(t.dim() == 4, op_name(op), ": expected a 4-D (N, C, H, W) ", what, ", got ", describe(t));
  DUET_CHECK(t.dtype() == DType::Float32 || t.dtype() == DType::Float64, op_name(op), ": expected a float32 or ",
             "float64 ", what, ", got ", describe(t), " (other dtypes are not supported by these kernels yet)");
}

void check_same_dtype(OpKind op, const Tensor& a, const Tensor& b) {
  DUET_CHECK(a.dtype() == b.dtype(), op_name(op), ": expected tensors of one dtype, got ", describe(a), " and ",
             describe(b));
}

std::vector<int64_t> int_list(OpKind op, const Attrs& attrs, const char* key, size_t n) {
  DUET_CHECK(attrs.has(key), op_name(op), ": missing attr '", key, "'");
  auto v = attrs.get<std::vector<int64_t>>(key);
  DUET_CHECK(v.size() == n, op_name(op), ": attr '", key, "' needs ", n, " values, got ", shape_str(v));
  return v;
}

// Checks the window against an input of h x w and returns the output's [OH, OW].
std::pair<int64_t, int64_t> check_window(OpKind op, const Window2d& g, int64_t h, int64_t w, bool pooling) {
  DUET_CHECK(g.sh > 0 && g.sw > 0, op_name(op), ": stride must be positive, got [", g.sh, ", ", g.sw, "]");
  DUET_CHECK(g.dh > 0 && g.dw > 0, op_name(op), ": dilation must be positive, got [", g.dh, ", ", g.dw, "]");
  DUET_CHECK(g.ph >= 0 && g.pw >= 0, op_name(op), ": padding must be non-negative, got [", g.ph, ", ", g.pw, "]");
  DUET_CHECK(g.kh > 0 && g.kw > 0, op_name(op), ": kernel size must be positive, got [", g.kh, ", ", g.kw, "]");
  const int64_t ekh = g.dh * (g.kh - 1) + 1, ekw = g.dw * (g.kw - 1) + 1;  // effective kernel
  if (pooling)
    DUET_CHECK(2 * g.ph <= ekh && 2 * g.pw <= ekw, op_name(op), ": padding [", g.ph, ", ", g.pw,
               "] must be at most half the kernel size [", ekh, ", ", ekw, "]");
  DUET_CHECK(h + 2 * g.ph >= ekh && w + 2 * g.pw >= ekw, op_name(op), ": kernel of size [", ekh, ", ", ekw,
             "] (dilated) is larger than the padded input [", h + 2 * g.ph, ", ", w + 2 * g.pw, "]");
  return {g.out_h(h), g.out_w(w)};
}

// The conv geometry shared by the forward and both backward ops; checks x and w.
Window2d conv_window(OpKind op, const Attrs& attrs, const Shape& x, const Shape& w, int64_t groups) {
  int_list(op, attrs, "stride", 2);
  int_list(op, attrs, "padding", 2);
  int_list(op, attrs, "dilation", 2);
  DUET_CHECK(groups > 0, op_name(op), ": groups must be positive, got ", groups);
  DUET_CHECK(x[1] % groups == 0 && w[0] % groups == 0, op_name(op), ": input channels (", x[1],
             ") and output channels (", w[0], ") must both be divisible by groups (", groups, ")");
  DUET_CHECK(w[1] * groups == x[1], op_name(op), ": weight ", shape_str(w), " expects ", w[1] * groups,
             " input channels (", w[1], " per group x ", groups, " groups), but the input ", shape_str(x), " has ",
             x[1]);
  return Window2d::conv(attrs, w[2], w[3]);
}

Shape checked_shape(OpKind op, const Attrs& attrs, const char* key) {
  Shape s = int_list(op, attrs, key, 4);
  for (int64_t v : s) DUET_CHECK(v >= 0, op_name(op), ": attr '", key, "' ", shape_str(s), " has a negative size");
  return s;
}

}  // namespace

TensorMeta conv2d_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  DUET_CHECK(in.size() == 2 || in.size() == 3, op_name(op), ": expected (input, weight) or (input, weight, bias), got ",
             in.size(), " tensors");
  Device dev = common_device(op, in);
  const Tensor &x = in[0], &w = in[1];
  check_float_4d(op, x, "input");
  check_float_4d(op, w, "weight");
  check_same_dtype(op, x, w);
  const int64_t groups = attrs.get_or<int64_t>("groups", 1);
  Window2d g = conv_window(op, attrs, x.sizes(), w.sizes(), groups);
  if (in.size() == 3) {
    check_same_dtype(op, x, in[2]);
    DUET_CHECK(in[2].dim() == 1 && in[2].size(0) == w.size(0), op_name(op), ": bias must be 1-D with ", w.size(0),
               " values (one per output channel), got ", describe(in[2]));
  }
  auto [oh, ow] = check_window(op, g, x.size(2), x.size(3), false);
  const Shape out = {x.size(0), w.size(0), oh, ow};
  const int64_t macs = saturating_mul(saturating_mul(checked_numel(out, op_name(op)), w.size(1)), w.size(2) * w.size(3));
  check_op_limit(op, macs, max_matmul_macs_log2(dev), "multiply-adds", [&] { return describe(x) + " * " + describe(w); });
  return {out, x.dtype(), dev};
}

TensorMeta conv2d_input_grad_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  Device dev = common_device(op, in);
  const Tensor &dy = in[0], &w = in[1];
  check_float_4d(op, dy, "output gradient");
  check_float_4d(op, w, "weight");
  check_same_dtype(op, dy, w);
  const Shape x = checked_shape(op, attrs, "input_shape");
  Window2d g = conv_window(op, attrs, x, w.sizes(), attrs.get_or<int64_t>("groups", 1));
  auto [oh, ow] = check_window(op, g, x[2], x[3], false);
  DUET_CHECK(dy.sizes() == Shape({x[0], w.size(0), oh, ow}), op_name(op), ": output gradient ", describe(dy),
             " does not match the convolution's output ", shape_str({x[0], w.size(0), oh, ow}));
  return {x, dy.dtype(), dev};
}

TensorMeta conv2d_weight_grad_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  Device dev = common_device(op, in);
  const Tensor &dy = in[0], &x = in[1];
  check_float_4d(op, dy, "output gradient");
  check_float_4d(op, x, "input");
  check_same_dtype(op, dy, x);
  const Shape w = checked_shape(op, attrs, "weight_shape");
  Window2d g = conv_window(op, attrs, x.sizes(), w, attrs.get_or<int64_t>("groups", 1));
  auto [oh, ow] = check_window(op, g, x.size(2), x.size(3), false);
  DUET_CHECK(dy.sizes() == Shape({x.size(0), w[0], oh, ow}), op_name(op), ": output gradient ", describe(dy),
             " does not match the convolution's output ", shape_str({x.size(0), w[0], oh, ow}));
  return {w, x.dtype(), dev};
}

TensorMeta pool2d_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  // max_pool2d(x), avg_pool2d(x), max_pool2d_backward(dy, x), avg_pool2d_backward(dy)
  Device dev = common_device(op, in);
  const bool backward = op == OpKind::max_pool2d_backward || op == OpKind::avg_pool2d_backward;
  const Tensor& x = op == OpKind::max_pool2d_backward ? in[1] : in[0];
  int_list(op, attrs, "kernel", 2);
  int_list(op, attrs, "stride", 2);
  int_list(op, attrs, "padding", 2);
  Shape xs = op == OpKind::avg_pool2d_backward ? checked_shape(op, attrs, "input_shape") : x.sizes();
  check_float_4d(op, in[0], backward ? "output gradient" : "input");
  if (op == OpKind::max_pool2d_backward) {
    check_float_4d(op, x, "input");
    check_same_dtype(op, in[0], x);
  }
  Window2d g = Window2d::pool(attrs);
  auto [oh, ow] = check_window(op, g, xs[2], xs[3], true);
  const Shape out = {xs[0], xs[1], oh, ow};
  if (!backward) return {out, x.dtype(), dev};
  DUET_CHECK(in[0].sizes() == out, op_name(op), ": output gradient ", describe(in[0]),
             " does not match the pooling's output ", shape_str(out));
  return {xs, in[0].dtype(), dev};
}

TensorMeta adaptive_pool2d_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  Device dev = common_device(op, in);
  const bool backward = op == OpKind::adaptive_avg_pool2d_backward;
  check_float_4d(op, in[0], backward ? "output gradient" : "input");
  const Shape xs = backward ? checked_shape(op, attrs, "input_shape") : in[0].sizes();
  const auto o = int_list(op, attrs, "output_size", 2);
  DUET_CHECK(o[0] > 0 && o[1] > 0, op_name(op), ": output_size must be positive, got ", shape_str(o));
  DUET_CHECK(xs[2] > 0 && xs[3] > 0, op_name(op), ": expected an input with non-empty H and W, got ", shape_str(xs));
  const Shape out = {xs[0], xs[1], o[0], o[1]};
  if (!backward) return {out, in[0].dtype(), dev};
  DUET_CHECK(in[0].sizes() == out, op_name(op), ": output gradient ", describe(in[0]),
             " does not match the pooling's output ", shape_str(out));
  return {xs, in[0].dtype(), dev};
}

}  // namespace duet
