// Reference batch normalisation (reference_batch_norm.h).
#include "tests/reference/reference_batch_norm.h"

#include <cmath>

namespace duet::ref {
namespace {

// The channel of row-major element i of an (N, C, ...) tensor.
int64_t channel_of(const RefTensor& x, int64_t i) {
  int64_t inner = 1;
  for (size_t d = 2; d < x.shape.size(); ++d) inner *= x.shape[d];
  return (i / inner) % x.shape[1];
}

RefTensor with_shape(Shape shape, DType dt) {
  RefTensor r;
  r.v.assign(size_t(numel(shape)), 0.0);
  r.shape = std::move(shape);
  r.dtype = dt;
  return r;
}

}  // namespace

RefTensor batch_norm_stats(const RefTensor& x) {
  const int64_t C = x.shape[1];
  RefTensor r = with_shape({2, C}, x.dtype);
  std::vector<double> count(size_t(C), 0);
  for (int64_t i = 0; i < x.numel(); ++i) r.v[size_t(channel_of(x, i))] += x.v[size_t(i)], count[size_t(channel_of(x, i))] += 1;
  for (int64_t c = 0; c < C; ++c) r.v[size_t(c)] /= count[size_t(c)];
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t c = channel_of(x, i);
    const double d = x.v[size_t(i)] - r.v[size_t(c)];
    r.v[size_t(C + c)] += d * d / count[size_t(c)];
  }
  return r;
}

RefTensor batch_norm(const RefTensor& x, const RefTensor& mean, const RefTensor& var, const RefTensor& weight,
                     const RefTensor& bias, double eps) {
  RefTensor y = with_shape(x.shape, x.dtype);
  y.scale.resize(y.v.size());
  for (int64_t i = 0; i < x.numel(); ++i) {
    const size_t c = size_t(channel_of(x, i));
    const double t = (x.v[size_t(i)] - mean.v[c]) / std::sqrt(var.v[c] + eps) * weight.v[c];
    y.v[size_t(i)] = t + bias.v[c];
    y.scale[size_t(i)] = std::abs(t) + std::abs(bias.v[c]) + std::abs(mean.v[c] * weight.v[c] / std::sqrt(var.v[c] + eps));
  }
  return y;
}

RefTensor batch_norm_backward_reduce(const RefTensor& dy, const RefTensor& x, const RefTensor& mean,
                                     const RefTensor& var, double eps) {
  const int64_t C = x.shape[1];
  RefTensor r = with_shape({2, C}, x.dtype);
  r.scale.assign(r.v.size(), 0.0);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t c = channel_of(x, i);
    const double g = dy.v[size_t(i)], xhat = (x.v[size_t(i)] - mean.v[size_t(c)]) / std::sqrt(var.v[size_t(c)] + eps);
    r.v[size_t(c)] += g;
    r.scale[size_t(c)] += std::abs(g);
    r.v[size_t(C + c)] += g * xhat;
    r.scale[size_t(C + c)] += std::abs(g * xhat);
  }
  return r;
}

RefTensor batch_norm_backward(const RefTensor& dy, const RefTensor& x, const RefTensor& mean, const RefTensor& var,
                              const RefTensor& weight, const RefTensor& sums, double eps, bool training) {
  const int64_t C = x.shape[1];
  const double M = double(x.numel() / C);
  RefTensor dx = with_shape(x.shape, x.dtype);
  dx.scale.resize(dx.v.size());
  for (int64_t i = 0; i < x.numel(); ++i) {
    const size_t c = size_t(channel_of(x, i));
    const double invstd = 1 / std::sqrt(var.v[c] + eps), g = dy.v[size_t(i)];
    const double xhat = (x.v[size_t(i)] - mean.v[c]) * invstd;
    const double a = training ? sums.v[c] / M : 0, b = training ? xhat * sums.v[size_t(C) + c] / M : 0;
    dx.v[size_t(i)] = weight.v[c] * invstd * (g - a - b);
    dx.scale[size_t(i)] = std::abs(weight.v[c] * invstd) * (std::abs(g) + std::abs(a) + std::abs(b));
  }
  return dx;
}

}  // namespace duet::ref
