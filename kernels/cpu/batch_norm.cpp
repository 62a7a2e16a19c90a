// CPU kernels of batch normalisation (ops in core/ops.def; shapes in core/ops/batch_norm.cpp).
// The input is viewed as (N, C, S), S the product of the dims after the channel. Each
// channel's statistics and sums are accumulated in double, one channel per task, in
// kSumLanes interleaved partial sums (element s of a run into lane s % kSumLanes, the lanes
// added in a fixed order at the end), so the results do not depend on the thread count and
// the sums vectorize: one running double sum was a chain of dependent adds, ~4 cycles an
// element (measured: the two reductions were 6% of a fashion-resnet training step). The
// elementwise passes (normalise, backward) walk the runs in memory order instead, which
// the hardware prefetchers follow better than a channel's runs strided N times through
// the tensor:
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
#include <immintrin.h>

#include <cmath>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/parallel.h"
#include "kernels/cpu/batch_norm.h"
#include "kernels/cpu/elementwise_ops.h"
#include "kernels/cpu/elementwise_simd.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/row_major.h"

// GCC 12 reports false (maybe-)uninitialized warnings from inside its own AVX-512
// intrinsic headers (the "undefined" source operand of the unmasked forms).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace duet::cpu {
namespace {

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
// fn(c, base) for every run (n, c) in memory order, base = (n C + c) S, in parallel.
template <typename Fn>
void for_each_run(const NCS& d, const Fn& fn) {
  parallel_for(0, d.N * d.C, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, d.S)), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) fn(r % d.C, r * d.S);
  });
}

// The run a channel's walk reads a few runs after (n, c), to prefetch while summing run n:
// the hardware prefetchers lose the stream at every jump of C x S floats between a
// channel's runs, and the sums waited on memory at ~20 GB/s. At least 2 KB ahead; null
// past the last sample.
template <typename T>
const T* run_ahead(const NCS& d, const T* data, int64_t n, int64_t c) {
  const int64_t ahead = n + std::max<int64_t>(1, 512 / std::max<int64_t>(1, d.S));
  return ahead < d.N ? data + (ahead * d.C + c) * d.S : nullptr;
}

// Sums in kSumLanes interleaved lanes: add(run, S, f) adds f(run[s]) into lane s % kSumLanes.
// (32 lanes, four chains of 8-double vectors instead of two, measured no faster: the
// channel-by-channel walk, not the adds' latency, holds the statistics pass to ~20 GB/s.)
constexpr int kSumLanes = 16;
struct LaneSum {
  double lane[kSumLanes] = {};
  template <typename T, typename F>
  void add(const T* run, int64_t S, const F& f, int64_t s = 0) {
    for (; s + kSumLanes <= S; s += kSumLanes)
#pragma GCC unroll 16
      for (int l = 0; l < kSumLanes; ++l) lane[l] += f(double(run[s + l]));
    for (int l = 0; s < S; ++s, ++l) lane[l] += f(double(run[s]));
  }
  double total() const {  // pairwise, in a fixed order
    double t[kSumLanes];
    for (int l = 0; l < kSumLanes; ++l) t[l] = lane[l];
    for (int w = kSumLanes / 2; w > 0; w /= 2)
      for (int l = 0; l < w; ++l) t[l] += t[l + w];
    return t[0];
  }
};
// 8 floats from p (the lanes of m; others 0) as 8 doubles.
DUET_TARGET_AVX512 inline __m512d load8_pd(const float* p, __mmask8 m) {
  return _mm512_cvtps_pd(_mm512_castps512_ps256(_mm512_maskz_loadu_ps(__mmask16(m), p)));
}
// The lanes of elements s + 8 j .. s + 8 j + 7 that a run of S has.
inline __mmask8 run_mask(int64_t s, int64_t S, int j) {
  const int64_t t = S - s - 8 * j;
  return t >= 8 ? __mmask8(0xff) : t <= 0 ? __mmask8(0) : __mmask8((1u << t) - 1);
}
constexpr int kSumVectors = kSumLanes / 8;  // zmm of 8 doubles per set of lanes

// backward_reduce's two sums over one run of float dy (g) and x, kSumLanes lanes at a time
// in zmm of 8 doubles: lane l gets g and (g * (x - m)) * invstd in double, the scalar
// loop's operations in the scalar loop's order, so the bits are the same; the tail (fewer
// than kSumLanes elements, into lanes from 0) is added under a mask, which leaves the
// other lanes' bits alone.
DUET_TARGET_AVX512 void reduce_dy_xhat_avx512(const float* g, const float* x, int64_t S, double m, double invstd,
                                              double* first, double* second, const float* g_ahead,
                                              const float* x_ahead) {
  __m512d f[kSumVectors], sc[kSumVectors];
  for (int j = 0; j < kSumVectors; ++j) f[j] = _mm512_loadu_pd(first + 8 * j), sc[j] = _mm512_loadu_pd(second + 8 * j);
  const __m512d vm = _mm512_set1_pd(m), vi = _mm512_set1_pd(invstd);
  for (int64_t s = 0; s < S; s += kSumLanes) {
    if (g_ahead) {
      _mm_prefetch(reinterpret_cast<const char*>(g_ahead + s), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(x_ahead + s), _MM_HINT_T0);
    }
#pragma GCC unroll 8
    for (int j = 0; j < kSumVectors; ++j) {
      const __mmask8 k = run_mask(s, S, j);
      const __m512d gj = load8_pd(g + s + 8 * j, k), xj = load8_pd(x + s + 8 * j, k);
      f[j] = _mm512_mask_add_pd(f[j], k, f[j], gj);
      sc[j] = _mm512_mask_add_pd(sc[j], k, sc[j], _mm512_mul_pd(_mm512_mul_pd(gj, _mm512_sub_pd(xj, vm)), vi));
    }
  }
  for (int j = 0; j < kSumVectors; ++j) _mm512_storeu_pd(first + 8 * j, f[j]), _mm512_storeu_pd(second + 8 * j, sc[j]);
}

// LaneSum's two statistics passes over one float run in zmm of 8 doubles: lane l += v
// (centred = false) or (v - mean) * (v - mean) (centred), the scalar loop's operations in
// its order, the tail under a mask as above.
DUET_TARGET_AVX512 void lane_sum_avx512(const float* x, int64_t S, bool centred, double mean, double* lane,
                                        const float* ahead) {
  __m512d a[kSumVectors];
  for (int j = 0; j < kSumVectors; ++j) a[j] = _mm512_loadu_pd(lane + 8 * j);
  const __m512d vm = _mm512_set1_pd(mean);
  for (int64_t s = 0; s < S; s += kSumLanes) {
    if (ahead) _mm_prefetch(reinterpret_cast<const char*>(ahead + s), _MM_HINT_T0);
#pragma GCC unroll 8
    for (int j = 0; j < kSumVectors; ++j) {
      const __mmask8 k = run_mask(s, S, j);
      __m512d v = load8_pd(x + s + 8 * j, k);
      if (centred) v = _mm512_sub_pd(v, vm), v = _mm512_mul_pd(v, v);
      a[j] = _mm512_mask_add_pd(a[j], k, a[j], v);
    }
  }
  for (int j = 0; j < kSumVectors; ++j) _mm512_storeu_pd(lane + 8 * j, a[j]);
}

// One float run of batch_norm_backward, 8 elements at a time in double with the scalar
// loop's operations in its order: training dx = scale * ((g - mean_dy) - xhat *
// mean_dy_xhat), xhat = (x - m) * invstd; eval dx = g * scale; each rounded to float once.
// The tail runs under a mask, so the whole run is done here.
struct BackwardCoefficients {
  double m, invstd, scale, mean_dy, mean_dy_xhat;
};
DUET_TARGET_AVX512 void backward_run_avx512(const float* g, const float* x, float* dx, int64_t S,
                                            const BackwardCoefficients& k, bool training) {
  const __m512d m = _mm512_set1_pd(k.m), invstd = _mm512_set1_pd(k.invstd), scale = _mm512_set1_pd(k.scale);
  const __m512d mdy = _mm512_set1_pd(k.mean_dy), mdyx = _mm512_set1_pd(k.mean_dy_xhat);
  for (int64_t s = 0; s < S; s += 8) {
    const __mmask8 mask = S - s >= 8 ? __mmask8(0xff) : __mmask8((1u << (S - s)) - 1);
    const __m512d gd = load8_pd(g + s, mask);
    __m512d r;
    if (training) {
      const __m512d xd = load8_pd(x + s, mask);
      const __m512d xhat = _mm512_mul_pd(_mm512_sub_pd(xd, m), invstd);
      r = _mm512_mul_pd(scale, _mm512_sub_pd(_mm512_sub_pd(gd, mdy), _mm512_mul_pd(xhat, mdyx)));
    } else {
      r = _mm512_mul_pd(gd, scale);
    }
    _mm512_mask_storeu_ps(dx + s, __mmask16(mask), _mm512_castps256_ps512(_mm512_cvtpd_ps(r)));
  }
}

// Two sums over paired runs: add(a, b, S, f) adds f(a[s], b[s]) -> {first, second}.
struct LaneSum2 {
  LaneSum first, second;
  template <typename T, typename F>
  void add(const T* a, const T* b, int64_t S, const F& f, int64_t s = 0) {
    for (; s + kSumLanes <= S; s += kSumLanes)
#pragma GCC unroll 16
      for (int l = 0; l < kSumLanes; ++l) {
        const auto [u, v] = f(double(a[s + l]), double(b[s + l]));
        first.lane[l] += u;
        second.lane[l] += v;
      }
    for (int l = 0; s < S; ++s, ++l) {
      const auto [u, v] = f(double(a[s]), double(b[s]));
      first.lane[l] += u;
      second.lane[l] += v;
    }
  }
};

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
  const bool simd = std::is_same_v<T, float> && ew::has_avx512();
  for_each_channel(d, [&](int64_t c) {
    LaneSum sum;
    for (int64_t n = 0; n < d.N; ++n) {
      const T* run = xs.data() + (n * d.C + c) * d.S;
      if constexpr (std::is_same_v<T, float>)
        if (simd) {
          lane_sum_avx512(run, d.S, false, 0.0, sum.lane, run_ahead(d, xs.data(), n, c));
          continue;
        }
      sum.add(run, d.S, [](double v) { return v; });
    }
    const double mean = sum.total() / double(d.per_channel());
    LaneSum sq;
    for (int64_t n = 0; n < d.N; ++n) {
      const T* run = xs.data() + (n * d.C + c) * d.S;
      if constexpr (std::is_same_v<T, float>)
        if (simd) {
          lane_sum_avx512(run, d.S, true, mean, sq.lane, run_ahead(d, xs.data(), n, c));
          continue;
        }
      sq.add(run, d.S, [mean](double v) { return (v - mean) * (v - mean); });
    }
    o[c] = T(mean);
    o[d.C + c] = T(sq.total() / double(d.per_channel()));
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
  for_each_run(d, [&](int64_t c, int64_t base) {
    const BatchNormAffine<T> a = affine[size_t(c)];
    if (relu) {
      for (int64_t s = 0; s < d.S; ++s) y[base + s] = ew::ReluOp{}(batch_norm_apply(xs.data()[base + s], a));
    } else {
      for (int64_t s = 0; s < d.S; ++s) y[base + s] = batch_norm_apply(xs.data()[base + s], a);
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
    LaneSum2 sums;
    for (int64_t n = 0; n < d.N; ++n) {
      const int64_t base = (n * d.C + c) * d.S;
      if constexpr (std::is_same_v<T, float>)
        if (ew::has_avx512()) {
          reduce_dy_xhat_avx512(gs.data() + base, xs.data() + base, d.S, m, invstd, sums.first.lane,
                                sums.second.lane, run_ahead(d, gs.data(), n, c), run_ahead(d, xs.data(), n, c));
          continue;
        }
      sums.add(gs.data() + base, xs.data() + base, d.S, [m, invstd](double g, double x) {
        return std::pair<double, double>(g, g * (x - m) * invstd);
      });
    }
    o[c] = T(sums.first.total());
    o[d.C + c] = T(sums.second.total());
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
  for_each_run(d, [&](int64_t c, int64_t base) {
    const double invstd = 1.0 / std::sqrt(var[size_t(c)] + eps), scale = weight[size_t(c)] * invstd;
    const double m = mean[size_t(c)];
    const double mean_dy = training ? double(sp[c * sums.stride(1)]) / M : 0.0;
    const double mean_dy_xhat = training ? double(sp[sums.stride(0) + c * sums.stride(1)]) / M : 0.0;
    if constexpr (std::is_same_v<T, float>)
      if (ew::has_avx512()) {
        backward_run_avx512(gs.data() + base, xs.data() + base, dx + base, d.S, {m, invstd, scale, mean_dy, mean_dy_xhat},
                            training);
        return;
      }
    for (int64_t s = 0; s < d.S; ++s) {
      const double g = double(gs.data()[base + s]);
      if (!training) {
        dx[base + s] = T(g * scale);
        continue;
      }
      const double xhat = (double(xs.data()[base + s]) - m) * invstd;
      dx[base + s] = T(scale * (g - mean_dy - xhat * mean_dy_xhat));
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
