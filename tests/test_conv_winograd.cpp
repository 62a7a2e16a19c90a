// Winograd F(2x2, 3x3) convolution (kernels/cpu/conv_winograd.cpp): where it is chosen and
// where not; forward, stride-1 input gradient and weight gradient against the float64
// references on geometries that stress its tile grid (odd output sizes: tiles past the
// edge; padding 0 and 2; channel counts that leave the last 8-channel block part empty; a
// bias epilogue; non-contiguous operands), with the direct kernels' tolerance; a NaN read
// only past the tiles kept out of the weight gradient; results that do not depend on the
// thread count. Skips, saying so, on a CPU without AVX-512.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "core/functions.h"
#include "core/generator.h"
#include "core/ops/conv_geometry.h"
#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/conv_winograd.h"
#include "kernels/cpu/gemm.h"
#include "tests/reference/reference_conv.h"
#include "tests/test_support.h"

using namespace duet;
using duet::testing::ThreadCount;

namespace {

bool skip_without_avx512() {
  if (cpu::detail::gemm_isa() == cpu::detail::GemmIsa::Avx512) return false;
  MESSAGE("skipped: this CPU has no AVX-512, so the Winograd kernels never run here");
  return true;
}

Attrs conv_attrs(int64_t stride, int64_t ph, int64_t pw, int64_t dil = 1, int64_t groups = 1) {
  return Attrs()
      .set("stride", std::vector<int64_t>{stride, stride})
      .set("padding", std::vector<int64_t>{ph, pw})
      .set("dilation", std::vector<int64_t>{dil, dil})
      .set("groups", groups);
}

// The forward's grid plan of an NCHW input with OC output channels and a k x k kernel.
cpu::conv_grid::Plan plan(int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int64_t k, int64_t stride,
                          int64_t pad, int64_t dil = 1, int64_t groups = 1) {
  return cpu::conv_grid::make_plan(N, C, H, W, OC, groups, k, k, pad, pad, dil, dil, stride, stride);
}

struct Case {
  const char* name;
  int64_t N, C, H, W, OC, ph, pw;
  bool bias = false, strided = false;
};

const Case kCases[] = {
    {"fashion-resnet stage 1 16->16 28x28 pad 1", 2, 16, 28, 28, 16, 1, 1},
    {"fashion-resnet stage 2 32->32 14x14 pad 1", 2, 32, 14, 14, 32, 1, 1},
    {"odd output 13x11 (tiles past the edge), 9->11 channels", 2, 9, 13, 11, 11, 1, 1},
    {"padding 0: 16x18 -> 14x16", 2, 8, 16, 18, 8, 0, 0},
    {"padding 2: 12x12 -> 16x16, with bias", 3, 8, 12, 12, 24, 2, 2, true},
    {"padding (1, 0), 8->40 channels", 2, 8, 15, 20, 40, 1, 0},
    {"non-contiguous operands", 2, 12, 14, 16, 12, 1, 1, false, true},
};

Tensor make(const Shape& s, bool strided) {
  if (!strided) return randn(s);
  Tensor t = randn({s[0], s[1], s[3], s[2]}).transpose(2, 3);
  REQUIRE(!t.is_contiguous());
  return t;
}

const ref::Tol kTol = ref::scaled(ref::default_tol(DType::Float32), 4);

}  // namespace

TEST_CASE("winograd: chosen for dense 3x3 stride-1 layers of >= 8 channels, not elsewhere") {
  if (skip_without_avx512()) return;
  CHECK(cpu::winograd_applies(plan(128, 16, 28, 28, 16, 3, 1, 1)));   // fashion-resnet stage 1
  CHECK(cpu::winograd_applies(plan(128, 32, 14, 14, 32, 3, 1, 1)));   // stage 2
  CHECK(cpu::winograd_applies(plan(128, 16, 28, 28, 32, 3, 1, 1)));   // stage 2's dgrad seen as a forward
  CHECK_FALSE(cpu::winograd_applies(plan(128, 64, 7, 7, 64, 3, 1, 1)));  // 7x7: 2x2 tiles and grid waste most
  CHECK_FALSE(cpu::winograd_applies(plan(128, 16, 28, 28, 32, 3, 2, 1)));  // stride 2
  CHECK_FALSE(cpu::winograd_applies(plan(128, 16, 28, 28, 16, 3, 1, 2, 2)));  // dilation 2
  CHECK_FALSE(cpu::winograd_applies(plan(128, 16, 28, 28, 16, 3, 1, 1, 1, 2)));  // groups 2
  CHECK_FALSE(cpu::winograd_applies(plan(128, 4, 28, 28, 16, 3, 1, 1)));   // 4 input channels
  CHECK_FALSE(cpu::winograd_applies(plan(128, 16, 28, 28, 4, 3, 1, 1)));   // 4 output channels
  CHECK_FALSE(cpu::winograd_applies(plan(64, 6, 14, 14, 16, 5, 1, 0)));    // 5x5
  const cpu::ConvWinogradScope off(false);
  CHECK_FALSE(cpu::winograd_applies(plan(128, 16, 28, 28, 16, 3, 1, 1)));
}

TEST_CASE("winograd: forward and input gradient match the float64 references") {
  if (skip_without_avx512()) return;
  const ThreadCount two(2);
  manual_seed(11);
  for (const Case& c : kCases) {
    const std::string name = c.name;
    CAPTURE(name);
    const Attrs a = conv_attrs(1, c.ph, c.pw);
    const Tensor x = make({c.N, c.C, c.H, c.W}, c.strided), w = make({c.OC, c.C, 3, 3}, c.strided);
    const Tensor b = randn({c.OC});
    const ConvDims d = conv_dims(x.sizes(), w.sizes(), a);
    const Tensor dy = make({c.N, c.OC, d.OH, d.OW}, c.strided);
    REQUIRE(cpu::conv_direct_forward_applies(d));
    REQUIRE(cpu::conv_direct_input_grad_applies(d));
    CHECK(cpu::winograd_applies(plan(c.N, c.C, c.H, c.W, c.OC, 3, 1, c.ph)));
    // The input gradient's plan: dy padded by 2 - padding, OC channels in, C out.
    CHECK(cpu::winograd_applies(cpu::conv_grid::make_plan(c.N, c.OC, d.OH, d.OW, c.C, 1, 3, 3, 2 - c.ph, 2 - c.pw, 1,
                                                          1, 1, 1)));
    const auto forward = [&] {
      return c.bias ? apply(OpKind::conv2d, {x, w, b}, a) : apply(OpKind::conv2d, {x, w}, a);
    };
    const auto input_grad = [&] {
      return apply(OpKind::conv2d_input_grad, {dy, w}, Attrs(a).set("input_shape", x.sizes()));
    };
    const ref::ConvGeom g{1, 1, c.ph, c.pw, 1, 1, 1};
    const ref::RefTensor rb = ref::read(b);
    const Tensor fw = forward(), dx = input_grad();
    CHECK(ref::compare(fw, ref::conv2d(ref::read(x), ref::read(w), c.bias ? &rb : nullptr, g), kTol) == "");
    CHECK(ref::compare(dx, ref::conv2d_input_grad(ref::read(dy), ref::read(w), x.sizes(), g), kTol) == "");
    // The direct kernels, which Winograd replaces here, round differently: the bits show
    // which ran.
    const cpu::ConvWinogradScope off(false);
    CHECK_FALSE(ref::bitwise_equal(fw, forward()));
    CHECK_FALSE(ref::bitwise_equal(dx, input_grad()));
  }
}

TEST_CASE("winograd: results do not depend on the thread count") {
  if (skip_without_avx512()) return;
  manual_seed(12);
  const Attrs a = conv_attrs(1, 1, 1);
  const Tensor x = randn({7, 16, 14, 14}), w = randn({24, 16, 3, 3});
  REQUIRE(cpu::winograd_applies(plan(7, 16, 14, 14, 24, 3, 1, 1)));
  Tensor one;
  {
    const ThreadCount t(1);
    one = apply(OpKind::conv2d, {x, w}, a);
  }
  const ThreadCount t(2);
  CHECK(ref::bitwise_equal(one, apply(OpKind::conv2d, {x, w}, a)));
}

// ---- weight gradient (Note [Winograd weight gradient])

namespace {

// Output channels in whole vectors (16-64); the forward's Case, without bias.
const Case kWgradCases[] = {
    {"fashion-resnet stage 1 16->16 28x28 pad 1", 3, 16, 28, 28, 16, 1, 1},
    {"fashion-resnet stage 2 32->32 14x14 pad 1, 11 samples (a part chunk)", 11, 32, 14, 14, 32, 1, 1},
    {"odd output 13x11 (tiles past the edge), 9->16 channels", 2, 9, 13, 11, 16, 1, 1},
    {"padding 0: 16x18 -> 14x16, 8->48", 2, 8, 16, 18, 48, 0, 0},
    {"padding 2: 12x12 -> 16x16, 12->64", 2, 12, 12, 12, 64, 2, 2},
    {"padding (1, 0), 20 -> 32, 16 x 19 -> 16 x 17", 2, 20, 16, 19, 32, 1, 0},
    {"non-contiguous operands", 2, 12, 14, 16, 16, 1, 1, false, true},
};

Tensor weight_grad(const Tensor& dy, const Tensor& x, const Shape& w, const Attrs& a) {
  return apply(OpKind::conv2d_weight_grad, {dy, x}, Attrs(a).set("weight_shape", w));
}

}  // namespace

TEST_CASE("winograd weight gradient: where it runs, and against the float64 reference") {
  if (skip_without_avx512()) return;
  CHECK(cpu::winograd_weight_grad_applies(plan(128, 16, 28, 28, 16, 3, 1, 1)));
  CHECK(cpu::winograd_weight_grad_applies(plan(128, 32, 14, 14, 32, 3, 1, 1)));
  CHECK_FALSE(cpu::winograd_weight_grad_applies(plan(128, 16, 28, 28, 24, 3, 1, 1)));  // not whole vectors
  CHECK_FALSE(cpu::winograd_weight_grad_applies(plan(128, 16, 28, 28, 80, 3, 1, 1)));  // more than 4 vectors
  CHECK_FALSE(cpu::winograd_weight_grad_applies(plan(128, 64, 7, 7, 64, 3, 1, 1)));   // 7x7: as the forward
  CHECK_FALSE(cpu::winograd_weight_grad_applies(plan(128, 16, 28, 28, 32, 3, 2, 1)));  // stride 2
  // 64 -> 64 at 56 x 56: the forward runs on Winograd, but a sample's transformed operands
  // for the weight gradient would pass 4 MB.
  CHECK(cpu::winograd_applies(plan(128, 64, 56, 56, 64, 3, 1, 1)));
  CHECK_FALSE(cpu::winograd_weight_grad_applies(plan(128, 64, 56, 56, 64, 3, 1, 1)));
  const ThreadCount two(2);
  manual_seed(13);
  for (const Case& c : kWgradCases) {
    const std::string name = c.name;
    CAPTURE(name);
    const Attrs a = conv_attrs(1, c.ph, c.pw);
    const Tensor x = make({c.N, c.C, c.H, c.W}, c.strided);
    const Shape ws{c.OC, c.C, 3, 3};
    const ConvDims d = conv_dims(x.sizes(), ws, a);
    const Tensor dy = make({c.N, c.OC, d.OH, d.OW}, c.strided);
    REQUIRE(cpu::conv_direct_weight_grad_applies(d));
    REQUIRE(cpu::winograd_weight_grad_applies(
        cpu::conv_grid::make_plan(c.N, c.C, c.H, c.W, c.OC, 1, 3, 3, c.ph, c.pw, 1, 1, 1, 1)));
    const Tensor dw = weight_grad(dy, x, ws, a);
    const ref::ConvGeom g{1, 1, c.ph, c.pw, 1, 1, 1};
    CHECK(ref::compare(dw, ref::conv2d_weight_grad(ref::read(dy), ref::read(x), ws, g), kTol) == "");
    const cpu::ConvWinogradScope off(false);  // the direct kernel rounds differently: the bits show which ran
    CHECK_FALSE(ref::bitwise_equal(dw, weight_grad(dy, x, ws, a)));
  }
}

TEST_CASE("winograd weight gradient: a NaN read only past the tiles stays out; thread-count independent bits") {
  if (skip_without_avx512()) return;
  manual_seed(14);
  // Padding 0, 16 x 18 -> 14 x 16: the grid's last positions (no tiles) read past channel 0's
  // last phase plane into channel 1's first elements. A NaN there belongs to channel 1; the
  // zeroed lanes keep it out of channel 0's gradient, where the reference has none.
  const Attrs a = conv_attrs(1, 0, 0);
  Tensor x = randn({3, 8, 16, 18});
  x.data<float>()[16 * 18] = NAN;  // sample 0, channel 1, row 0, column 0
  const Tensor dy = randn({3, 16, 14, 16});
  const Shape ws{16, 8, 3, 3};
  REQUIRE(cpu::winograd_weight_grad_applies(plan(3, 8, 16, 18, 16, 3, 1, 0)));
  Tensor one;
  {
    const ThreadCount t(1);
    one = weight_grad(dy, x, ws, a);
  }
  const ThreadCount t(2);
  const Tensor two = weight_grad(dy, x, ws, a);
  CHECK(ref::bitwise_equal(one, two));
  const std::vector<double> v = duet::testing::values_of(two);
  for (int64_t o = 0; o < 16; ++o)
    for (int64_t k = 0; k < 9; ++k) CHECK(std::isfinite(v[size_t(o * 72 + k)]));  // channel 0's taps
}
