// AVX-512 packing for float GEMM operands whose packed order is the transpose of their
// stored order: row-major A (the packed A micro-panel wants MR values of one column per
// step) and column-major, i.e. transposed, B (the packed B micro-panel wants NR values of
// one row per step). Both are done 16 x 16 at a time with an in-register transpose
// (4 shuffle stages, 64 shuffles per 256 values), replacing a scalar gather that cost
// ~3% of a 2048^3 SGEMM on one thread (perf, Sapphire Rapids VM). The remaining k steps
// (kc % 16) are copied one by one. gemm_duet.cpp calls these only for full panels.
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/gemm.h"

// GCC 12 reports false (maybe-)uninitialized warnings from inside its own AVX-512
// intrinsic headers (the "undefined" source operand of the unmasked forms).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define DUET_TARGET_AVX512_PACK __attribute__((target("avx512f,avx2,fma")))

namespace duet::cpu::detail {
namespace {

// r[i] holds 16 values of row i; on return r[c] holds column c (row i in lane i).
DUET_TARGET_AVX512_PACK inline void transpose16(__m512 (&r)[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // u[4g + k], 128-bit lane L: rows 4g..4g+3 of column 4L + k.
  __m512 u[16];
  for (int g = 0; g < 4; ++g) {
    const __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 2]);
    const __m512d c = _mm512_castps_pd(t[4 * g + 1]), d = _mm512_castps_pd(t[4 * g + 3]);
    u[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
    u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
    u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
    u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
  }
  for (int k = 0; k < 4; ++k) {
    const __m512 a = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x88);  // lanes 0, 2 of groups 0, 1
    const __m512 b = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xDD);  // lanes 1, 3
    const __m512 c = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x88);
    const __m512 d = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xDD);
    r[k] = _mm512_shuffle_f32x4(a, c, 0x88);
    r[8 + k] = _mm512_shuffle_f32x4(a, c, 0xDD);
    r[4 + k] = _mm512_shuffle_f32x4(b, d, 0x88);
    r[12 + k] = _mm512_shuffle_f32x4(b, d, 0xDD);
  }
}

}  // namespace

DUET_TARGET_AVX512_PACK void pack_a_rowmajor_12_avx512(int64_t kc, const float* A, int64_t rs, float* dst) {
  constexpr int MR = kAvx512MR;
  static_assert(MR == 12);
  int64_t p = 0;
  for (; p + 16 <= kc; p += 16) {
    __m512 r[16];
    for (int i = 0; i < MR; ++i) r[i] = _mm512_loadu_ps(A + i * rs + p);
    for (int i = MR; i < 16; ++i) r[i] = _mm512_setzero_ps();
    transpose16(r);
    for (int c = 0; c < 16; ++c) _mm512_mask_storeu_ps(dst + (p + c) * MR, __mmask16(0x0FFF), r[c]);
  }
  for (; p < kc; ++p)
    for (int i = 0; i < MR; ++i) dst[p * MR + i] = A[i * rs + p];
}

DUET_TARGET_AVX512_PACK void pack_b_colmajor_32_avx512(int64_t kc, const float* B, int64_t cs, float* dst) {
  constexpr int NR = kAvx512NR<float>;
  static_assert(NR == 32);
  int64_t p = 0;
  for (; p + 16 <= kc; p += 16)
    for (int g = 0; g < 2; ++g) {
      __m512 r[16];
      for (int j = 0; j < 16; ++j) r[j] = _mm512_loadu_ps(B + (16 * g + j) * cs + p);
      transpose16(r);
      for (int c = 0; c < 16; ++c) _mm512_store_ps(dst + (p + c) * NR + 16 * g, r[c]);
    }
  for (; p < kc; ++p)
    for (int j = 0; j < NR; ++j) dst[p * NR + j] = B[j * cs + p];
}

}  // namespace duet::cpu::detail
