// AVX2/FMA (and AVX-512) helpers of the reduction and softmax kernels: horizontal
// sum/max/min, and the vectorised exp of kernels/cpu/elementwise_simd.h (-inf gives exactly 0, so -inf logits
// vanish; +inf stays +inf; NaN stays NaN).
#pragma once

#include <immintrin.h>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/elementwise_simd.h"

namespace duet::cpu::softmax_detail {

// The vectorised exp is the elementwise kernels' one (exact special values, subnormals).
using ew::exp256;
using ew::exp512;

DUET_TARGET_AVX2 inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

DUET_TARGET_AVX2 inline double hsum256d(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
  return _mm_cvtsd_f64(s);
}

// NaN-free input assumed (callers track NaN separately).
DUET_TARGET_AVX2 inline float hmax256(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

DUET_TARGET_AVX2 inline float hmin256(__m256 v) {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  m = _mm_min_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// 16 lanes through the ymm helpers (GCC 12's _mm512_reduce_* warn spuriously).
DUET_TARGET_AVX512 inline __m256 hi256(__m512 v) {
  return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}
DUET_TARGET_AVX512 inline float hmax512(__m512 v) { return hmax256(_mm256_max_ps(_mm512_castps512_ps256(v), hi256(v))); }
DUET_TARGET_AVX512 inline float hsum512(__m512 v) { return hsum256(_mm256_add_ps(_mm512_castps512_ps256(v), hi256(v))); }

}  // namespace duet::cpu::softmax_detail
