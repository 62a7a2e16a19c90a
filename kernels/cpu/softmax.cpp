// CPU kernels of softmax and log_softmax along one dim, numerically stable: the row max is
// subtracted before exp, so logits of 1000 or -inf are fine (a row of all -inf, or one
// with NaN, gives NaN as in PyTorch).
// Paths: float32 rows with unit stride in input and output take AVX-512 (where the CPU has
// it) or AVX2, three passes per row: max; e = exp(x - max) stored and summed; scale (or
// x - max - log(sum)); masked tails, so rows of any length (1, 10, 1025) stay vectorised.
// Strided float32 lines are gathered into a buffer for the same row kernel (their bits
// match a contiguous line's); other dtypes go through a double buffer. Threads split lines.
// Versions, on bw/softmax's shapes ([n/1024, 1024] float32, n = 1M / 16M, 2 threads), as %
// of duet_bench's STREAM triad timed alternately with the kernel (medians of 300 / 30
// pairs, so load from other jobs hits both alike; 2-core shared VM):
//   v1 AVX2, exp with clamp + round + two-factor scaling, std::exp tails:
//      softmax 47% (1M) / 65% (16M), log_softmax 41% / 60%.
//   v2 the cheaper exp (elementwise_simd.h), AVX-512 rows, the next row prefetched during
//      the exp pass (a 1024-float row is one 4 KiB page; the hardware prefetchers stop at
//      page boundaries): softmax 97% / 96-98%, log_softmax 92% / 90-94%. Of that, the
//      prefetch is worth 87% -> 99% (1M) and 77-82% -> 87-98% (16M); AVX-512 over the
//      same code in AVX2 94% vs 83% (1M).
// Tried: an online single pass (running max and rescaled sum, then the write pass) for
// rows that fit in L1: 0.65 vs 0.25 ns per element, since it needs two exps per element
// where the separate max pass is one load and one max.
#include <cmath>
#include <immintrin.h>
#include <limits>
#include <vector>

#include "core/parallel.h"
#include "kernels/cpu/elementwise_common.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/reduction_plan.h"
#include "kernels/cpu/vec_math_softmax.h"

// GCC 12 reports false (maybe-)uninitialized warnings from inside its own AVX-512
// intrinsic headers (the "undefined" source operand of the unmasked forms).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace duet::cpu {
namespace {

using softmax_detail::exp256;
using softmax_detail::exp512;
using softmax_detail::hmax256;
using softmax_detail::hmax512;
using softmax_detail::hsum256;
using softmax_detail::hsum512;

// Each row: (1) max, streaming the row in from memory; (2) e = exp(x - max) stored into y
// (softmax) and summed; (3) y *= 1/sum, or y = (x - max) - log(sum) for log_softmax.
// Passes 2 and 3 find the row in L1/L2. A NaN anywhere in the row makes the sum NaN and so
// every output NaN, without tracking it in the max pass. Tails use masked loads and stores.
// xn/yn: the next row's input and output (this row's when there is none), fetched into
// cache during the exp pass — a row of 1024 floats is one 4 KiB page, and the hardware
// prefetchers stop at page boundaries, so each row would otherwise start with misses.
template <bool kLog>
DUET_TARGET_AVX512 void softmax_row_avx512(const float* x, float* y, int64_t n, const float* xn, float* yn) {
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  __m512 m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    m0 = _mm512_max_ps(m0, _mm512_loadu_ps(x + i));
    m1 = _mm512_max_ps(m1, _mm512_loadu_ps(x + i + 16));
    m2 = _mm512_max_ps(m2, _mm512_loadu_ps(x + i + 32));
    m3 = _mm512_max_ps(m3, _mm512_loadu_ps(x + i + 48));
  }
  for (; i + 16 <= n; i += 16) m0 = _mm512_max_ps(m0, _mm512_loadu_ps(x + i));
  const int64_t tail = n - i;  // 0..15 elements after the last whole vector
  const __mmask16 tm = __mmask16((1u << tail) - 1);
  if (tail) m1 = _mm512_max_ps(m1, _mm512_mask_loadu_ps(ninf, tm, x + i));
  const float m = hmax512(_mm512_max_ps(_mm512_max_ps(m0, m1), _mm512_max_ps(m2, m3)));

  const __m512 vm = _mm512_set1_ps(m);
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  const int64_t whole = n - tail;
  i = 0;
  for (; i + 64 <= whole; i += 64) {
    for (int k = 0; k < 64; k += 16) {
      _mm_prefetch(reinterpret_cast<const char*>(xn + i + k), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(yn + i + k), _MM_HINT_ET0);
    }
    __m512 e0 = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
    __m512 e1 = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), vm));
    __m512 e2 = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i + 32), vm));
    __m512 e3 = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i + 48), vm));
    if constexpr (!kLog) {
      _mm512_storeu_ps(y + i, e0);
      _mm512_storeu_ps(y + i + 16, e1);
      _mm512_storeu_ps(y + i + 32, e2);
      _mm512_storeu_ps(y + i + 48, e3);
    }
    s0 = _mm512_add_ps(s0, e0);
    s1 = _mm512_add_ps(s1, e1);
    s2 = _mm512_add_ps(s2, e2);
    s3 = _mm512_add_ps(s3, e3);
  }
  for (; i < whole; i += 16) {
    __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
    if constexpr (!kLog) _mm512_storeu_ps(y + i, e);
    s0 = _mm512_add_ps(s0, e);
  }
  if (tail) {
    __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(tm, x + i), vm));
    if constexpr (!kLog) _mm512_mask_storeu_ps(y + i, tm, e);
    s1 = _mm512_mask_add_ps(s1, tm, s1, e);
  }
  const float s = hsum512(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));

  if constexpr (!kLog) {
    const __m512 inv = _mm512_set1_ps(1.0f / s);
    for (i = 0; i < whole; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_loadu_ps(y + i), inv));
    if (tail) _mm512_mask_storeu_ps(y + i, tm, _mm512_mul_ps(_mm512_maskz_loadu_ps(tm, y + i), inv));
  } else {
    // (x - m) - log(s) keeps x == m exact at large magnitudes.
    const __m512 ls = _mm512_set1_ps(std::log(s));
    for (i = 0; i < whole; i += 16)
      _mm512_storeu_ps(y + i, _mm512_sub_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm), ls));
    if (tail) _mm512_mask_storeu_ps(y + i, tm, _mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(tm, x + i), vm), ls));
  }
}

// The same three passes in 8 lanes.
template <bool kLog>
DUET_TARGET_AVX2 void softmax_row_avx2(const float* x, float* y, int64_t n, const float* xn, float* yn) {
  const __m256 ninf = _mm256_set1_ps(-INFINITY);
  __m256 m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + i));
    m1 = _mm256_max_ps(m1, _mm256_loadu_ps(x + i + 8));
    m2 = _mm256_max_ps(m2, _mm256_loadu_ps(x + i + 16));
    m3 = _mm256_max_ps(m3, _mm256_loadu_ps(x + i + 24));
  }
  for (; i + 8 <= n; i += 8) m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + i));
  const int64_t tail = n - i;
  const __m256i tmi = ew::tail_mask(tail);  // all clear when tail == 0
  const __m256 tm = _mm256_castsi256_ps(tmi);
  if (tail) m1 = _mm256_max_ps(m1, _mm256_blendv_ps(ninf, _mm256_maskload_ps(x + i, tmi), tm));
  const float m = hmax256(_mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3)));

  const __m256 vm = _mm256_set1_ps(m);
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  const int64_t whole = n - tail;
  i = 0;
  for (; i + 32 <= whole; i += 32) {
    for (int k = 0; k < 32; k += 16) {
      _mm_prefetch(reinterpret_cast<const char*>(xn + i + k), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(yn + i + k), _MM_HINT_ET0);
    }
    __m256 e0 = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
    __m256 e1 = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vm));
    __m256 e2 = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i + 16), vm));
    __m256 e3 = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i + 24), vm));
    if constexpr (!kLog) {
      _mm256_storeu_ps(y + i, e0);
      _mm256_storeu_ps(y + i + 8, e1);
      _mm256_storeu_ps(y + i + 16, e2);
      _mm256_storeu_ps(y + i + 24, e3);
    }
    s0 = _mm256_add_ps(s0, e0);
    s1 = _mm256_add_ps(s1, e1);
    s2 = _mm256_add_ps(s2, e2);
    s3 = _mm256_add_ps(s3, e3);
  }
  for (; i < whole; i += 8) {
    __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
    if constexpr (!kLog) _mm256_storeu_ps(y + i, e);
    s0 = _mm256_add_ps(s0, e);
  }
  if (tail) {
    __m256 e = _mm256_and_ps(exp256(_mm256_sub_ps(_mm256_maskload_ps(x + i, tmi), vm)), tm);
    if constexpr (!kLog) _mm256_maskstore_ps(y + i, tmi, e);
    s1 = _mm256_add_ps(s1, e);
  }
  const float s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));

  if constexpr (!kLog) {
    const __m256 inv = _mm256_set1_ps(1.0f / s);
    for (i = 0; i < whole; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), inv));
    if (tail) _mm256_maskstore_ps(y + i, tmi, _mm256_mul_ps(_mm256_maskload_ps(y + i, tmi), inv));
  } else {
    const __m256 ls = _mm256_set1_ps(std::log(s));
    for (i = 0; i < whole; i += 8)
      _mm256_storeu_ps(y + i, _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), ls));
    if (tail)
      _mm256_maskstore_ps(y + i, tmi, _mm256_sub_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, tmi), vm), ls));
  }
}

// One line of n elements at input stride xs and output stride ys, through double.
template <typename T>
void softmax_line(const T* x, int64_t xs, T* y, int64_t ys, int64_t n, bool log_out, std::vector<double>& buf) {
  using C = compute_t<T>;
  buf.resize(size_t(n));
  double m = -std::numeric_limits<double>::infinity();
  bool nan = false;
  for (int64_t i = 0; i < n; ++i) {
    double v = double(C(x[i * xs]));
    buf[size_t(i)] = v;
    if (v != v) nan = true;
    else if (v > m) m = v;
  }
  if (nan) m = std::numeric_limits<double>::quiet_NaN();
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(buf[size_t(i)] - m);
  if (!log_out) {
    double inv = 1.0 / s;
    for (int64_t i = 0; i < n; ++i) y[i * ys] = T(C(std::exp(buf[size_t(i)] - m) * inv));
  } else {
    double ls = std::log(s);
    for (int64_t i = 0; i < n; ++i) y[i * ys] = T(C((buf[size_t(i)] - m) - ls));
  }
}

void softmax_impl(const Tensor& x, const Tensor& out, const Attrs& attrs, bool log_out, const char* name) {
  // Lines run along `dim`; the other dims index them (same order for x and out).
  DimList xl, ol;
  int64_t n = 1, xs = 1, os = 1;
  if (x.dim() > 0) {
    int64_t dim = wrap_dim(attrs.get<int64_t>("dim"), x.dim(), name);
    n = x.size(dim);
    xs = x.stride(dim);
    os = out.stride(dim);
    for (int64_t d = 0; d < x.dim(); ++d) {
      if (d == dim) continue;
      xl.push(x.size(d), x.stride(d));
      ol.push(out.size(d), out.stride(d));
    }
  }
  const int64_t lines = xl.numel();
  if (lines == 0 || n == 0) return;
  if (n == 1) xs = os = 1;  // the stride of a size-1 dim is meaningless
  const int64_t grain = std::max<int64_t>(1, 16384 / n);

  if (x.dtype() == DType::Float32 && (xs != 1 || os != 1) && has_avx2_fma()) {
    // Strided float32 lines go through the row kernel too, gathered into a buffer and
    // scattered back, so a line's bits do not depend on its layout (the double path
    // rounds differently; tests/test_ops_table.cpp compares layouts bit for bit).
    const float* xp = static_cast<const float*>(x.data_ptr());
    float* op = static_cast<float*>(out.data_ptr());
    const bool zmm = ew::has_avx512();
    using RowFn = void (*)(const float*, float*, int64_t, const float*, float*);
    const RowFn row = log_out ? (zmm ? softmax_row_avx512<true> : softmax_row_avx2<true>)
                              : (zmm ? softmax_row_avx512<false> : softmax_row_avx2<false>);
    parallel_for(0, lines, grain, [&](int64_t lo, int64_t hi) {
      std::vector<float> in(static_cast<size_t>(n)), res(static_cast<size_t>(n));
      for (int64_t l = lo; l < hi; ++l) {
        const float* xr = xp + xl.offset_of(l);
        float* yr = op + ol.offset_of(l);
        for (int64_t i = 0; i < n; ++i) in[size_t(i)] = xr[i * xs];
        row(in.data(), res.data(), n, in.data(), res.data());
        for (int64_t i = 0; i < n; ++i) yr[i * os] = res[size_t(i)];
      }
    });
    return;
  }
  if (x.dtype() == DType::Float32 && xs == 1 && os == 1 && has_avx2_fma()) {
    const float* xp = static_cast<const float*>(x.data_ptr());
    float* op = static_cast<float*>(out.data_ptr());
    using RowFn = void (*)(const float*, float*, int64_t, const float*, float*);
    const bool zmm = ew::has_avx512();
    const RowFn row = log_out ? (zmm ? softmax_row_avx512<true> : softmax_row_avx2<true>)
                              : (zmm ? softmax_row_avx512<false> : softmax_row_avx2<false>);
    parallel_for(0, lines, grain, [&](int64_t lo, int64_t hi) {
      const float* xr = xp + xl.offset_of(lo);
      float* yr = op + ol.offset_of(lo);
      for (int64_t l = lo; l < hi; ++l) {
        const float* xn = l + 1 < hi ? xp + xl.offset_of(l + 1) : xr;
        float* yn = l + 1 < hi ? op + ol.offset_of(l + 1) : yr;
        row(xr, yr, n, xn, yn);
        xr = xn;
        yr = yn;
      }
    });
    return;
  }
  visit_floating(x.dtype(), name, [&]<typename T>() {
    const T* xp = static_cast<const T*>(x.data_ptr());
    T* op = static_cast<T*>(out.data_ptr());
    parallel_for(0, lines, grain, [&](int64_t lo, int64_t hi) {
      std::vector<double> buf;
      for (int64_t l = lo; l < hi; ++l)
        softmax_line(xp + xl.offset_of(l), xs, op + ol.offset_of(l), os, n, log_out, buf);
    });
  });
}

}  // namespace

void softmax_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  softmax_impl(in[0], out, attrs, false, "softmax");
}
void log_softmax_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  softmax_impl(in[0], out, attrs, true, "log_softmax");
}

}  // namespace duet::cpu
