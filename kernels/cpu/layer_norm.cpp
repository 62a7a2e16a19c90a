// CPU kernels of layer normalisation (ops in core/ops.def; shapes in core/ops/layer_norm.cpp).
// x is viewed as R rows of D values (D the product of the normalised trailing dims). Each
// kernel first takes a row's statistics (row_stats: the sum and then the sum of squared
// deviations in double, in kLanes interleaved partial sums added in a fixed order, so they
// vectorize and do not depend on anything but the row), then walks the row again while it
// is in cache:
//   layer_norm                  y = xhat * w + b, xhat = (x - mean) * rstd in T, mean and
//                               rstd = 1 / sqrt(var + eps) rounded to T (PyTorch's order)
//   layer_norm_backward         g = dy * w; dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),
//                               the two means in double
//   layer_norm_backward_affine  [sum over rows of dy * xhat; sum of dy], per column, in
//                               double: rows in fixed chunks of kAffineRows whose partial
//                               sums are added in chunk order (thread-count independent)
// Rows run in parallel; each row is computed by one thread in one order, so results do not
// depend on the thread count. Non-contiguous operands are first gathered (row_major.h).
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/row_major.h"

namespace duet::cpu {
namespace {

constexpr int kLanes = 8;              // interleaved partial sums of a row reduction
constexpr int64_t kAffineRows = 64;    // rows per chunk of the affine gradients

struct Rows {
  int64_t R, D;
  Rows(const Tensor& x, const Attrs& attrs) {
    const int64_t k = attrs.get<int64_t>("normalized_dims");
    D = 1;
    for (int64_t d = x.dim() - k; d < x.dim(); ++d) D *= x.size(d);
    R = D > 0 ? x.numel() / D : 0;
  }
  // Rows per task: about 16K values.
  int64_t grain() const { return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, D)); }
};

// sum_i f(i) over i < n, in kLanes interleaved partial sums added in lane order.
template <typename F>
double lane_sum(int64_t n, const F& f) {
  double acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += f(i + l);
  for (int l = 0; i < n; ++i, ++l) acc[l] += f(i);
  double s = 0;
  for (double a : acc) s += a;
  return s;
}

// One row's mean and 1/std, rounded to T as the kernels use them.
template <typename T>
struct RowStats {
  T mean, rstd;
};
template <typename T>
RowStats<T> row_stats(const T* x, int64_t D, double eps) {
  const double mean = lane_sum(D, [&](int64_t i) { return double(x[i]); }) / double(D);
  const double var = lane_sum(D, [&](int64_t i) {
                       const double d = double(x[i]) - mean;
                       return d * d;
                     }) / double(D);
  return {T(mean), T(1.0 / std::sqrt(var + eps))};
}
template <typename T>
inline T normalized(T x, const RowStats<T>& s) {
  return (x - s.mean) * s.rstd;
}

template <typename T>
void forward(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  const Rows r(in[0], attrs);
  const double eps = attrs.get_number("eps");
  const RowMajor<T> xs(in[0]);
  const RowMajor<T> ws = in.size() > 1 ? RowMajor<T>(in[1]) : RowMajor<T>();
  const RowMajor<T> bs = in.size() > 2 ? RowMajor<T>(in[2]) : RowMajor<T>();
  const T *x = xs.data(), *w = ws.data(), *b = bs.data();
  T* y = out.data<T>();
  parallel_for(0, r.R, r.grain(), [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      const T* xr = x + row * r.D;
      T* yr = y + row * r.D;
      const RowStats<T> s = row_stats(xr, r.D, eps);
      if (w && b)
        for (int64_t i = 0; i < r.D; ++i) yr[i] = normalized(xr[i], s) * w[i] + b[i];
      else if (w)
        for (int64_t i = 0; i < r.D; ++i) yr[i] = normalized(xr[i], s) * w[i];
      else
        for (int64_t i = 0; i < r.D; ++i) yr[i] = normalized(xr[i], s);
    }
  });
}

template <typename T>
void backward(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  const Rows r(in[1], attrs);
  const double eps = attrs.get_number("eps");
  const RowMajor<T> gs(in[0]), xs(in[1]);
  const RowMajor<T> ws = in.size() > 2 ? RowMajor<T>(in[2]) : RowMajor<T>();
  const T *dy = gs.data(), *x = xs.data(), *w = ws.data();
  T* dx = out.data<T>();
  parallel_for(0, r.R, r.grain(), [&](int64_t lo, int64_t hi) {
    std::vector<T> g(size_t(r.D));
    for (int64_t row = lo; row < hi; ++row) {
      const T *xr = x + row * r.D, *gr = dy + row * r.D;
      T* dxr = dx + row * r.D;
      const RowStats<T> s = row_stats(xr, r.D, eps);
      for (int64_t i = 0; i < r.D; ++i) g[size_t(i)] = w ? gr[i] * w[i] : gr[i];
      const double mean_g = lane_sum(r.D, [&](int64_t i) { return double(g[size_t(i)]); }) / double(r.D);
      const double mean_gx =
          lane_sum(r.D, [&](int64_t i) { return double(g[size_t(i)]) * double(normalized(xr[i], s)); }) / double(r.D);
      for (int64_t i = 0; i < r.D; ++i)
        dxr[i] = T(double(s.rstd) * (double(g[size_t(i)]) - mean_g - double(normalized(xr[i], s)) * mean_gx));
    }
  });
}

template <typename T>
void affine(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  const Rows r(in[1], attrs);
  const double eps = attrs.get_number("eps");
  const RowMajor<T> gs(in[0]), xs(in[1]);
  const T *dy = gs.data(), *x = xs.data();
  const int64_t chunks = (r.R + kAffineRows - 1) / kAffineRows, D = r.D;
  std::vector<double> part(size_t(std::max<int64_t>(1, chunks) * 2 * D), 0.0);  // per chunk [2][D]
  parallel_for(0, chunks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t k = lo; k < hi; ++k) {
      double* p = part.data() + k * 2 * D;
      for (int64_t row = k * kAffineRows; row < std::min(r.R, (k + 1) * kAffineRows); ++row) {
        const T *xr = x + row * D, *gr = dy + row * D;
        const RowStats<T> s = row_stats(xr, D, eps);
        for (int64_t i = 0; i < D; ++i) {
          p[i] += double(gr[i]) * double(normalized(xr[i], s));
          p[D + i] += double(gr[i]);
        }
      }
    }
  });
  T* o = out.data<T>();
  for (int64_t i = 0; i < 2 * D; ++i) {
    double s = 0;
    for (int64_t k = 0; k < chunks; ++k) s += part[size_t(k * 2 * D + i)];
    o[i] = T(s);
  }
}

}  // namespace

void layer_norm_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  if (out.dtype() == DType::Float64) forward<double>(in, out, attrs);
  else forward<float>(in, out, attrs);
}

void layer_norm_backward_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  if (out.dtype() == DType::Float64) backward<double>(in, out, attrs);
  else backward<float>(in, out, attrs);
}

void layer_norm_backward_affine_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  if (out.dtype() == DType::Float64) affine<double>(in, out, attrs);
  else affine<float>(in, out, attrs);
}

}  // namespace duet::cpu
