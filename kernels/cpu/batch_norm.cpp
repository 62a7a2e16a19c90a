// CPU kernels of batch normalisation (ops in core/ops.def; shapes in core/ops/batch_norm.cpp).
// The input is viewed as (N, C, S), S the product of the dims after the channel; each
// channel's statistics and sums are accumulated in double, one channel per task, so the
// results do not depend on the thread count:
//   batch_norm_stats            mean, then the biased variance as the mean of squared
//                               deviations (two passes: no cancellation)
//   batch_norm                  y = x * scale + shift, scale = weight / sqrt(var + eps),
//                               shift = bias - mean * scale (per channel, in double;
//                               batch_norm.h, shared with graph mode's fused epilogues)
//   batch_norm + relu           the same, rectified as it is stored (graph mode's fusion)
//   batch_norm_backward_reduce  sum dy, sum dy * xhat (xhat = (x - mean) / sqrt(var + eps))
//   batch_norm_backward         training: dx = scale * (dy - sum_dy / M - xhat * sum_dy_xhat / M),
//                               M = N * S; eval: dx = dy * scale
// A non-contiguous input or gradient is first gathered into row-major scratch (a
// channels-last batch pays one copy; v1).
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "kernels/cpu/batch_norm.h"
#include "kernels/cpu/elementwise_ops.h"
#include "kernels/cpu/kernels.h"

namespace duet::cpu {
namespace {

// A tensor's values in row-major order: in place when contiguous, else gathered.
template <typename T>
class RowMajor {
 public:
  explicit RowMajor(const Tensor& t) {
    if (t.is_contiguous()) {
      p_ = t.data<T>();
      return;
    }
    copy_.resize(size_t(t.numel()));
    const int64_t nd = t.dim();
    std::vector<int64_t> idx(size_t(nd), 0);
    const T* src = t.data<T>();
    int64_t off = 0;
    for (T& v : copy_) {
      v = src[off];
      for (int64_t d = nd - 1; d >= 0; --d) {  // odometer step
        if (++idx[size_t(d)] < t.size(d)) {
          off += t.stride(d);
          break;
        }
        off -= t.stride(d) * (t.size(d) - 1);
        idx[size_t(d)] = 0;
      }
    }
    p_ = copy_.data();
  }
  const T* data() const { return p_; }

 private:
  const T* p_ = nullptr;
  std::vector<T> copy_;
};

struct NCS {
  int64_t N, C, S;
  explicit NCS(const Tensor& x) : N(x.size(0)), C(x.size(1)), S(x.dim() > 2 ? x.numel() / std::max<int64_t>(1, N * C) : 1) {
    if (N * C == 0) S = 0;
  }
  int64_t per_channel() const { return N * S; }
};

// One task per channel, each visiting that channel's N runs of S values.
template <typename Fn>
void for_each_channel(const NCS& d, const Fn& fn) {
  parallel_for(0, d.C, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, d.per_channel())),
               [&](int64_t lo, int64_t hi) {
                 for (int64_t c = lo; c < hi; ++c) fn(c);
               });
}

// A [C] vector (any strides) as doubles.
template <typename T>
std::vector<double> channel_values(const Tensor& t) {
  std::vector<double> v(size_t(t.size(0)));
  const T* p = t.data<T>();
  for (int64_t c = 0; c < t.size(0); ++c) v[size_t(c)] = double(p[c * t.stride(0)]);
  return v;
}

template <typename T>
void stats(const Tensor& x, const Tensor& out) {
  const NCS d(x);
  const RowMajor<T> xs(x);
  T* o = out.data<T>();
  for_each_channel(d, [&](int64_t c) {
    double sum = 0;
    for (int64_t n = 0; n < d.N; ++n) {
      const T* run = xs.data() + (n * d.C + c) * d.S;
      for (int64_t s = 0; s < d.S; ++s) sum += double(run[s]);
    }
    const double mean = sum / double(d.per_channel());
    double sq = 0;
    for (int64_t n = 0; n < d.N; ++n) {
      const T* run = xs.data() + (n * d.C + c) * d.S;
      for (int64_t s = 0; s < d.S; ++s) sq += (double(run[s]) - mean) * (double(run[s]) - mean);
    }
    o[c] = T(mean);
    o[d.C + c] = T(sq / double(d.per_channel()));
  });
}

// y = x * scale + shift per channel (batch_norm.h), then eager's relu when `relu`.
template <typename T>
void normalize(std::span<const Tensor> in, const Tensor& out, double eps, bool relu) {
  const Tensor& x = in[0];
  const NCS d(x);
  const RowMajor<T> xs(x);
  const auto affine = batch_norm_affines<T>(in[1], in[2], in[3], in[4], eps);
  T* y = out.data<T>();
  for_each_channel(d, [&](int64_t c) {
    const BatchNormAffine<T> a = affine[size_t(c)];
    for (int64_t n = 0; n < d.N; ++n) {
      const int64_t base = (n * d.C + c) * d.S;
      if (relu) {
        for (int64_t s = 0; s < d.S; ++s) y[base + s] = ew::ReluOp{}(batch_norm_apply(xs.data()[base + s], a));
      } else {
        for (int64_t s = 0; s < d.S; ++s) y[base + s] = batch_norm_apply(xs.data()[base + s], a);
      }
    }
  });
}

template <typename T>
void backward_reduce(std::span<const Tensor> in, const Tensor& out, double eps) {
  const Tensor &dy = in[0], &x = in[1];
  const NCS d(x);
  const RowMajor<T> gs(dy), xs(x);
  const auto mean = channel_values<T>(in[2]), var = channel_values<T>(in[3]);
  T* o = out.data<T>();
  for_each_channel(d, [&](int64_t c) {
    const double m = mean[size_t(c)], invstd = 1.0 / std::sqrt(var[size_t(c)] + eps);
    double sum_dy = 0, sum_dy_xhat = 0;
    for (int64_t n = 0; n < d.N; ++n) {
      const int64_t base = (n * d.C + c) * d.S;
      for (int64_t s = 0; s < d.S; ++s) {
        const double g = double(gs.data()[base + s]);
        sum_dy += g;
        sum_dy_xhat += g * (double(xs.data()[base + s]) - m) * invstd;
      }
    }
    o[c] = T(sum_dy);
    o[d.C + c] = T(sum_dy_xhat);
  });
}

template <typename T>
void backward(std::span<const Tensor> in, const Tensor& out, double eps, bool training) {
  const Tensor &dy = in[0], &x = in[1];
  const NCS d(x);
  const RowMajor<T> gs(dy), xs(x);
  const auto mean = channel_values<T>(in[2]), var = channel_values<T>(in[3]), weight = channel_values<T>(in[4]);
  const Tensor& sums = in[5];
  const T* sp = sums.data<T>();
  T* dx = out.data<T>();
  const double M = double(d.per_channel());
  for_each_channel(d, [&](int64_t c) {
    const double invstd = 1.0 / std::sqrt(var[size_t(c)] + eps), scale = weight[size_t(c)] * invstd;
    const double m = mean[size_t(c)];
    const double mean_dy = training ? double(sp[c * sums.stride(1)]) / M : 0.0;
    const double mean_dy_xhat = training ? double(sp[sums.stride(0) + c * sums.stride(1)]) / M : 0.0;
    for (int64_t n = 0; n < d.N; ++n) {
      const int64_t base = (n * d.C + c) * d.S;
      for (int64_t s = 0; s < d.S; ++s) {
        const double g = double(gs.data()[base + s]);
        if (!training) {
          dx[base + s] = T(g * scale);
          continue;
        }
        const double xhat = (double(xs.data()[base + s]) - m) * invstd;
        dx[base + s] = T(scale * (g - mean_dy - xhat * mean_dy_xhat));
      }
    }
  });
}

template <typename Body>
void float_types(const Tensor& out, const Body& body) {
  if (out.dtype() == DType::Float64) body(double{});
  else body(float{});
}

}  // namespace

void batch_norm_stats_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs&) {
  float_types(out, [&]<typename T>(T) { stats<T>(in[0], out); });
}
void batch_norm_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  const double eps = attrs.get_number("eps");
  float_types(out, [&]<typename T>(T) { normalize<T>(in, out, eps, false); });
}
void batch_norm_relu_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  const double eps = attrs.get_number("eps");
  float_types(out, [&]<typename T>(T) { normalize<T>(in, out, eps, true); });
}
void batch_norm_backward_reduce_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  const double eps = attrs.get_number("eps");
  float_types(out, [&]<typename T>(T) { backward_reduce<T>(in, out, eps); });
}
void batch_norm_backward_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  const double eps = attrs.get_number("eps");
  const bool training = attrs.get<bool>("training");
  float_types(out, [&]<typename T>(T) { backward<T>(in, out, eps, training); });
}

}  // namespace duet::cpu
