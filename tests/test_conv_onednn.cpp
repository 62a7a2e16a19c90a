// The oneDNN backend of the CPU convolutions (kernels/cpu/conv_onednn.cpp, DUET_CONV):
// the backend choice and its errors (every build: an unknown name, onednn in a build
// without oneDNN, cudnn as the CUDA device's backend and where it is missing); with oneDNN, its forward (with and without bias), input gradient and
// weight gradient against duet's kernels over LeNet's layers, 3x3 layers of 16/32/64
// channels, stride 2, dilation 2, groups 2, depthwise, 1x1 and non-square geometry and
// strided operands, within float32 tolerance; float64 still runs on duet's kernel; plans
// are cached by shape and thread count. Without oneDNN those cases say they skipped.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "core/functions.h"
#include "core/generator.h"
#include "core/ops/conv_geometry.h"
#include "core/parallel.h"
#include "kernels/cpu/conv_backend.h"
#include "kernels/cpu/conv_onednn.h"
#include "kernels/cuda/cuda_api.h"
#include "kernels/cuda/cudnn_softmax.h"
#include "tests/test_support.h"

using namespace duet;
using cpu::ConvBackend;
using duet::testing::values_of;

namespace {

// Restores duet's kernels (and DUET_CONV's absence) when a test ends, whatever it selected.
struct BackendReset {
  ~BackendReset() {
    unsetenv("DUET_CONV");
    cpu::detail::reset_conv_backend_for_testing();
    cpu::set_conv_backend(ConvBackend::Duet);
    cuda::set_conv_backend("duet");
  }
};

// Sets DUET_CONV and makes the next convolution read it again.
void set_env(const char* value) {
  setenv("DUET_CONV", value, 1);
  cpu::detail::reset_conv_backend_for_testing();
}

// The plan cache (conv_onednn.h, defined only in builds with oneDNN; the cases that use
// it skip without).
size_t cached_plans() {
#ifdef DUET_HAVE_ONEDNN
  return cpu::onednn::cached_plans();
#else
  return 0;
#endif
}
void clear_cache() {
#ifdef DUET_HAVE_ONEDNN
  cpu::onednn::clear_cache();
#endif
}

bool skip_without_onednn() {
  if (cpu::conv_backend_available(ConvBackend::OneDNN)) return false;
  MESSAGE("skipped: this build has no oneDNN (configure with libdnnl-dev installed and DUET_ONEDNN=AUTO or ON)");
  return true;
}

struct ConvCase {
  const char* name;
  int64_t N, C, H, W, OC, KH, KW;
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
  bool bias = true;
  bool strided = false;  // x, w and dy as non-contiguous views
};

const ConvCase kCases[] = {
    {"lenet conv1 1->6 5x5 pad 2", 4, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2},
    {"lenet conv2 6->16 5x5", 4, 6, 14, 14, 16, 5, 5},
    {"3x3 pad 1, 16 channels", 3, 16, 12, 12, 16, 3, 3, 1, 1, 1, 1},
    {"3x3 pad 1, 32 channels", 2, 32, 10, 10, 32, 3, 3, 1, 1, 1, 1},
    {"3x3 pad 1, 64 channels", 2, 64, 7, 7, 64, 3, 3, 1, 1, 1, 1},
    {"3x3 stride 2 pad 1, 16->32, odd size", 3, 16, 15, 15, 32, 3, 3, 2, 2, 1, 1},
    {"1x1 stride 2, 16->32", 2, 16, 14, 14, 32, 1, 1, 2, 2},
    {"1x1 stride 1, no bias", 2, 8, 9, 9, 12, 1, 1, 1, 1, 0, 0, 1, 1, 1, false},
    {"3x3 dilation 2 pad 2", 2, 8, 11, 11, 8, 3, 3, 1, 1, 2, 2, 2, 2},
    {"3x3 groups 2", 2, 8, 9, 9, 12, 3, 3, 1, 1, 1, 1, 1, 1, 2},
    {"depthwise 3x3 pad 1", 3, 16, 10, 10, 16, 3, 3, 1, 1, 1, 1, 1, 1, 16},
    {"depthwise x2 3x3 stride 2, no bias", 2, 8, 9, 9, 16, 3, 3, 2, 2, 1, 1, 1, 1, 8, false},
    {"3x1 stride (2, 1) pad (1, 0) dilation (1, 2)", 2, 4, 9, 7, 6, 3, 1, 2, 1, 1, 0, 1, 2},
    {"non-contiguous x, w, dy", 3, 8, 10, 11, 16, 3, 3, 1, 2, 1, 1, 1, 1, 2, true, true},
};

Attrs attrs_of(const ConvCase& c) {
  return Attrs()
      .set("stride", std::vector<int64_t>{c.sh, c.sw})
      .set("padding", std::vector<int64_t>{c.ph, c.pw})
      .set("dilation", std::vector<int64_t>{c.dh, c.dw})
      .set("groups", c.groups);
}

// A tensor of `shape` with random values; strided: a transposed view of a copy whose last two dims are swapped.
Tensor make(const Shape& shape, bool strided, DType dt) {
  if (!strided) return randn(shape).to(dt);
  Tensor t = randn({shape[0], shape[1], shape[3], shape[2]}).to(dt).transpose(2, 3);
  REQUIRE(!t.is_contiguous());
  return t;
}

struct Operands {
  Tensor x, w, b, dy;
  Attrs attrs;
};

Operands operands(const ConvCase& c, DType dt) {
  Operands o;
  o.attrs = attrs_of(c);
  const Window2d g = Window2d::conv(o.attrs, c.KH, c.KW);
  o.x = make({c.N, c.C, c.H, c.W}, c.strided, dt);
  o.w = make({c.OC, c.C / c.groups, c.KH, c.KW}, c.strided, dt);
  o.b = c.strided ? randn({c.OC * 2}).to(dt).slice(0, 0, c.OC * 2, 2) : randn({c.OC}).to(dt);
  o.dy = make({c.N, c.OC, g.out_h(c.H), g.out_w(c.W)}, c.strided, dt);
  return o;
}

enum class Pass { Forward, InputGrad, WeightGrad };
const char* pass_name(Pass p) { return p == Pass::Forward ? "forward" : p == Pass::InputGrad ? "dgrad" : "wgrad"; }

Tensor run(ConvBackend backend, Pass p, const ConvCase& c, const Operands& o) {
  cpu::set_conv_backend(backend);
  switch (p) {
    case Pass::Forward:
      return c.bias ? apply(OpKind::conv2d, {o.x, o.w, o.b}, o.attrs) : apply(OpKind::conv2d, {o.x, o.w}, o.attrs);
    case Pass::InputGrad:
      return apply(OpKind::conv2d_input_grad, {o.dy, o.w}, Attrs(o.attrs).set("input_shape", o.x.sizes()));
    default: return apply(OpKind::conv2d_weight_grad, {o.dy, o.x}, Attrs(o.attrs).set("weight_shape", o.w.sizes()));
  }
}

// max |a - b| / max |b|: oneDNN sums in another order (and its own blocking), so float32
// results agree to a few ulps of the largest magnitude, not bit for bit.
double relative_diff(const Tensor& a, const Tensor& b) {
  const std::vector<double> va = values_of(a), vb = values_of(b);
  REQUIRE(va.size() == vb.size());
  double diff = 0, scale = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    diff = std::max(diff, std::abs(va[i] - vb[i]));
    scale = std::max(scale, std::abs(vb[i]));
  }
  return diff / std::max(scale, 1e-30);
}

}  // namespace

TEST_CASE("conv backend: an unknown name is an error naming the accepted values") {
  BackendReset reset;
  EXPECT_ERROR(cpu::set_conv_backend("mkldnn"), "set_conv_backend", "unknown convolution backend 'mkldnn'",
               "expected one of duet, onednn");
  set_env("oneDNN");
  Tensor x = randn({1, 1, 4, 4}), w = randn({1, 1, 3, 3});
  EXPECT_ERROR(conv2d(x, w), "DUET_CONV (environment variable)", "unknown convolution backend 'oneDNN'",
               "expected one of duet, onednn");
  set_env("duet");
  CHECK(cpu::get_conv_backend() == ConvBackend::Duet);
  CHECK(conv2d(x, w).sizes() == Shape{1, 1, 2, 2});
}

TEST_CASE("conv backend: onednn is selected where built, and an error that says how to build it elsewhere") {
  BackendReset reset;
  CHECK(std::string(cpu::conv_backend_name(ConvBackend::OneDNN)) == "onednn");
  CHECK(cpu::conv_backend_available(ConvBackend::Duet));
  if (!cpu::conv_backend_available(ConvBackend::OneDNN)) {
    EXPECT_ERROR(cpu::set_conv_backend("onednn"), "set_conv_backend", "'onednn' was not built", "libdnnl-dev",
                 "DUET_ONEDNN");
    EXPECT_ERROR(cpu::set_conv_backend(ConvBackend::OneDNN), "'onednn' was not built", "libdnnl-dev");
    set_env("onednn");
    EXPECT_ERROR(conv2d(randn({1, 1, 4, 4}), randn({1, 1, 3, 3})), "DUET_CONV (environment variable)",
                 "'onednn' was not built", "libdnnl-dev", "DUET_ONEDNN");
    return;
  }
  cpu::set_conv_backend("onednn");
  CHECK(cpu::get_conv_backend() == ConvBackend::OneDNN);
  set_env("onednn");
  CHECK(cpu::get_conv_backend() == ConvBackend::OneDNN);
  set_env("");  // empty: the default
  CHECK(cpu::get_conv_backend() == ConvBackend::Duet);
}

TEST_CASE("conv backend: cudnn is the CUDA device's, onednn the CPU's; each device keeps duet's otherwise") {
  BackendReset reset;
  EXPECT_ERROR(cpu::set_conv_backend("cudnn"), "set_conv_backend", "'cudnn' runs CUDA tensors",
               "cuda::set_conv_backend");
  EXPECT_ERROR(cuda::set_conv_backend("onednn"), "cuda::set_conv_backend", "'onednn' runs CPU tensors");
  EXPECT_ERROR(cuda::set_conv_backend("cudnnn"), "unknown convolution backend 'cudnnn'",
               "expected one of duet, onednn, cudnn");
  CHECK(std::string(cuda::conv_backend_name(cuda::ConvBackend::Cudnn)) == "cudnn");
  set_env("cudnn");
  Tensor x = randn({1, 1, 4, 4}), w = randn({1, 1, 3, 3});
  if (!cuda::built_with_cuda()) {
    CHECK_FALSE(cuda::conv_backend_available(cuda::ConvBackend::Cudnn));
    EXPECT_ERROR(conv2d(x, w), "DUET_CONV (environment variable)", "'cudnn' needs CUDA");
    EXPECT_ERROR(cuda::set_conv_backend("cudnn"), "cuda::set_conv_backend", "'cudnn' needs CUDA");
    return;
  }
  if (!cuda::cudnn_available()) {
    EXPECT_ERROR(conv2d(x, w), "DUET_CONV (environment variable)", "did not find cuDNN");
    return;
  }
  CHECK(cuda::conv_backend_available(cuda::ConvBackend::Cudnn));
  CHECK(cpu::get_conv_backend() == ConvBackend::Duet);  // the CPU keeps duet's kernels
  CHECK(cuda::get_conv_backend() == cuda::ConvBackend::Cudnn);
  CHECK(conv2d(x, w).sizes() == Shape{1, 1, 2, 2});
  if (cpu::conv_backend_available(ConvBackend::OneDNN)) {
    set_env("onednn");
    CHECK(cpu::get_conv_backend() == ConvBackend::OneDNN);
    CHECK(cuda::get_conv_backend() == cuda::ConvBackend::Duet);
  }
}

TEST_CASE("conv backend: oneDNN's forward, dgrad and wgrad match duet's kernels (float32)") {
  if (skip_without_onednn()) return;
  BackendReset reset;
  manual_seed(11);
  for (const ConvCase& c : kCases) {
    const Operands o = operands(c, DType::Float32);
    for (Pass p : {Pass::Forward, Pass::InputGrad, Pass::WeightGrad}) {
      const Tensor want = run(ConvBackend::Duet, p, c, o);
      const Tensor got = run(ConvBackend::OneDNN, p, c, o);
      REQUIRE(got.sizes() == want.sizes());
      const double rel = relative_diff(got, want);
      CHECK_MESSAGE(rel <= 1e-5, c.name, " ", pass_name(p), ": relative difference ", rel);
    }
  }
}

TEST_CASE("conv backend: plans are kept by shape and thread count; results do not depend on either") {
  if (skip_without_onednn()) return;
  BackendReset reset;
  const int threads = get_num_threads();
  manual_seed(12);
  const ConvCase c = kCases[2];
  const Operands o = operands(c, DType::Float32);
  clear_cache();
  const Tensor first = run(ConvBackend::OneDNN, Pass::Forward, c, o);
  CHECK(cached_plans() == 1);
  CHECK(values_of(run(ConvBackend::OneDNN, Pass::Forward, c, o)) == values_of(first));
  CHECK(cached_plans() == 1);
  set_num_threads(1);
  const Tensor one = run(ConvBackend::OneDNN, Pass::Forward, c, o);
  set_num_threads(threads);
  CHECK(cached_plans() == (threads == 1 ? 1 : 2));
  CHECK(relative_diff(one, first) <= 1e-6);
  const Tensor want = run(ConvBackend::Duet, Pass::Forward, c, o);
  CHECK(relative_diff(one, want) <= 1e-5);
}

TEST_CASE("conv backend: float64 and empty operands run on duet's kernel when onednn is selected") {
  if (skip_without_onednn()) return;
  BackendReset reset;
  manual_seed(13);
  clear_cache();
  const ConvCase c = kCases[9];  // groups 2
  const Operands o = operands(c, DType::Float64);
  for (Pass p : {Pass::Forward, Pass::InputGrad, Pass::WeightGrad})
    CHECK(values_of(run(ConvBackend::OneDNN, p, c, o)) == values_of(run(ConvBackend::Duet, p, c, o)));
  CHECK(cached_plans() == 0);
  // N = 0 in the weight gradient: zeros, from duet's kernel.
  cpu::set_conv_backend(ConvBackend::OneDNN);
  Tensor dw = apply(OpKind::conv2d_weight_grad, {randn({0, 4, 3, 3}), randn({0, 2, 5, 5})},
                    Attrs(attrs_of(kCases[1])).set("weight_shape", Shape{4, 2, 3, 3}));
  CHECK(values_of(dw) == std::vector<double>(size_t(4 * 2 * 9), 0.0));
  CHECK(cached_plans() == 0);
}
