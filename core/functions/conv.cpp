// Public functions of convolution and pooling (core/functions.h): argument forms as in
// torch.nn.functional ({v} for {v, v}, "same"/"valid" padding, a pooling stride that
// defaults to the kernel) turned into the ops' attrs (core/ops/conv_geometry.h).
#include "core/functions.h"

#include "core/dispatch.h"
#include "core/error.h"

namespace duet {
namespace {

Shape pair_of(const char* op, const char* what, const Shape& v) {
  DUET_CHECK(v.size() == 1 || v.size() == 2, op, ": ", what, " takes 1 or 2 values, got ", shape_str(v));
  return v.size() == 1 ? Shape{v[0], v[0]} : v;
}

Attrs conv_attrs(const Shape& stride, const Shape& padding, const Shape& dilation, int64_t groups) {
  return Attrs()
      .set("stride", pair_of("conv2d", "stride", stride))
      .set("padding", pair_of("conv2d", "padding", padding))
      .set("dilation", pair_of("conv2d", "dilation", dilation))
      .set("groups", groups);
}

// x with `bottom` zero rows and `right` zero columns appended (differentiable: the
// gradient of the copy is the window of the incoming gradient).
Tensor pad_bottom_right(const Tensor& x, int64_t bottom, int64_t right) {
  DUET_CHECK(x.dim() == 4, "conv2d: expected a 4-D (N, C, H, W) input, got ", dtype_name(x.dtype()),
             shape_str(x.sizes()));
  const int64_t H = x.size(2) + bottom, W = x.size(3) + right;
  Tensor base = zeros({x.size(0), x.size(1), H, W}, {x.dtype(), x.device()});
  return as_strided_scatter(base, x, x.sizes(), {x.size(1) * H * W, H * W, W, 1});
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Shape& stride, const Shape& padding,
              const Shape& dilation, int64_t groups) {
  const Attrs attrs = conv_attrs(stride, padding, dilation, groups);
  if (bias.defined()) return apply(OpKind::conv2d, {x, weight, bias}, attrs);
  return apply(OpKind::conv2d, {x, weight}, attrs);
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Shape& stride, PaddingMode padding,
              const Shape& dilation, int64_t groups) {
  if (padding == PaddingMode::Valid) return conv2d(x, weight, bias, stride, Shape{0}, dilation, groups);
  const Shape s = pair_of("conv2d", "stride", stride), d = pair_of("conv2d", "dilation", dilation);
  DUET_CHECK(s[0] == 1 && s[1] == 1, "conv2d: padding=\"same\" needs stride 1, got ", shape_str(s),
             " (as in PyTorch: a strided convolution has no single \"same\" output size)");
  DUET_CHECK(weight.dim() == 4, "conv2d: expected a 4-D (OC, C / groups, KH, KW) weight, got ",
             dtype_name(weight.dtype()), shape_str(weight.sizes()));
  const int64_t th = d[0] * (weight.size(2) - 1), tw = d[1] * (weight.size(3) - 1);  // total padding
  const Tensor padded = (th % 2 || tw % 2) ? pad_bottom_right(x, th % 2, tw % 2) : x;
  return conv2d(padded, weight, bias, s, Shape{th / 2, tw / 2}, d, groups);
}

Tensor max_pool2d(const Tensor& x, const Shape& kernel, const Shape& stride, const Shape& padding,
                  const Shape& dilation, bool ceil_mode) {
  const Shape k = pair_of("max_pool2d", "kernel", kernel);
  return apply(OpKind::max_pool2d, {x},
               Attrs()
                   .set("kernel", k)
                   .set("stride", stride.empty() ? k : pair_of("max_pool2d", "stride", stride))
                   .set("padding", pair_of("max_pool2d", "padding", padding))
                   .set("dilation", pair_of("max_pool2d", "dilation", dilation))
                   .set("ceil_mode", ceil_mode));
}

Tensor avg_pool2d(const Tensor& x, const Shape& kernel, const Shape& stride, const Shape& padding, bool ceil_mode,
                  bool count_include_pad) {
  const Shape k = pair_of("avg_pool2d", "kernel", kernel);
  return apply(OpKind::avg_pool2d, {x},
               Attrs()
                   .set("kernel", k)
                   .set("stride", stride.empty() ? k : pair_of("avg_pool2d", "stride", stride))
                   .set("padding", pair_of("avg_pool2d", "padding", padding))
                   .set("ceil_mode", ceil_mode)
                   .set("count_include_pad", count_include_pad));
}

Tensor adaptive_avg_pool2d(const Tensor& x, const Shape& output_size) {
  return apply(OpKind::adaptive_avg_pool2d, {x},
               Attrs().set("output_size", pair_of("adaptive_avg_pool2d", "output_size", output_size)));
}

}  // namespace duet
