// The CUDA convolution and pooling kernels (kernels/cuda/conv.cu, pool.cu) on the paths the
// op table's cases (test_cuda_ops) do not reach (label `cuda`):
//   conv2d's tiled implicit GEMM (32 or more output channels per group) with groups,
//   partial channel and pixel tiles, tap counts that are not a multiple of the K step,
//   strided, dilated and asymmetric windows, transposed and sliced inputs; the direct
//   kernel on a depthwise conv of many channels; both gradients on the same shapes, with
//   more weight elements than the grid holds blocks and long N*OH*OW sums; all against
//   the float64 loop references (tests/reference/reference_conv.h), and identical bits on
//   a second run (no atomics anywhere).
//   the same cases on cuDNN (DUET_CONV=cudnn), float32 and float64, two layouts.
//   pooling: NaNs (the last NaN in scan order wins and holds the gradient), ties (the
//   first maximum), windows of -inf and windows of padding only, ceil_mode, with inputs in
//   three layouts; every pooling op must give the CPU kernel's bits, since the backward
//   gathers add each element's terms in the CPU's order.
//
// Without a GPU (or in a build without CUDA) every test prints
//   skipped: no CUDA device (<why>)
// and passes.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "core/functions.h"
#include "core/ops/conv_geometry.h"
#include "kernels/cpu/conv_backend.h"
#include "kernels/cuda/cudnn_softmax.h"
#include "tests/cuda_test_support.h"
#include "tests/cudnn_conv_scope.h"
#include "tests/reference/op_cases.h"
#include "tests/reference/reference_conv.h"
#include "tests/test_support.h"

using namespace duet;
using duet::cases::Inputs;
using duet::cases::Layout;
using duet::testing::CudnnConvScope;
using duet::testing::skip_without_gpu;
using duet::testing::to_gpu_same_layout;

namespace {

// A device tensor's copy on the host (duet::testing::cpu; a plain `cpu` would clash with
// namespace duet::cpu).
Tensor to_host(const Tensor& t) { return duet::testing::cpu(t); }

struct ConvCase {
  const char* what;
  Shape x, w;
  bool bias;
  Shape stride, padding, dilation;
  int64_t groups;
};

const std::vector<ConvCase> kConvCases = {
    {"tiled: 2 groups of 48 channels, 45 taps, dilated", {3, 10, 13, 11}, {96, 5, 3, 3}, true, {2, 2}, {1, 1}, {2, 2}, 2},
    {"tiled: 65 channels (a 1-row tile), 63 taps", {2, 7, 9, 9}, {65, 7, 3, 3}, false, {1, 1}, {1, 1}, {1, 1}, 1},
    {"tiled: 1x1 over 32 pixel tiles", {5, 16, 20, 20}, {32, 16, 1, 1}, true, {1, 1}, {0, 0}, {1, 1}, 1},
    {"tiled: asymmetric window, stride and dilation", {1, 3, 40, 36}, {40, 3, 5, 4}, true, {3, 2}, {2, 1}, {1, 2}, 1},
    {"tiled: 73728 weights (wgrad loops past the grid)", {1, 64, 6, 6}, {128, 64, 3, 3}, false, {1, 1}, {1, 1}, {1, 1}, 1},
    {"direct: depthwise, 64 channels", {2, 64, 6, 6}, {64, 1, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 64},
    {"direct: 4 groups of 4 channels", {2, 8, 5, 7}, {16, 2, 3, 3}, true, {1, 2}, {0, 1}, {1, 1}, 4},
    {"wgrad: N*OH*OW = 32768 per weight", {8, 4, 64, 64}, {8, 4, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 1},
};

Attrs conv_attrs(const ConvCase& c) {
  return Attrs().set("stride", c.stride).set("padding", c.padding).set("dilation", c.dilation).set("groups", c.groups);
}
ref::ConvGeom conv_geom(const ConvCase& c) {
  return {c.stride[0], c.stride[1], c.padding[0], c.padding[1], c.dilation[0], c.dilation[1], c.groups};
}
Shape conv_out(const ConvCase& c) {
  const Window2d g = Window2d::conv(conv_attrs(c), c.w[2], c.w[3]);
  return {c.x[0], c.w[0], g.out_h(c.x[2]), g.out_w(c.x[3])};
}

// Runs op on the device with the inputs in their own layouts; checks the result against
// `want` and that a second run gives the same bits.
void check_on_gpu(OpKind op, const std::vector<Tensor>& inputs, const Attrs& attrs, const ref::RefTensor& want,
                  ref::Tol tol, const std::string& desc) {
  std::vector<Tensor> dev;
  for (const Tensor& t : inputs) dev.push_back(to_gpu_same_layout(t));
  const Tensor got = to_host(apply(op, dev, attrs));
  CHECK_MESSAGE(ref::compare(got, want, tol) == "", op_name(op), " ", desc, ": ", ref::compare(got, want, tol));
  CHECK_MESSAGE(ref::bitwise_equal(got, to_host(apply(op, dev, attrs))), op_name(op), " ", desc,
                ": a second run gave other bits");
}

// x's values in three layouts: contiguous, H and W swapped in memory, every other element
// of a wider W.
std::vector<Tensor> three_layouts(const Tensor& x) {
  Shape wide = x.sizes();
  wide[3] = 2 * wide[3] + 1;
  Tensor sliced = zeros(wide, {x.dtype()}).slice(3, 1, wide[3], 2);
  sliced.copy_(x);
  return {x, x.transpose(2, 3).contiguous().transpose(2, 3), sliced};
}
const char* kLayoutNames[] = {"contiguous", "transposed", "strided"};

// op on the device gives the CPU kernel's bits (NaNs as NaNs, with their payloads).
void check_cpu_bits(OpKind op, const std::vector<Tensor>& inputs, const Attrs& attrs, const std::string& desc) {
  std::vector<Tensor> dev;
  for (const Tensor& t : inputs) dev.push_back(to_gpu_same_layout(t));
  const Tensor want = apply(op, inputs, attrs), got = to_host(apply(op, dev, attrs));
  CHECK_MESSAGE(ref::bitwise_equal(got, want), op_name(op), " ", desc, " attrs ", attrs.str(), ": ",
                ref::compare(got, ref::read(want), {0, 0}));
}

}  // namespace

namespace {

// Every case of kConvCases, all three passes, on whichever backend is selected: float32 in
// the given layouts, float64 contiguous.
void check_conv_cases(uint64_t seed, std::initializer_list<Layout> layouts, const std::string& prefix) {
  Inputs in(seed);
  for (DType dt : {DType::Float32, DType::Float64})
    for (const ConvCase& c : kConvCases)
      for (Layout l : layouts) {
        if (dt == DType::Float64 && l != Layout::Contiguous) continue;
        const std::string desc = prefix + c.what + ", " + cases::describe(dt, c.x, l);
        const ref::Tol tol = ref::scaled(ref::default_tol(dt), 4);
        const ref::ConvGeom g = conv_geom(c);
        const Attrs attrs = conv_attrs(c);
        const Tensor x = in.make(dt, c.x, l), w = in.make(dt, c.w, l), dy = in.make(dt, conv_out(c), l);
        const Tensor bias = c.bias ? in.make(dt, {c.w[0]}, l == Layout::Strided ? l : Layout::Contiguous) : Tensor();
        const std::vector<Tensor> fwd = c.bias ? std::vector<Tensor>{x, w, bias} : std::vector<Tensor>{x, w};
        const ref::RefTensor b = c.bias ? ref::read(bias) : ref::RefTensor{};
        check_on_gpu(OpKind::conv2d, fwd, attrs, ref::conv2d(ref::read(x), ref::read(w), c.bias ? &b : nullptr, g), tol,
                     desc);
        check_on_gpu(OpKind::conv2d_input_grad, {dy, w}, Attrs(attrs).set("input_shape", c.x),
                     ref::conv2d_input_grad(ref::read(dy), ref::read(w), c.x, g), tol, desc);
        check_on_gpu(OpKind::conv2d_weight_grad, {dy, x}, Attrs(attrs).set("weight_shape", c.w),
                     ref::conv2d_weight_grad(ref::read(dy), ref::read(x), c.w, g), tol, desc);
      }
}

}  // namespace

TEST_CASE("cuda conv2d: tiled and direct kernels and both gradients against float64 references") {
  if (skip_without_gpu()) return;
  check_conv_cases(611, {Layout::Contiguous, Layout::Transposed, Layout::Strided}, "");
}

TEST_CASE("cuda conv2d on cuDNN (DUET_CONV=cudnn): all three passes against float64 references, repeatable") {
  if (skip_without_gpu()) return;
  const CudnnConvScope cudnn;
  if (!cudnn.selected) return;
  check_conv_cases(612, {Layout::Contiguous, Layout::Transposed, Layout::Strided}, "cudnn: ");
}

TEST_CASE("cuda pooling: NaNs, ties, -inf and all-padding windows give the CPU's bits") {
  if (skip_without_gpu()) return;
  struct PoolCase {
    Shape x, kernel, stride, padding, dilation;
    bool ceil_mode;
  };
  const std::vector<PoolCase> shapes = {
      {{2, 3, 9, 8}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, false},  // overlapping windows
      {{2, 2, 8, 8}, {2, 2}, {2, 2}, {0, 0}, {1, 1}, false},  // disjoint windows
      {{1, 3, 7, 6}, {3, 2}, {2, 1}, {1, 1}, {1, 1}, true},   // ceil_mode: partial windows
      {{2, 2, 5, 2}, {2, 2}, {1, 1}, {0, 2}, {1, 3}, false},  // dilated: windows of padding only
  };
  Inputs in(612);
  for (DType dt : {DType::Float32, DType::Float64})
    for (const PoolCase& p : shapes) {
      // Few distinct values (ties everywhere), then NaNs, and rows 1 to 3 of every plane
      // -inf, so some windows hold nothing else.
      Tensor x = in.make(dt, p.x, Layout::Contiguous, cases::domain(-2, 2, 1));
      std::vector<double> v = x.to(DType::Float64).to_vector<double>();
      for (size_t i = 0; i < v.size(); ++i) {
        const int64_t h = int64_t(i) / p.x[3] % p.x[2];
        if (h >= 1 && h <= 3) v[i] = -std::numeric_limits<double>::infinity();
        else if (i % 7 == 3 || i % 11 == 5) v[i] = std::nan("");
      }
      const Tensor x_special = cases::from_values(dt, p.x, v);
      const Attrs max_attrs = Attrs()
                                  .set("kernel", p.kernel)
                                  .set("stride", p.stride)
                                  .set("padding", p.padding)
                                  .set("dilation", p.dilation)
                                  .set("ceil_mode", p.ceil_mode);
      const Window2d g = Window2d::pool(max_attrs);
      const Shape ys = {p.x[0], p.x[1], g.out_h(p.x[2]), g.out_w(p.x[3])};
      const Tensor dy = in.make(dt, ys);
      const std::vector<Tensor> xs = three_layouts(x_special), plain = three_layouts(x);
      for (size_t l = 0; l < xs.size(); ++l) {
        const std::string desc = cases::describe(dt, p.x) + " " + kLayoutNames[l];
        check_cpu_bits(OpKind::max_pool2d, {xs[l]}, max_attrs, desc + " with NaNs");
        check_cpu_bits(OpKind::max_pool2d_backward, {dy, xs[l]}, max_attrs, desc + " with NaNs");
        check_cpu_bits(OpKind::max_pool2d_backward, {dy, plain[l]}, max_attrs, desc);
        if (p.dilation != Shape{1, 1}) continue;  // avg_pool2d has no dilation
        for (bool count_pad : {true, false}) {
          const Attrs avg = Attrs()
                          .set("kernel", p.kernel)
                          .set("stride", p.stride)
                          .set("padding", p.padding)
                          .set("ceil_mode", p.ceil_mode)
                          .set("count_include_pad", count_pad);
          check_cpu_bits(OpKind::avg_pool2d, {plain[l]}, avg, desc);
          check_cpu_bits(OpKind::avg_pool2d_backward, {dy}, Attrs(avg).set("input_shape", p.x), desc);
        }
      }
    }
}

TEST_CASE("cuda adaptive_avg_pool2d: overlapping and uneven windows give the CPU's bits") {
  if (skip_without_gpu()) return;
  struct A {
    Shape x, out;
  };
  const std::vector<A> shapes = {{{2, 3, 7, 5}, {3, 2}}, {{1, 2, 3, 5}, {5, 7}}, {{2, 3, 10, 10}, {4, 3}},
                                 {{1, 1, 1, 9}, {3, 4}}, {{4, 16, 7, 7}, {1, 1}}};
  Inputs in(613);
  for (DType dt : {DType::Float32, DType::Float64})
    for (const A& a : shapes) {
      const Attrs attrs = Attrs().set("output_size", a.out);
      const std::vector<Tensor> xs = three_layouts(in.make(dt, a.x));
      const Tensor dy = in.make(dt, {a.x[0], a.x[1], a.out[0], a.out[1]}, Layout::Transposed);
      for (size_t l = 0; l < xs.size(); ++l) {
        const std::string desc = cases::describe(dt, a.x) + " " + kLayoutNames[l] + " to " + shape_str(a.out);
        check_cpu_bits(OpKind::adaptive_avg_pool2d, {xs[l]}, attrs, desc);
      }
      check_cpu_bits(OpKind::adaptive_avg_pool2d_backward, {dy}, Attrs(attrs).set("input_shape", a.x),
                     cases::describe(dt, a.x) + " to " + shape_str(a.out));
    }
}
