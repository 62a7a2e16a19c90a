// The float32 batch-norm kernels (kernels/cpu/batch_norm.cpp) give the bits of their
// scalar definitions whichever path runs (the AVX-512 loops on a machine that has it):
// statistics and backward_reduce as 16 interleaved double lanes per channel (element s of
// each run into lane s % 16, runs in sample order, lanes added pairwise), the backward
// pass as one double expression per element rounded once. The references below are
// written out independently of the kernels, on shapes whose runs end mid-vector (tails)
// or are shorter than one vector. Every result is rounded from double to float, which
// mostly hides a last-place difference in double (a reordered sum can pass); what the
// bitwise comparison pins is that each element enters the right sum once, under the right
// formula, tails included (a tail mask that lets 8 lanes through fails it).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/dispatch.h"
#include "core/functions.h"
#include "core/generator.h"
#include "tests/test_support.h"

using namespace duet;

namespace {

constexpr int kLanes = 16;
constexpr double kEps = 1e-5;

struct Dims {
  int64_t N, C, S;
};

// Sum over channel c of f(n, s) in the lanes' order.
template <typename F>
double lane_sum(const Dims& d, const F& f) {
  double lane[kLanes] = {};
  for (int64_t n = 0; n < d.N; ++n)
    for (int64_t s = 0; s < d.S; ++s) lane[s % kLanes] += f(n, s);
  for (int w = kLanes / 2; w > 0; w /= 2)
    for (int l = 0; l < w; ++l) lane[l] += lane[l + w];
  return lane[0];
}

std::vector<float> floats(const Tensor& t) {
  const Tensor c = t.contiguous();
  std::vector<float> v(size_t(c.numel()));
  std::memcpy(v.data(), c.data<float>(), v.size() * sizeof(float));
  return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("batch norm float32 kernels: the bits of their scalar definitions") {
  manual_seed(21);
  for (const Shape& shape : {Shape{3, 5, 7, 9}, Shape{4, 3, 40}, Shape{5, 2, 3}, Shape{2, 4, 16}}) {
    CAPTURE(shape.size());
    int64_t S = 1;
    for (size_t i = 2; i < shape.size(); ++i) S *= shape[i];
    const Dims d{shape[0], shape[1], S};
    const Tensor x = randn(shape), dy = randn(shape), weight = randn({d.C});
    const std::vector<float> xv = floats(x), gv = floats(dy), wv = floats(weight);
    const auto at = [&](const std::vector<float>& v, int64_t n, int64_t c, int64_t s) {
      return double(v[size_t((n * d.C + c) * d.S + s)]);
    };
    const double M = double(d.N * d.S);
    const Attrs eps = Attrs().set("eps", kEps);

    // batch_norm_stats: the mean, then the mean of squared deviations.
    const Tensor st = apply(OpKind::batch_norm_stats, {x}, eps);
    std::vector<float> want_st(size_t(2 * d.C));
    for (int64_t c = 0; c < d.C; ++c) {
      const double mean = lane_sum(d, [&](int64_t n, int64_t s) { return at(xv, n, c, s); }) / M;
      const double var = lane_sum(d, [&](int64_t n, int64_t s) {
                           const double v = at(xv, n, c, s) - mean;
                           return v * v;
                         }) / M;
      want_st[size_t(c)] = float(mean), want_st[size_t(d.C + c)] = float(var);
    }
    CHECK(same_bits(floats(st), want_st));

    const Tensor mean = st.select(0, 0), var = st.select(0, 1);
    const std::vector<float> mv = floats(mean), vv = floats(var);
    const auto invstd = [&](int64_t c) { return 1.0 / std::sqrt(double(vv[size_t(c)]) + kEps); };

    // batch_norm_backward_reduce: sum dy, sum dy * xhat.
    const Tensor sums = apply(OpKind::batch_norm_backward_reduce, {dy, x, mean, var}, eps);
    std::vector<float> want_sums(size_t(2 * d.C));
    for (int64_t c = 0; c < d.C; ++c) {
      const double m = mv[size_t(c)], is = invstd(c);
      want_sums[size_t(c)] = float(lane_sum(d, [&](int64_t n, int64_t s) { return at(gv, n, c, s); }));
      want_sums[size_t(d.C + c)] =
          float(lane_sum(d, [&](int64_t n, int64_t s) { return at(gv, n, c, s) * (at(xv, n, c, s) - m) * is; }));
    }
    CHECK(same_bits(floats(sums), want_sums));

    // batch_norm_backward, training and eval.
    const std::vector<float> sv = floats(sums);
    for (bool training : {true, false}) {
      CAPTURE(training);
      const Tensor dx = apply(OpKind::batch_norm_backward, {dy, x, mean, var, weight, sums},
                              Attrs(eps).set("training", training));
      std::vector<float> want(size_t(d.N * d.C * d.S));
      for (int64_t n = 0; n < d.N; ++n)
        for (int64_t c = 0; c < d.C; ++c) {
          const double is = invstd(c), scale = double(wv[size_t(c)]) * is, m = mv[size_t(c)];
          const double mean_dy = double(sv[size_t(c)]) / M, mean_dy_xhat = double(sv[size_t(d.C + c)]) / M;
          for (int64_t s = 0; s < d.S; ++s) {
            const double g = at(gv, n, c, s);
            const double xhat = (at(xv, n, c, s) - m) * is;
            want[size_t((n * d.C + c) * d.S + s)] =
                training ? float(scale * (g - mean_dy - xhat * mean_dy_xhat)) : float(g * scale);
          }
        }
      CHECK(same_bits(floats(dx), want));
    }
  }
}
