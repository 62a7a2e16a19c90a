// Reference layer normalisation (reference_layer_norm.h).
#include "tests/reference/reference_layer_norm.h"

#include <cmath>

namespace duet::ref {
namespace {

struct Rows {
  int64_t R = 0, D = 1;
};
Rows rows_of(const RefTensor& x, int64_t k) {
  Rows r;
  for (int64_t d = x.dim() - k; d < x.dim(); ++d) r.D *= x.shape[size_t(d)];
  r.R = r.D > 0 ? x.numel() / r.D : 0;
  return r;
}

// Row r's mean and 1 / sqrt(biased variance + eps).
std::pair<double, double> row_stats(const RefTensor& x, const Rows& s, int64_t r, double eps) {
  double mean = 0, var = 0;
  for (int64_t i = 0; i < s.D; ++i) mean += x.v[size_t(r * s.D + i)];
  mean /= double(s.D);
  for (int64_t i = 0; i < s.D; ++i) var += std::pow(x.v[size_t(r * s.D + i)] - mean, 2);
  return {mean, 1 / std::sqrt(var / double(s.D) + eps)};
}

}  // namespace

RefTensor layer_norm(const RefTensor& x, const RefTensor* weight, const RefTensor* bias, int64_t k, double eps) {
  const Rows s = rows_of(x, k);
  RefTensor y = zeros_with_scale(x.shape, x.dtype);
  for (int64_t r = 0; r < s.R; ++r) {
    const auto [mean, rstd] = row_stats(x, s, r, eps);
    for (int64_t i = 0; i < s.D; ++i) {
      const size_t e = size_t(r * s.D + i);
      const double w = weight ? weight->v[size_t(i)] : 1, b = bias ? bias->v[size_t(i)] : 0;
      const double t = (x.v[e] - mean) * rstd * w;
      y.v[e] = t + b;
      // Rounding the mean to the dtype moves xhat by up to |mean| rstd ulp.
      y.scale[e] = std::abs(t) + std::abs(b) + std::abs(mean * rstd * w);
    }
  }
  return y;
}

RefTensor layer_norm_backward(const RefTensor& dy, const RefTensor& x, const RefTensor* weight, int64_t k, double eps) {
  const Rows s = rows_of(x, k);
  RefTensor dx = zeros_with_scale(x.shape, x.dtype);
  for (int64_t r = 0; r < s.R; ++r) {
    const auto [mean, rstd] = row_stats(x, s, r, eps);
    double mg = 0, mgx = 0, mag = 0, magx = 0;
    for (int64_t i = 0; i < s.D; ++i) {
      const size_t e = size_t(r * s.D + i);
      const double g = dy.v[e] * (weight ? weight->v[size_t(i)] : 1), xhat = (x.v[e] - mean) * rstd;
      mg += g / double(s.D), mgx += g * xhat / double(s.D);
      mag += std::abs(g) / double(s.D), magx += std::abs(g * xhat) / double(s.D);
    }
    for (int64_t i = 0; i < s.D; ++i) {
      const size_t e = size_t(r * s.D + i);
      const double g = dy.v[e] * (weight ? weight->v[size_t(i)] : 1), xhat = (x.v[e] - mean) * rstd;
      dx.v[e] = rstd * (g - mg - xhat * mgx);
      dx.scale[e] = rstd * (std::abs(g) + mag + (std::abs(xhat) + std::abs(mean * rstd)) * magx);
    }
  }
  return dx;
}

RefTensor layer_norm_backward_affine(const RefTensor& dy, const RefTensor& x, int64_t k, double eps) {
  const Rows s = rows_of(x, k);
  RefTensor out = zeros_with_scale({2, s.D}, x.dtype);
  for (int64_t r = 0; r < s.R; ++r) {
    const auto [mean, rstd] = row_stats(x, s, r, eps);
    for (int64_t i = 0; i < s.D; ++i) {
      const size_t e = size_t(r * s.D + i), j = size_t(i);
      const double g = dy.v[e], xhat = (x.v[e] - mean) * rstd;
      out.v[j] += g * xhat;
      out.scale[j] += std::abs(g) * (std::abs(xhat) + std::abs(mean * rstd));
      out.v[size_t(s.D) + j] += g;
      out.scale[size_t(s.D) + j] += std::abs(g);
    }
  }
  return out;
}

}  // namespace duet::ref
