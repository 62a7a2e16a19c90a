// CPU kernels of 2-D pooling (NCHW, float32/float64) and their gradients, one (n, c)
// plane per task: max_pool2d (NaN wins and the last NaN holds the gradient, the first
// maximum wins a tie, as in PyTorch), avg_pool2d (count_include_pad decides whether padding counts in the
// divisor) and adaptive_avg_pool2d (window [floor(i * in / out), ceil((i + 1) * in / out))).
// max_pool2d_backward finds each window's maximum again from x instead of keeping
// indices, so the op stays one tensor in and one out; the gradient goes to that element.
// Inputs are read with their strides; results are contiguous.
//
// Versions and figures (2-core VM, float32, µs per call, median of 30, machine loaded by
// other builds, so ratios only; `duet_bench --benchmark_filter=pool/` has the layers):
//                                       v1 (general window loop)   v2 (this file)
//   64x6x28x28 2x2/2 (LeNet pool1)  fwd      2018 / bwd 2002          122 / 177
//   64x16x10x10 2x2/2 (LeNet pool2) fwd       736 / bwd  743          261 / 391
//   128x16x28x28 3x3/2 pad 1        fwd     25248 / bwd 25422        3073 / 11112
// v1 ran every window through bounds checks and a compare-and-branch that mispredicts on
// real data; v2 runs interior windows branch-free and 8 at a time (Note [Interior windows]).
// Rows as narrow as LeNet pool2's (5 outputs) stay on the scalar interior path.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include <immintrin.h>

#include "core/ops/conv_geometry.h"
#include "core/parallel.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/kernels.h"

namespace duet::cpu {
namespace {

// A strided (N, C, H, W) tensor's plane (n, c).
template <typename T>
struct Plane {
  const T* p;
  int64_t sh, sw;
  T at(int64_t h, int64_t w) const { return p[h * sh + w * sw]; }
};
template <typename T>
Plane<T> plane(const Tensor& t, int64_t nc) {
  const int64_t n = nc / t.size(1), c = nc % t.size(1);
  return {t.data<T>() + n * t.stride(0) + c * t.stride(1), t.stride(2), t.stride(3)};
}

// Calls fn(nc) for each of the N * C planes, in parallel.
template <typename Fn>
void for_each_plane(int64_t planes, int64_t plane_work, const Fn& fn) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, plane_work));
  parallel_for(0, planes, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t nc = lo; nc < hi; ++nc) fn(nc);
  });
}

// The position (h * W + w) of the maximum of window (oh, ow) of plane x.
template <typename T>
int64_t window_argmax(const Plane<T>& x, int64_t H, int64_t W, const Window2d& g, int64_t oh, int64_t ow) {
  const int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  int64_t best = -1;
  T best_v = -std::numeric_limits<T>::infinity();
  for (int64_t i = 0; i < g.kh; ++i) {
    const int64_t h = h0 + i * g.dh;
    if (h < 0 || h >= H) continue;
    for (int64_t j = 0; j < g.kw; ++j) {
      const int64_t w = w0 + j * g.dw;
      if (w < 0 || w >= W) continue;
      const T v = x.at(h, w);
      if (best < 0) best = h * W + w;  // an all -inf window: its first element
      if (v > best_v || std::isnan(v)) {  // after a NaN only a later NaN moves it, as in PyTorch
        best_v = v;
        best = h * W + w;
      }
    }
  }
  return best;
}

// Note [Interior windows]: most windows lie wholly inside the plane (with 2x2 / stride 2
// and no padding, all do). For those the kernels skip window_argmax's bounds checks and run
// the same rule (the first element, then each later one that is greater or NaN) over
// fixed offsets; 2- and 3-wide float32 windows at stride 2 on contiguous rows take an AVX2
// path that applies that rule to 8 outputs at once. The rows and columns whose windows
// touch the border keep the general path. Either way a result is the element the
// general rule picks, so values (NaN payloads included) do not depend on the path.

// The output columns [lo, hi) whose windows lie inside [0, W) horizontally (and likewise
// for rows with the vertical geometry).
struct Span {
  int64_t lo, hi;
};
Span interior(int64_t out, int64_t in, int64_t stride, int64_t pad, int64_t k, int64_t dil) {
  const int64_t extent = (k - 1) * dil + 1;
  int64_t lo = (pad + stride - 1) / stride;  // first o with o * stride - pad >= 0
  int64_t hi = in - extent + pad < 0 ? 0 : (in - extent + pad) / stride + 1;  // o * stride - pad + extent <= in
  lo = std::min(lo, out), hi = std::clamp(hi, lo, out);
  return {lo, hi};
}

// The window position (i * kw + j) of the element the max rule picks, in a window whose
// elements lie at w[offsets[k]]; N > 0 fixes n at compile time (unrolled 2x2 and 3x3).
template <typename T, int64_t N = 0>
int64_t interior_argmax(const T* w, const int64_t* offsets, int64_t n) {
  if constexpr (N > 0) n = N;
  // Selects through bit masks, not branches: which element wins is data without a pattern
  // (a compare-and-branch mispredicts about half the time on real activations).
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  T m = w[0];
  Bits mb = std::bit_cast<Bits>(m);
  int64_t best = 0;
  for (int64_t k = 1; k < n; ++k) {
    const T v = w[offsets[k]];
    const bool take = (v > m) | (v != v);
    const Bits vmask = Bits(0) - Bits(take);
    const int64_t kmask = -int64_t(take);
    mb = (std::bit_cast<Bits>(v) & vmask) | (mb & ~vmask);
    m = std::bit_cast<T>(mb);
    best = (k & kmask) | (best & ~kmask);
  }
  return best;
}

template <typename T>
int64_t window_argmax_any(const T* w, const std::vector<int64_t>& off) {
  if (off.size() == 4) return interior_argmax<T, 4>(w, off.data(), 4);
  if (off.size() == 9) return interior_argmax<T, 9>(w, off.data(), 9);
  return interior_argmax(w, off.data(), int64_t(off.size()));
}

// Element offsets of a window's kh * kw elements in window order, for a plane's strides.
template <typename T>
std::vector<int64_t> window_offsets(const Plane<T>& x, const Window2d& g) {
  std::vector<int64_t> off;
  for (int64_t i = 0; i < g.kh; ++i)
    for (int64_t j = 0; j < g.kw; ++j) off.push_back(i * g.dh * x.sh + j * g.dw * x.sw);
  return off;
}

// Whether the AVX2 rows apply: float32, contiguous rows, stride 2, width 2 or 3, no dilation.
template <typename T>
bool simd_rows(const Plane<T>& x, const Window2d& g) {
  return std::is_same_v<T, float> && x.sw == 1 && g.sw == 2 && g.dw == 1 && (g.kw == 2 || g.kw == 3) &&
         has_avx2_fma();
}

// The max rule over 8 windows at once: m keeps its lane unless v is greater or NaN.
// The max rule over 8 windows at once: a lane of m takes v where v is greater or NaN, and
// `at` records the window position q it came from.
DUET_TARGET_AVX2 inline void max_rule(__m256& m, __m256& at, __m256 v, int64_t q) {
  const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  m = _mm256_blendv_ps(m, v, take);
  at = _mm256_blendv_ps(at, _mm256_set1_ps(float(q)), take);
}
// g where the window picked position q, else 0; as 0 + term (see max_8_windows_backward).
DUET_TARGET_AVX2 inline __m256 grad_term(__m256 at, int q, __m256 g) {
  return _mm256_add_ps(_mm256_setzero_ps(), _mm256_and_ps(_mm256_cmp_ps(at, _mm256_set1_ps(float(q)), _CMP_EQ_OQ), g));
}

// Elements 0, 2, ..., 14 of p[0..15].
DUET_TARGET_AVX2 inline __m256 evens(const float* p) {
  const __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
  return _mm256_castpd_ps(
      _mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))), 0xD8));
}
DUET_TARGET_AVX2 inline __m256 odds(const float* p) {
  const __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
  return _mm256_castpd_ps(
      _mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))), 0xD8));
}

// Elements 2, 4, ..., 16 of p[0..16], from evens(p) shifted down a lane: reads no further
// than the last window does.
DUET_TARGET_AVX2 inline __m256 evens_from_2(__m256 even, const float* p) {
  const __m256 shifted = _mm256_permutevar8x32_ps(even, _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 7));
  return _mm256_blend_ps(shifted, _mm256_broadcast_ss(p + 16), 0x80);
}

// Outputs [ow, ow + 8) of an interior row whose windows start at `w` (column ow * 2 - pw);
// reads w[0 .. 13 + kw] of each window row, the 8 windows' own elements. With `sel`, also
// each window's position (i * kw + j) of the element picked, for the backward pass.
DUET_TARGET_AVX2 void max_8_windows(const float* w, const Window2d& g, int64_t row_stride, float* dst,
                                    int32_t* sel = nullptr) {
  __m256 m = evens(w), at = _mm256_setzero_ps();
  for (int64_t i = 0; i < g.kh; ++i) {
    const float* r = w + i * g.dh * row_stride;
    const __m256 e = evens(r);
    if (i > 0) max_rule(m, at, e, i * g.kw);
    max_rule(m, at, odds(r), i * g.kw + 1);
    if (g.kw == 3) max_rule(m, at, evens_from_2(e, r), i * g.kw + 2);
  }
  _mm256_storeu_ps(dst, m);
  if (sel) _mm256_storeu_si256(reinterpret_cast<__m256i*>(sel), _mm256_cvttps_epi32(at));
}

// The gradient of 8 interior 2x2 / stride-2 windows (disjoint, so every element of their
// two rows gets at most one term): each window's dy goes to the element the forward rule
// picks, the other three get 0. Computed as 0 + term, as the scalar path's fill-then-add,
// so a -0 gradient lands as +0 there too.
DUET_TARGET_AVX2 void max_8_windows_backward(const float* w, int64_t row_stride, const float* gy, float* dx,
                                             int64_t dx_row_stride) {
  __m256 m = evens(w), at = _mm256_setzero_ps();
  max_rule(m, at, odds(w), 1);
  max_rule(m, at, evens(w + row_stride), 2);
  max_rule(m, at, odds(w + row_stride), 3);
  const __m256 g = _mm256_loadu_ps(gy);
  for (int row = 0; row < 2; ++row) {
    const __m256 e = grad_term(at, 2 * row, g), o = grad_term(at, 2 * row + 1, g);
    const __m256 lo = _mm256_unpacklo_ps(e, o), hi = _mm256_unpackhi_ps(e, o);
    _mm256_storeu_ps(dx + row * dx_row_stride, _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_storeu_ps(dx + row * dx_row_stride + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
  }
}

template <typename T>
void max_pool(const Tensor& x, const Tensor& out, const Window2d& g) {
  const int64_t H = x.size(2), W = x.size(3), OH = out.size(2), OW = out.size(3);
  const Span rows = interior(OH, H, g.sh, g.ph, g.kh, g.dh), cols = interior(OW, W, g.sw, g.pw, g.kw, g.dw);
  T* o = out.data<T>();
  for_each_plane(out.size(0) * out.size(1), OH * OW * g.kh * g.kw, [&](int64_t nc) {
    const Plane<T> xp = plane<T>(x, nc);
    const std::vector<int64_t> off = window_offsets(xp, g);
    const bool simd = simd_rows(xp, g);
    T* dst = o + nc * OH * OW;
    for (int64_t oh = 0; oh < OH; ++oh) {
      int64_t ow = 0;
      if (oh >= rows.lo && oh < rows.hi) {
        const T* row = xp.p + (oh * g.sh - g.ph) * xp.sh;
        for (; ow < cols.lo; ++ow) {
          const int64_t k = window_argmax(xp, H, W, g, oh, ow);
          dst[oh * OW + ow] = k < 0 ? -std::numeric_limits<T>::infinity() : xp.at(k / W, k % W);
        }
        if constexpr (std::is_same_v<T, float>)
          if (simd) {
            auto fits = [&](int64_t o) { return o + 8 <= cols.hi; };  // 8 interior windows
            for (; fits(ow); ow += 8) max_8_windows(row + (ow * 2 - g.pw), g, xp.sh, dst + oh * OW + ow);
            // the rest as one block that overlaps the last (the same windows give the same values)
            if (ow < cols.hi && cols.hi - 8 >= cols.lo && fits(cols.hi - 8)) {
              max_8_windows(row + ((cols.hi - 8) * 2 - g.pw), g, xp.sh, dst + oh * OW + cols.hi - 8);
              ow = cols.hi;
            }
          }
        for (; ow < cols.hi; ++ow) {
          const T* w = row + (ow * g.sw - g.pw) * xp.sw;
          dst[oh * OW + ow] = w[off[size_t(window_argmax_any(w, off))]];
        }
      }
      for (; ow < OW; ++ow) {
        const int64_t k = window_argmax(xp, H, W, g, oh, ow);  // -1: the window is all padding
        dst[oh * OW + ow] = k < 0 ? -std::numeric_limits<T>::infinity() : xp.at(k / W, k % W);
      }
    }
  });
}

template <typename T>
void max_pool_backward(const Tensor& dy, const Tensor& x, const Tensor& out, const Window2d& g) {
  const int64_t H = x.size(2), W = x.size(3), OH = dy.size(2), OW = dy.size(3);
  const Span rows = interior(OH, H, g.sh, g.ph, g.kh, g.dh), cols = interior(OW, W, g.sw, g.pw, g.kw, g.dw);
  T* dx = out.data<T>();
  for_each_plane(out.size(0) * out.size(1), OH * OW * g.kh * g.kw, [&](int64_t nc) {
    const Plane<T> xp = plane<T>(x, nc), gp = plane<T>(dy, nc);
    const std::vector<int64_t> off = window_offsets(xp, g);
    std::vector<int64_t> at(off.size());  // window position q -> its offset in the plane's dx, less the window's
    for (size_t q = 0; q < off.size(); ++q) at[q] = int64_t(q) / g.kw * g.dh * W + int64_t(q) % g.kw * g.dw;
    T* dst = dx + nc * H * W;
    std::fill(dst, dst + H * W, T(0));
    const bool simd = simd_rows(xp, g) && g.kh == 2 && g.kw == 2 && g.sh == 2 && g.dh == 1 && gp.sw == 1;
    const bool simd_argmax = simd_rows(xp, g) && !simd;  // overlapping windows: argmax by 8, add in order
    for (int64_t oh = 0; oh < OH; ++oh) {
      const bool inside = oh >= rows.lo && oh < rows.hi;
      int64_t simd_lo = 0, simd_hi = 0;  // the columns the 8-window blocks did
      if constexpr (std::is_same_v<T, float>)
        if (simd && inside && cols.hi - cols.lo >= 8) {
          const int64_t h0 = oh * 2 - g.ph;
          auto block = [&](int64_t o) {
            const int64_t c = o * 2 - g.pw;
            max_8_windows_backward(xp.p + h0 * xp.sh + c, xp.sh, gp.p + oh * gp.sh + o, dst + h0 * W + c, W);
          };
          simd_lo = cols.lo;
          for (simd_hi = cols.lo; simd_hi + 8 <= cols.hi; simd_hi += 8) block(simd_hi);
          if (simd_hi < cols.hi) block(cols.hi - 8), simd_hi = cols.hi;  // overlaps: same values again
        }
      for (int64_t ow = 0; ow < OW; ++ow) {
        if (ow == simd_lo && simd_hi > simd_lo) {
          ow = simd_hi - 1;
          continue;
        }
        if constexpr (std::is_same_v<T, float>)
          if (simd_argmax && inside && ow >= cols.lo && ow + 8 <= cols.hi) {
            const int64_t h0 = oh * g.sh - g.ph, w0 = ow * 2 - g.pw;
            float m[8];
            int32_t q[8];
            max_8_windows(xp.p + h0 * xp.sh + w0, g, xp.sh, m, q);
            for (int64_t l = 0; l < 8; ++l) dst[h0 * W + w0 + 2 * l + at[size_t(q[l])]] += gp.at(oh, ow + l);
            ow += 7;
            continue;
          }
        int64_t k;
        if (inside && ow >= cols.lo && ow < cols.hi) {
          const int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
          const int64_t q = window_argmax_any(xp.p + h0 * xp.sh + w0 * xp.sw, off);
          k = h0 * W + w0 + at[size_t(q)];
        } else {
          k = window_argmax(xp, H, W, g, oh, ow);
          if (k < 0) continue;
        }
        dst[k] += gp.at(oh, ow);
      }
    }
  });
}

// avg_pool2d's window (oh, ow): the rows and columns it averages and its divisor.
struct AvgWindow {
  int64_t h0, h1, w0, w1, divisor;
};
AvgWindow avg_window(const Window2d& g, bool count_pad, int64_t H, int64_t W, int64_t oh, int64_t ow) {
  int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  int64_t h1 = std::min(h0 + g.kh, H + g.ph), w1 = std::min(w0 + g.kw, W + g.pw);
  const int64_t padded = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0), w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, H), w1 = std::min(w1, W);
  return {h0, h1, w0, w1, count_pad ? padded : (h1 - h0) * (w1 - w0)};
}

template <typename T>
void avg_pool(const Tensor& x, const Tensor& out, const Window2d& g, bool count_pad) {
  const int64_t H = x.size(2), W = x.size(3), OH = out.size(2), OW = out.size(3);
  T* o = out.data<T>();
  for_each_plane(out.size(0) * out.size(1), OH * OW * g.kh * g.kw, [&](int64_t nc) {
    const Plane<T> xp = plane<T>(x, nc);
    T* dst = o + nc * OH * OW;
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        const AvgWindow a = avg_window(g, count_pad, H, W, oh, ow);
        T s = 0;
        for (int64_t h = a.h0; h < a.h1; ++h)
          for (int64_t w = a.w0; w < a.w1; ++w) s += xp.at(h, w);
        dst[oh * OW + ow] = s / T(a.divisor);
      }
  });
}

template <typename T>
void avg_pool_backward(const Tensor& dy, const Tensor& out, const Window2d& g, bool count_pad) {
  const int64_t H = out.size(2), W = out.size(3), OH = dy.size(2), OW = dy.size(3);
  T* dx = out.data<T>();
  for_each_plane(out.size(0) * out.size(1), OH * OW * g.kh * g.kw, [&](int64_t nc) {
    const Plane<T> gp = plane<T>(dy, nc);
    T* dst = dx + nc * H * W;
    std::fill(dst, dst + H * W, T(0));
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        const AvgWindow a = avg_window(g, count_pad, H, W, oh, ow);
        const T v = gp.at(oh, ow) / T(a.divisor);
        for (int64_t h = a.h0; h < a.h1; ++h)
          for (int64_t w = a.w0; w < a.w1; ++w) dst[h * W + w] += v;
      }
  });
}

int64_t adaptive_start(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
int64_t adaptive_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

template <typename T>
void adaptive_avg_pool(const Tensor& x, const Tensor& out) {
  const int64_t H = x.size(2), W = x.size(3), OH = out.size(2), OW = out.size(3);
  T* o = out.data<T>();
  for_each_plane(out.size(0) * out.size(1), H * W, [&](int64_t nc) {
    const Plane<T> xp = plane<T>(x, nc);
    T* dst = o + nc * OH * OW;
    for (int64_t oh = 0; oh < OH; ++oh) {
      const int64_t h0 = adaptive_start(oh, H, OH), h1 = adaptive_end(oh, H, OH);
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t w0 = adaptive_start(ow, W, OW), w1 = adaptive_end(ow, W, OW);
        T s = 0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) s += xp.at(h, w);
        dst[oh * OW + ow] = s / T((h1 - h0) * (w1 - w0));
      }
    }
  });
}

template <typename T>
void adaptive_avg_pool_backward(const Tensor& dy, const Tensor& out) {
  const int64_t H = out.size(2), W = out.size(3), OH = dy.size(2), OW = dy.size(3);
  T* dx = out.data<T>();
  for_each_plane(out.size(0) * out.size(1), H * W, [&](int64_t nc) {
    const Plane<T> gp = plane<T>(dy, nc);
    T* dst = dx + nc * H * W;
    std::fill(dst, dst + H * W, T(0));
    for (int64_t oh = 0; oh < OH; ++oh) {
      const int64_t h0 = adaptive_start(oh, H, OH), h1 = adaptive_end(oh, H, OH);
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t w0 = adaptive_start(ow, W, OW), w1 = adaptive_end(ow, W, OW);
        const T v = gp.at(oh, ow) / T((h1 - h0) * (w1 - w0));
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) dst[h * W + w] += v;
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

void max_pool2d_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  float_types(out, [&]<typename T>(T) { max_pool<T>(in[0], out, Window2d::pool(attrs)); });
}
void max_pool2d_backward_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  float_types(out, [&]<typename T>(T) { max_pool_backward<T>(in[0], in[1], out, Window2d::pool(attrs)); });
}
void avg_pool2d_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  const bool count_pad = attrs.get_or<bool>("count_include_pad", true);
  float_types(out, [&]<typename T>(T) { avg_pool<T>(in[0], out, Window2d::pool(attrs), count_pad); });
}
void avg_pool2d_backward_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  const bool count_pad = attrs.get_or<bool>("count_include_pad", true);
  float_types(out, [&]<typename T>(T) { avg_pool_backward<T>(in[0], out, Window2d::pool(attrs), count_pad); });
}
void adaptive_avg_pool2d_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs&) {
  float_types(out, [&]<typename T>(T) { adaptive_avg_pool<T>(in[0], out); });
}
void adaptive_avg_pool2d_backward_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs&) {
  float_types(out, [&]<typename T>(T) { adaptive_avg_pool_backward<T>(in[0], out); });
}

}  // namespace duet::cpu
