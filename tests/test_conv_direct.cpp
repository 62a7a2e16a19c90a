// The direct convolution kernels (kernels/cpu/conv_direct.cpp): that conv.cpp
// chooses them where they apply and not elsewhere; their forward, input gradient and weight
// gradient against the float64 references over the workloads' stride-1 layers and the
// geometry that stresses the padded-width grid (tiles ending mid-row, one output column,
// odd channel counts, dilation, groups, depthwise, asymmetric kernels and padding, strides
// (phase planes) of 2, 3 and (2, 1), padding
// wider than the input-gradient transform allows, non-contiguous operands); an inf that
// only a dropped grid column reads stays out of the weight gradient; results do not
// depend on the thread count. On a CPU without AVX-512 the cases say they skipped.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "core/functions.h"
#include "core/generator.h"
#include "core/ops/conv_geometry.h"
#include "core/parallel.h"
#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/gemm.h"
#include "tests/reference/reference_conv.h"
#include "tests/test_support.h"

using namespace duet;
using duet::testing::ThreadCount;

namespace {

struct Case {
  const char* name;
  bool forward_direct, input_grad_direct;  // the weight gradient is direct in every case
  int64_t N, C, H, W, OC, KH, KW;
  int64_t ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
  int64_t sh = 1, sw = 1;
  bool strided = false;
};

const Case kCases[] = {
    // name, forward direct, input gradient direct, N, C, H, W, OC, KH, KW, ph, pw, dh, dw, groups, sh, sw, strided
    {"fashion-resnet stem 1->16 3x3 pad 1 (9 taps, 1 input channel: im2col)", false, false, 3, 1, 28, 28, 16, 3, 3, 1, 1},
    {"fashion-resnet stage 1 16->16 3x3 pad 1", true, true, 2, 16, 28, 28, 16, 3, 3, 1, 1},
    {"fashion-resnet stage 2 32->32 3x3 pad 1", true, true, 2, 32, 14, 14, 32, 3, 3, 1, 1},
    {"fashion-resnet stage 3 64->64 3x3 pad 1", true, true, 3, 64, 7, 7, 64, 3, 3, 1, 1},
    {"fashion-lenet conv1 1->6 5x5 pad 2", true, false, 2, 1, 28, 28, 6, 5, 5, 2, 2},
    {"fashion-lenet conv2 6->16 5x5", true, true, 3, 6, 14, 14, 16, 5, 5},
    {"odd channels 5->7, 3x3 pad 1", true, true, 2, 5, 9, 11, 7, 3, 3, 1, 1},
    {"one output column", true, true, 2, 4, 6, 3, 9, 3, 3},
    {"one output pixel", true, true, 2, 4, 3, 3, 10, 3, 3},
    {"kernel wider than the input, padded", true, true, 2, 4, 2, 2, 5, 3, 3, 1, 1},
    {"2x3 kernel, padding (1, 0), dilation (1, 2)", true, true, 2, 4, 9, 13, 6, 2, 3, 1, 0, 1, 2},
    {"3x3 dilation 2 pad 2", true, true, 2, 8, 11, 11, 8, 3, 3, 2, 2, 2, 2},
    {"groups 2", true, true, 2, 8, 9, 9, 12, 3, 3, 1, 1, 1, 1, 2},
    {"64 channels, width 12 (6-pixel broadcast tiles)", true, true, 2, 8, 5, 12, 64, 3, 3, 1, 1},
    {"groups 2 of 64 channels, width 10 (5-pixel broadcast tiles)", true, false, 2, 4, 4, 10, 128, 3, 3, 1, 1, 1, 1, 2},
    {"64 channels, width 8 after dilation 2 (4-pixel broadcast tiles)", true, false, 2, 3, 6, 12, 64, 3, 3, 0, 0, 2, 2},
    {"groups 2 of 48 output channels (3-vector weight-gradient tiles)", true, true, 2, 8, 7, 9, 96, 3, 3, 1, 1, 1, 1, 2},
    {"groups 2 of 32 output channels, stride 2", true, false, 2, 6, 9, 8, 64, 3, 3, 1, 1, 1, 1, 2, 2, 2},
    {"depthwise (1 channel per group: im2col)", false, false, 3, 16, 10, 10, 16, 3, 3, 1, 1, 1, 1, 16},
    {"padding 3 on a 3x3 kernel (input gradient on im2col)", true, false, 2, 4, 6, 6, 5, 3, 3, 3, 3},
    {"non-contiguous operands", true, true, 3, 8, 10, 11, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, true},
    // strided: phase planes (Note [Strided grids]), input gradients by phases of dx (Note
    // [Strided input gradients]), one with phases that have no taps
    {"2x2 kernel, stride 3 (dx phases without taps)", true, true, 2, 4, 11, 10, 8, 2, 2, 0, 0, 1, 1, 1, 3, 3},
    {"stride 2, dilation 2, padding 2", true, true, 2, 4, 13, 12, 8, 3, 3, 2, 2, 2, 2, 1, 2, 2},
    {"fashion-resnet stage 2 down 16->32 3x3 stride 2 pad 1", true, true, 2, 16, 28, 28, 32, 3, 3, 1, 1, 1, 1, 1, 2, 2},
    {"fashion-resnet stage 3 down 32->64 3x3 stride 2 pad 1", true, true, 3, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 2, 2},
    {"odd size 3x3 stride 2 pad 1", true, true, 2, 5, 15, 13, 9, 3, 3, 1, 1, 1, 1, 1, 2, 2},
    {"stride 2, width 37, pad 0 (phase split: a 32-column piece and a tail)", true, true, 2, 4, 7, 37, 8, 3, 3, 0, 0, 1,
     1, 1, 2, 2},
    {"stride 2, width 70, pad 1 (two 32-column pieces, tail 6)", true, true, 2, 4, 5, 70, 8, 3, 3, 1, 1, 1, 1, 1, 2, 2},
    {"stride (2, 1), padding (0, 2)", true, true, 2, 4, 10, 9, 6, 3, 3, 0, 2, 1, 1, 1, 2, 1},
    {"stride 3, dilation 2, 5x5 (3 input channels: im2col input gradient)", true, false, 2, 3, 23, 20, 8, 5, 5, 2, 1, 2, 2, 1, 3, 3},
    {"stride 2 groups 2, non-contiguous", true, true, 2, 8, 11, 12, 8, 3, 3, 1, 1, 1, 1, 2, 2, 2, true},
};

Attrs attrs_of(const Case& c) {
  return Attrs()
      .set("stride", std::vector<int64_t>{c.sh, c.sw})
      .set("padding", std::vector<int64_t>{c.ph, c.pw})
      .set("dilation", std::vector<int64_t>{c.dh, c.dw})
      .set("groups", c.groups);
}
ref::ConvGeom geom_of(const Case& c) { return {c.sh, c.sw, c.ph, c.pw, c.dh, c.dw, c.groups}; }

// Random values; strided: a transposed view of a copy with the last two dims swapped.
Tensor make(const Shape& s, bool strided) {
  if (!strided) return randn(s);
  Tensor t = randn({s[0], s[1], s[3], s[2]}).transpose(2, 3);
  REQUIRE(!t.is_contiguous());
  return t;
}

bool skip_without_avx512() {
  if (cpu::detail::gemm_isa() == cpu::detail::GemmIsa::Avx512) return false;
  MESSAGE("skipped: this CPU has no AVX-512, so the direct convolution kernels never run here");
  return true;
}

struct Run {
  Tensor x, w, dy;
  Attrs attrs;
  ConvDims d;
  Tensor forward() const { return apply(OpKind::conv2d, {x, w}, attrs); }
  Tensor input_grad() const { return apply(OpKind::conv2d_input_grad, {dy, w}, Attrs(attrs).set("input_shape", x.sizes())); }
  Tensor weight_grad() const {
    return apply(OpKind::conv2d_weight_grad, {dy, x}, Attrs(attrs).set("weight_shape", w.sizes()));
  }
};

Run make_run(const Case& c) {
  Run r;
  r.attrs = attrs_of(c);
  r.x = make({c.N, c.C, c.H, c.W}, c.strided);
  r.w = make({c.OC, c.C / c.groups, c.KH, c.KW}, c.strided);
  r.d = conv_dims(r.x.sizes(), r.w.sizes(), r.attrs);
  r.dy = make({c.N, c.OC, r.d.OH, r.d.OW}, c.strided);
  return r;
}

const ref::Tol kTol = ref::scaled(ref::default_tol(DType::Float32), 4);

}  // namespace

TEST_CASE("direct conv: where it is chosen (no 1x1, enough samples, enough channels)") {
  if (skip_without_avx512()) return;
  const auto dims = [](Shape x, Shape w, int64_t stride, int64_t pad) {
    const Attrs a = Attrs()
                        .set("stride", std::vector<int64_t>{stride, stride})
                        .set("padding", std::vector<int64_t>{pad, pad})
                        .set("dilation", std::vector<int64_t>{1, 1})
                        .set("groups", int64_t(1));
    return conv_dims(x, w, a);
  };
  const ThreadCount two(2);
  CHECK(cpu::conv_direct_forward_applies(dims({128, 16, 28, 28}, {16, 16, 3, 3}, 1, 1)));
  CHECK(cpu::conv_direct_input_grad_applies(dims({128, 16, 28, 28}, {16, 16, 3, 3}, 1, 1)));
  CHECK(cpu::conv_direct_weight_grad_applies(dims({128, 16, 28, 28}, {16, 16, 3, 3}, 1, 1)));
  CHECK(cpu::conv_direct_forward_applies(dims({128, 16, 28, 28}, {32, 16, 3, 3}, 2, 1)));          // stride 2
  CHECK(cpu::conv_direct_weight_grad_applies(dims({128, 16, 28, 28}, {32, 16, 3, 3}, 2, 1)));
  CHECK(cpu::conv_direct_input_grad_applies(dims({128, 16, 28, 28}, {32, 16, 3, 3}, 2, 1)));
  CHECK_FALSE(cpu::conv_direct_weight_grad_applies(dims({128, 16, 28, 28}, {32, 16, 1, 1}, 1, 0)));  // 1x1
  CHECK_FALSE(cpu::conv_direct_forward_applies(dims({128, 16, 28, 28}, {32, 16, 1, 1}, 2, 0)));      // 1x1 stride 2
  CHECK_FALSE(cpu::conv_direct_forward_applies(dims({1, 16, 28, 28}, {16, 16, 3, 3}, 1, 1)));      // 1 sample, 2 threads
  CHECK(cpu::conv_direct_weight_grad_applies(dims({1, 16, 28, 28}, {16, 16, 3, 3}, 1, 1)));
  CHECK_FALSE(cpu::conv_direct_input_grad_applies(dims({4, 4, 6, 6}, {5, 4, 3, 3}, 1, 3)));        // pad > k - 1
  CHECK_FALSE(cpu::conv_direct_forward_applies(dims({4, 1, 8, 8}, {16, 1, 3, 3}, 1, 1)));          // 9 taps
  CHECK_FALSE(cpu::conv_direct_input_grad_applies(dims({4, 1, 8, 8}, {16, 1, 3, 3}, 1, 1)));       // 1 channel out
  CHECK_FALSE(cpu::conv_direct_forward_applies(dims({4, 512, 64, 64}, {16, 512, 3, 3}, 1, 1)));    // > 1 MB padded
  cpu::detail::set_gemm_isa_limit(cpu::detail::GemmIsa::Avx2);
  CHECK_FALSE(cpu::conv_direct_forward_applies(dims({128, 16, 28, 28}, {16, 16, 3, 3}, 1, 1)));
  cpu::detail::set_gemm_isa_limit(cpu::detail::GemmIsa::Avx512);
}

TEST_CASE("direct conv: forward, input gradient and weight gradient match the float64 references") {
  if (skip_without_avx512()) return;
  const ThreadCount two(2);
  manual_seed(5);
  for (const Case& c : kCases) {
    const std::string name = c.name;
    CAPTURE(name);
    const Run r = make_run(c);
    CHECK(cpu::conv_direct_forward_applies(r.d) == c.forward_direct);
    CHECK(cpu::conv_direct_input_grad_applies(r.d) == c.input_grad_direct);
    CHECK(cpu::conv_direct_weight_grad_applies(r.d));
    const ref::ConvGeom g = geom_of(c);
    CHECK(ref::compare(r.forward(), ref::conv2d(ref::read(r.x), ref::read(r.w), nullptr, g), kTol) == "");
    CHECK(ref::compare(r.input_grad(), ref::conv2d_input_grad(ref::read(r.dy), ref::read(r.w), r.x.sizes(), g), kTol) ==
          "");
    CHECK(ref::compare(r.weight_grad(), ref::conv2d_weight_grad(ref::read(r.dy), ref::read(r.x), r.w.sizes(), g),
                       kTol) == "");
  }
}

TEST_CASE("direct conv: an inf read only by a dropped grid column stays out of the weight gradient") {
  if (skip_without_avx512()) return;
  // 3x3, no padding, width 8: output columns 0-5. Input column 7 enters taps j = 2 only;
  // the grid reads it for j = 0 and 1 too, at the dropped columns 6 and 7.
  manual_seed(6);
  Tensor x = randn({2, 2, 6, 8}), w = randn({3, 2, 3, 3}), dy = randn({2, 3, 4, 6});
  x.data<float>()[7] = INFINITY;  // sample 0, channel 0, row 0, column 7
  const Attrs a = Attrs()
                      .set("stride", std::vector<int64_t>{1, 1})
                      .set("padding", std::vector<int64_t>{0, 0})
                      .set("dilation", std::vector<int64_t>{1, 1})
                      .set("groups", int64_t(1));
  REQUIRE(cpu::conv_direct_weight_grad_applies(conv_dims(x.sizes(), w.sizes(), a)));
  const Tensor dw = apply(OpKind::conv2d_weight_grad, {dy, x}, Attrs(a).set("weight_shape", w.sizes()));
  CHECK(ref::compare(dw, ref::conv2d_weight_grad(ref::read(dy), ref::read(x), w.sizes(), {}), kTol) == "");
  const std::vector<double> v = duet::testing::values_of(dw);
  for (int64_t oc = 0; oc < 3; ++oc)
    for (int64_t j = 0; j < 2; ++j) CHECK(std::isfinite(v[size_t(oc * 18 + j)]));  // channel 0, row 0, taps j = 0, 1
}

TEST_CASE("direct conv: results do not depend on the thread count") {
  if (skip_without_avx512()) return;
  manual_seed(7);
  const Case c{"stage 2", true, true, 19, 32, 14, 14, 32, 3, 3, 1, 1};
  const Run r = make_run(c);
  Tensor f1, d1, w1;
  {
    const ThreadCount one(1);
    f1 = r.forward(), d1 = r.input_grad(), w1 = r.weight_grad();
  }
  const ThreadCount two(2);
  CHECK(ref::bitwise_equal(f1, r.forward()));
  CHECK(ref::bitwise_equal(d1, r.input_grad()));
  CHECK(ref::bitwise_equal(w1, r.weight_grad()));
}
