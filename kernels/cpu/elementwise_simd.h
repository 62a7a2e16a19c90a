// AVX2/FMA float32 math for the elementwise kernels: exp, log, tanh, sigmoid, erf and the
// erf-based GELU, 8 lanes at a time, and exp in 16 lanes (AVX-512). Each is a range
// reduction plus a short polynomial:
//   exp:  x = n ln2 + r, |r| <= ln2/2 (ln2 split hi/lo so n*hi is exact); e^r by a degree-6
//         minimax polynomial; 2^n from the bits of the rounding "magic" sum (fast path),
//         as two factors for results in the subnormals or near FLT_MAX, or by vscalefps.
//   log:  x = m 2^e, m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(s), s = (m-1)/(m+1),
//         |s| < 0.172, series through s^9; subnormal inputs are rescaled by 2^23 first.
//   tanh: odd Taylor series through x^13 for |x| < 0.4, else 1 - 2/(e^{2|x|}+1); x's sign.
//   erfc (for GELU): erfc(z) = e^{-z^2} P(t), t = 1/(1 + z/2), P of degree 9 fitted
//         (weighted least squares at Chebyshev nodes, z in [0, 10]) to 3.5e-8 relative.
// Measured (tests/test_elementwise.cpp, 2M+ points over the whole float range) against
// std:: in double: exp, log, tanh within ~2-3 ulp; special values (inf, NaN, 0, <0, huge)
// match std::.
// exp versions (bw/exp in duet_bench terms: % of a STREAM triad timed alternately with the
// kernel, 2 threads, 2-core shared VM; ns per element on one core with data in L1):
//   v1 clamp, round, degree-7 Taylor, two-factor 2^n: 0.39-0.59 ns; 64% (1M), 80% (16M).
//   v2 magic-number rounding, degree-6 minimax, 2^n from t's bits unless some lane has
//      |x| > 87.5: 0.21 ns (AVX2); with the AVX-512 form (vscalefps): 0.14 ns, 97% (1M),
//      98-101% (16M), against 92% / 113% for the v2 AVX2 form in the same runs.
//   Every float32 input (all 2^32 bit patterns) gives the same bits from exp256's fast
//   path, exp256_wide and exp512; max error 0.89 ulp, subnormal results included.
#pragma once

#include <immintrin.h>

#include <cstdlib>
#include <limits>

#include "kernels/cpu/cpu_features.h"

namespace duet::cpu::ew {

DUET_TARGET_AVX2 inline __m256 set1(float v) { return _mm256_set1_ps(v); }

// e^x in two parts that give bit-identical results for any x both accept, so a value's
// result never depends on its neighbours in a vector (or on the thread split):
//   n = rint(x log2e) through the 1.5*2^23 "magic" add (FMA, ties to even), r = x - n ln2
//   (Cody-Waite), p = the polynomial below, result = p * 2^n rounded once.
// The polynomial is 1 + r + c2 r^2 + ... + c6 r^6, a relative-error minimax fit on
// |r| <= ln2/2 (Lawson's iteration; 3.1e-9 max relative error, against 4.9e-9 for the
// degree-7 Taylor polynomial it replaced, one FMA fewer).
inline constexpr float kExpMagic = 12582912.0f + 127.0f;  // 1.5*2^23, plus the exponent bias
inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kLn2Hi = 0.693359375f;               // 355/512: n * hi is exact
inline constexpr float kLn2Lo = -2.12194440054690583e-4f;   // ln2 - hi
inline constexpr float kExpC2 = 0.4999999343189114f, kExpC3 = 0.16666520396770756f,
                       kExpC4 = 0.04166839083131584f, kExpC5 = 0.008368745320047475f,
                       kExpC6 = 0.001381453789370438f;

// t = x log2e + kExpMagic (its low mantissa bits are n + 127), and p(r).
DUET_TARGET_AVX2 inline __m256 exp256_poly(__m256 x, __m256& t) {
  t = _mm256_fmadd_ps(x, set1(kLog2e), set1(kExpMagic));
  __m256 n = _mm256_sub_ps(t, set1(kExpMagic));
  __m256 r = _mm256_fnmadd_ps(n, set1(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, set1(kLn2Lo), r);
  __m256 p = _mm256_fmadd_ps(set1(kExpC6), r, set1(kExpC5));
  p = _mm256_fmadd_ps(p, r, set1(kExpC4));
  p = _mm256_fmadd_ps(p, r, set1(kExpC3));
  p = _mm256_fmadd_ps(p, r, set1(kExpC2));
  p = _mm256_fmadd_ps(p, r, set1(1.0f));
  return _mm256_fmadd_ps(p, r, set1(1.0f));
}

// Any x: clamped to [-104, 88.8] (beyond, the result is 0 or inf anyway), and 2^n (n in
// [-150, 128]) applied as two normal factors, so subnormal results and those up to
// FLT_MAX come out right. min/max return their second operand for a NaN, so NaN flows.
DUET_TARGET_AVX2 __attribute__((noinline)) inline __m256 exp256_wide(__m256 x) {
  x = _mm256_max_ps(set1(-104.0f), _mm256_min_ps(set1(88.8f), x));
  __m256 t;
  __m256 p = exp256_poly(x, t);
  __m256i ni = _mm256_cvtps_epi32(_mm256_sub_ps(t, set1(kExpMagic)));
  __m256i n1 = _mm256_srai_epi32(ni, 1);
  __m256i n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

// e^x. When every lane has |x| <= 87.5 (or is NaN), n is in [-126, 126] and 2^n is a
// normal float read straight out of t's bits; otherwise the whole vector takes
// exp256_wide. About twice the throughput of the previous clamp + round + two-factor
// form (0.21 vs 0.39-0.59 ns per element in L1, one core).
DUET_TARGET_AVX2 inline __m256 exp256(__m256 x) {
  // 87.5 - |x| has its sign bit set exactly when |x| > 87.5 (a NaN lane gives +NaN).
  __m256 d = _mm256_sub_ps(set1(87.5f), _mm256_andnot_ps(set1(-0.0f), x));
  if (!_mm256_testz_ps(d, d)) [[unlikely]] return exp256_wide(x);
  __m256 t;
  __m256 p = exp256_poly(x, t);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23)));
}

// ---- AVX-512 (zmm). Chosen at run time with has_avx512() where it measured clearly
// faster than the AVX2 form (exp: 0.14 vs 0.21 ns per element in L1); same formulas, so
// the same results bit for bit: vscalefps applies 2^n with one rounding, for any n,
// exactly like exp256's p * 2^n.
#define DUET_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))

// DUET_NO_AVX512=1 in the environment keeps these kernels on their AVX2 forms (to test or
// time those on an AVX-512 machine).
inline bool has_avx512() {
  static const bool ok = __builtin_cpu_supports("avx512f") && has_avx2_fma() && !std::getenv("DUET_NO_AVX512");
  return ok;
}

DUET_TARGET_AVX512 inline __m512 set1_512(float v) { return _mm512_set1_ps(v); }

DUET_TARGET_AVX512 inline __m512 exp512(__m512 x) {
  x = _mm512_max_ps(set1_512(-104.0f), _mm512_min_ps(set1_512(88.8f), x));
  __m512 t = _mm512_fmadd_ps(x, set1_512(kLog2e), set1_512(kExpMagic));
  __m512 n = _mm512_sub_ps(t, set1_512(kExpMagic));
  __m512 r = _mm512_fnmadd_ps(n, set1_512(kLn2Hi), x);
  r = _mm512_fnmadd_ps(n, set1_512(kLn2Lo), r);
  __m512 p = _mm512_fmadd_ps(set1_512(kExpC6), r, set1_512(kExpC5));
  p = _mm512_fmadd_ps(p, r, set1_512(kExpC4));
  p = _mm512_fmadd_ps(p, r, set1_512(kExpC3));
  p = _mm512_fmadd_ps(p, r, set1_512(kExpC2));
  p = _mm512_fmadd_ps(p, r, set1_512(1.0f));
  p = _mm512_fmadd_ps(p, r, set1_512(1.0f));
  return _mm512_scalef_ps(p, n);
}

// Natural log: log(0) = -inf, log(x < 0) = NaN, log(inf) = inf, NaN stays NaN.
DUET_TARGET_AVX2 inline __m256 log256(__m256 x0) {
  __m256 tiny = _mm256_cmp_ps(x0, set1(1.17549435e-38f), _CMP_LT_OQ);  // subnormal (or <= 0)
  __m256 x = _mm256_blendv_ps(x0, _mm256_mul_ps(x0, set1(8388608.0f)), tiny);
  __m256i bits = _mm256_castps_si256(x);
  __m256i ei = _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127));
  __m256 m = _mm256_castsi256_ps(
      _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f800000)));
  __m256 big = _mm256_cmp_ps(m, set1(1.41421356f), _CMP_GT_OQ);
  m = _mm256_blendv_ps(m, _mm256_mul_ps(m, set1(0.5f)), big);
  __m256 e = _mm256_add_ps(_mm256_cvtepi32_ps(ei), _mm256_and_ps(big, set1(1.0f)));
  e = _mm256_sub_ps(e, _mm256_and_ps(tiny, set1(23.0f)));
  __m256 s = _mm256_div_ps(_mm256_sub_ps(m, set1(1.0f)), _mm256_add_ps(m, set1(1.0f)));
  __m256 s2 = _mm256_mul_ps(s, s);
  __m256 q = _mm256_fmadd_ps(set1(1.0f / 9), s2, set1(1.0f / 7));
  q = _mm256_fmadd_ps(q, s2, set1(1.0f / 5));
  q = _mm256_fmadd_ps(q, s2, set1(1.0f / 3));
  __m256 two_s = _mm256_add_ps(s, s);
  __m256 log_m = _mm256_fmadd_ps(two_s, _mm256_mul_ps(s2, q), two_s);
  __m256 r = _mm256_fmadd_ps(e, set1(kLn2Hi), _mm256_fmadd_ps(e, set1(kLn2Lo), log_m));
  const __m256 inf = set1(std::numeric_limits<float>::infinity());
  r = _mm256_blendv_ps(r, inf, _mm256_cmp_ps(x0, inf, _CMP_EQ_OQ));
  r = _mm256_blendv_ps(r, _mm256_sub_ps(set1(0.0f), inf), _mm256_cmp_ps(x0, set1(0.0f), _CMP_EQ_OQ));
  r = _mm256_blendv_ps(r, set1(std::numeric_limits<float>::quiet_NaN()),
                       _mm256_cmp_ps(x0, set1(0.0f), _CMP_NGE_UQ));  // x < 0 or NaN
  return r;
}

DUET_TARGET_AVX2 inline __m256 abs256(__m256 x) { return _mm256_andnot_ps(set1(-0.0f), x); }

DUET_TARGET_AVX2 inline __m256 tanh256(__m256 x) {
  __m256 ax = abs256(x);
  __m256 x2 = _mm256_mul_ps(ax, ax);
  __m256 q = set1(21844.0f / 6081075);
  q = _mm256_fmadd_ps(q, x2, set1(-1382.0f / 155925));
  q = _mm256_fmadd_ps(q, x2, set1(62.0f / 2835));
  q = _mm256_fmadd_ps(q, x2, set1(-17.0f / 315));
  q = _mm256_fmadd_ps(q, x2, set1(2.0f / 15));
  q = _mm256_fmadd_ps(q, x2, set1(-1.0f / 3));
  __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(ax, x2), q, ax);
  __m256 e = exp256(_mm256_add_ps(ax, ax));
  __m256 large = _mm256_sub_ps(set1(1.0f), _mm256_div_ps(set1(2.0f), _mm256_add_ps(e, set1(1.0f))));
  __m256 r = _mm256_blendv_ps(large, small, _mm256_cmp_ps(ax, set1(0.4f), _CMP_LT_OQ));
  return _mm256_or_ps(r, _mm256_and_ps(x, set1(-0.0f)));  // odd: tanh(|x|) with x's sign, -0 kept
}

// 1/(1+e^-x), evaluated as e^x/(1+e^x) for x < 0 so tiny results keep their precision.
DUET_TARGET_AVX2 inline __m256 sigmoid256(__m256 x) {
  __m256 t = exp256(_mm256_or_ps(x, set1(-0.0f)));  // e^{-|x|}
  __m256 r = _mm256_div_ps(set1(1.0f), _mm256_add_ps(set1(1.0f), t));
  return _mm256_blendv_ps(_mm256_mul_ps(t, r), r, _mm256_cmp_ps(x, set1(0.0f), _CMP_GE_OQ));
}

// P(t) of erfc(z) = e^{-z^2} P(t), t = 1 / (1 + z/2), z >= 0 (the header's fit).
DUET_TARGET_AVX2 inline __m256 erfc_poly256(__m256 t) {
  __m256 p = set1(-0.055951133787988445f);
  p = _mm256_fmadd_ps(p, t, set1(0.2684594126329474f));
  p = _mm256_fmadd_ps(p, t, set1(-0.4513756784641193f));
  p = _mm256_fmadd_ps(p, t, set1(0.23325805252012696f));
  p = _mm256_fmadd_ps(p, t, set1(0.008011044551113601f));
  p = _mm256_fmadd_ps(p, t, set1(0.18558856170160284f));
  p = _mm256_fmadd_ps(p, t, set1(0.2484754032228345f));
  p = _mm256_fmadd_ps(p, t, set1(0.2813429456873702f));
  p = _mm256_fmadd_ps(p, t, set1(0.2821962827086708f));
  return _mm256_fmadd_ps(p, t, set1(-4.925993988595752e-06f));
}

// x * Phi(x) with Phi from erfc, so the negative tail keeps relative precision.
DUET_TARGET_AVX2 inline __m256 gelu_erf256(__m256 x) {
  __m256 z = _mm256_mul_ps(abs256(x), set1(0.707106781186547524f));
  __m256 p = erfc_poly256(_mm256_div_ps(set1(1.0f), _mm256_fmadd_ps(z, set1(0.5f), set1(1.0f))));
  // e^{-z^2} = e^{-x^2/2} from x*x split exactly into hi + lo: rounding z or z^2 would
  // cost z^2 ulps, ~30 at x = -5.
  __m256 sq = _mm256_mul_ps(x, x);
  __m256 sq_lo = _mm256_fmsub_ps(x, x, sq);
  __m256 g = exp256(_mm256_mul_ps(sq, set1(-0.5f)));
  g = _mm256_fnmadd_ps(_mm256_mul_ps(g, set1(0.5f)), sq_lo, g);  // * (1 - lo/2)
  __m256 half_erfc = _mm256_mul_ps(_mm256_mul_ps(g, p), set1(0.5f));
  __m256 phi = _mm256_blendv_ps(half_erfc, _mm256_sub_ps(set1(1.0f), half_erfc),
                                _mm256_cmp_ps(x, set1(0.0f), _CMP_GE_OQ));
  return _mm256_mul_ps(x, phi);
}

// erf(x): for |x| < 0.5 the odd series x (2/sqrt(pi)) (1 - x^2/3 + x^4/10 - ... - x^14/75600)
// (its next term is 1e-9 of the sum there); for larger |x|, 1 - erfc(|x|) with erfc as
// GELU's (e^{-x^2} from x*x split into hi + lo), which cancels at most to half its value
// (erf(0.5) = 0.52); 1 from |x| >= 3.92 (where erf rounds to 1.0f); x's sign, so -0 and
// NaN pass through. 2.6 ulp from std::erf in double at most (tests/test_elementwise.cpp).
DUET_TARGET_AVX2 inline __m256 erf256(__m256 x) {
  __m256 ax = abs256(x);
  __m256 x2 = _mm256_mul_ps(x, x);
  __m256 q = set1(-1.0f / 75600);
  q = _mm256_fmadd_ps(q, x2, set1(1.0f / 9360));
  q = _mm256_fmadd_ps(q, x2, set1(-1.0f / 1320));
  q = _mm256_fmadd_ps(q, x2, set1(1.0f / 216));
  q = _mm256_fmadd_ps(q, x2, set1(-1.0f / 42));
  q = _mm256_fmadd_ps(q, x2, set1(1.0f / 10));
  q = _mm256_fmadd_ps(q, x2, set1(-1.0f / 3));
  q = _mm256_fmadd_ps(q, x2, set1(1.0f));
  __m256 small = _mm256_mul_ps(_mm256_mul_ps(ax, set1(1.12837916709551257f)), q);
  __m256 p = erfc_poly256(_mm256_div_ps(set1(1.0f), _mm256_fmadd_ps(ax, set1(0.5f), set1(1.0f))));
  __m256 sq_lo = _mm256_fmsub_ps(ax, ax, x2);
  __m256 g = exp256(_mm256_sub_ps(set1(0.0f), x2));
  g = _mm256_fnmadd_ps(g, sq_lo, g);  // * (1 - lo)
  __m256 large = _mm256_fnmadd_ps(g, p, set1(1.0f));
  __m256 r = _mm256_blendv_ps(large, small, _mm256_cmp_ps(ax, set1(0.5f), _CMP_LT_OQ));
  r = _mm256_blendv_ps(r, set1(1.0f), _mm256_cmp_ps(ax, set1(3.92f), _CMP_GE_OQ));
  return _mm256_or_ps(r, _mm256_and_ps(x, set1(-0.0f)));
}

}  // namespace duet::cpu::ew
