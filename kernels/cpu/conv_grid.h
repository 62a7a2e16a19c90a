// The padded-width grid shared by the direct (conv_direct.cpp) and Winograd
// (conv_winograd.cpp) convolution kernels: the plan of one convolution, each sample's
// zero-padded (or phase-split) input planes, per-thread working memory, and the 8-channel
// forward tile that both run their GEMM-shaped inner loops on. conv_direct.cpp's header
// explains the grid; Note [Strided grids] below, the phase planes.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/thread_scratch.h"

#define DUET_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))

namespace duet::cpu::conv_grid {

constexpr int kLanes = 16;
constexpr int kMR = 8;            // output channels per forward tile
constexpr int64_t kSlack = 4 * kLanes;  // zeros after the padded planes: a tile's last loads
constexpr int64_t kMaxPaddedBytes = int64_t(1) << 20;

// One convolution as the kernels see it: an image of N x C x H x W, padded by (ph, pw),
// convolved with KH x KW taps dilated by (dh, dw), stride (sh, sw), into N x OC x OH x OW.
//
// Note [Strided grids]: with stride s the padded input is split into s x s phase planes,
// phase (r, t) holding the padded elements at rows = r and columns = t modulo s, each plane
// Hq x Wq = ceil(Hp / sh) x ceil(Wp / sw). The padded element (oh sh + i dh, ow sw + j dw)
// that tap (i, j) multiplies into output (oh, ow) is element (oh + i dh / sh, ow + j dw / sw)
// of phase (i dh % sh, j dw % sw): a stride-1 read again, so output pixels q = oh * Wq + ow
// of the grid read consecutive elements of one phase plane per tap. A valid output never
// reads past its row (ow sw + j dw <= Wp - 1, so ow + j dw / sw <= (Wp - 1) / sw < Wq).
// With stride 1 there is one phase, the padded planes themselves.
struct Plan {
  int64_t N, C, H, W, OC, groups, Cg, OCg, KH, KW, ph, pw, dh, dw, sh, sw;
  int64_t Hp = 0, Wp = 0, Hq = 0, Wq = 0, plane = 0, OH = 0, OW = 0;
  int64_t Qn = 0;  // grid pixels up to the last valid output: (OH - 1) * Wq + OW
  int64_t Kg() const { return Cg * KH * KW; }
  int64_t phases() const { return sh * sw; }
  int64_t channel_floats() const { return phases() * plane; }
  int64_t padded_floats() const { return C * channel_floats() + kSlack; }
};

inline Plan make_plan(int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int64_t groups, int64_t KH, int64_t KW,
               int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t sh, int64_t sw) {
  Plan p{N, C, H, W, OC, groups, C / groups, OC / groups, KH, KW, ph, pw, dh, dw, sh, sw};
  p.Hp = H + 2 * ph, p.Wp = W + 2 * pw;
  p.Hq = (p.Hp + sh - 1) / sh, p.Wq = (p.Wp + sw - 1) / sw, p.plane = p.Hq * p.Wq;
  p.OH = (p.Hp - dh * (KH - 1) - 1) / sh + 1, p.OW = (p.Wp - dw * (KW - 1) - 1) / sw + 1;
  p.Qn = (p.OH - 1) * p.Wq + p.OW;
  return p;
}

// Short row copies and fills inline, in 16-lane pieces with a masked tail: rows here are
// 7-30 floats, and a call to memmove / memset per row measured ~30% of pad_image.
DUET_TARGET_AVX512 inline void copy_row(float* dst, const float* src, int64_t n) {
  for (; n >= kLanes; n -= kLanes, src += kLanes, dst += kLanes) _mm512_storeu_ps(dst, _mm512_loadu_ps(src));
  if (n > 0) {
    const __mmask16 m = __mmask16((1u << n) - 1);
    _mm512_mask_storeu_ps(dst, m, _mm512_maskz_loadu_ps(m, src));
  }
}
DUET_TARGET_AVX512 inline void zero_row(float* dst, int64_t n) {
  const __m512 z = _mm512_setzero_ps();
  for (; n >= kLanes; n -= kLanes, dst += kLanes) _mm512_storeu_ps(dst, z);
  if (n > 0) _mm512_mask_storeu_ps(dst, __mmask16((1u << n) - 1), z);
}

// A contiguous row of n floats split by column parity: src[0], src[2], ... to even,
// src[1], src[3], ... to odd (stride-2 phase planes; two permutes per 32 floats instead of
// a scalar copy per element, which was a quarter of a stride-2 layer's time).
DUET_TARGET_AVX512 inline void split_row2(float* even, float* odd, const float* src, int64_t n) {
  const __m512i ie = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i io = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  for (; n >= 2 * kLanes; n -= 2 * kLanes, src += 2 * kLanes, even += kLanes, odd += kLanes) {
    const __m512 a = _mm512_loadu_ps(src), b = _mm512_loadu_ps(src + kLanes);
    _mm512_storeu_ps(even, _mm512_permutex2var_ps(a, ie, b));
    _mm512_storeu_ps(odd, _mm512_permutex2var_ps(a, io, b));
  }
  if (n > 0) {
    const auto mask = [](int64_t k) { return __mmask16(k >= kLanes ? 0xffffu : (1u << k) - 1); };
    const __m512 a = _mm512_maskz_loadu_ps(mask(n), src);
    const __m512 b = _mm512_maskz_loadu_ps(mask(std::max<int64_t>(0, n - kLanes)), src + kLanes);
    _mm512_mask_storeu_ps(even, mask((n + 1) / 2), _mm512_permutex2var_ps(a, ie, b));
    _mm512_mask_storeu_ps(odd, mask(n / 2), _mm512_permutex2var_ps(a, io, b));
  }
}

// Sample n's planes, zero-padded (and split into phases, Note [Strided grids]), into xp
// (p.padded_floats() values).
DUET_TARGET_AVX512 inline void pad_image(const ImageView& x, int64_t n, const Plan& p, float* xp) {
  if (p.phases() > 1) {
    zero_row(xp, p.padded_floats());
    for (int64_t c = 0; c < p.C; ++c)
      for (int64_t h = 0; h < p.H; ++h) {
        const int64_t hp = p.ph + h;
        const float* src = x.p + n * x.sn + c * x.sc + h * x.sh;
        float* phase_rows = xp + c * p.channel_floats() + (hp % p.sh) * p.sw * p.plane + (hp / p.sh) * p.Wq;
        if (p.sw == 2 && x.sw == 1) {  // even w to column class pw % 2, odd w to the other
          split_row2(phase_rows + (p.pw % 2) * p.plane + p.pw / 2, phase_rows + ((p.pw + 1) % 2) * p.plane + (p.pw + 1) / 2,
                     src, p.W);
          continue;
        }
        for (int64_t t = 0; t < p.sw; ++t) {  // the columns w with (pw + w) % sw == t
          const int64_t w0 = ((t - p.pw) % p.sw + p.sw) % p.sw;
          float* dst = phase_rows + t * p.plane + (p.pw + w0) / p.sw;
          for (int64_t w = w0; w < p.W; w += p.sw) *dst++ = src[w * x.sw];
        }
      }
    return;
  }
  for (int64_t c = 0; c < p.C; ++c) {
    float* plane = xp + c * p.plane;
    zero_row(plane, p.ph * p.Wp);
    for (int64_t h = 0; h < p.H; ++h) {
      float* row = plane + (p.ph + h) * p.Wp;
      const float* src = x.p + n * x.sn + c * x.sc + h * x.sh;
      zero_row(row, p.pw);
      if (x.sw == 1) copy_row(row + p.pw, src, p.W);
      else
        for (int64_t w = 0; w < p.W; ++w) row[p.pw + w] = src[w * x.sw];
      zero_row(row + p.pw + p.W, p.Wp - p.pw - p.W);
    }
    zero_row(plane + (p.ph + p.H) * p.Wp, (p.Hp - p.ph - p.H) * p.Wp);
  }
  zero_row(xp + p.C * p.plane, kSlack);
}

// Working memory: thread_scratch slots 2-4 (thread_scratch.h).
inline float* scratch(int slot, int64_t n) { return thread_scratch<float>(2 + slot, n); }

// c[r, 0 : 16 NV] = sum_k a[k, r] * x[off[k] + 0 : 16 NV] for the kMR rows r.
template <int NV>
DUET_TARGET_AVX512 inline void forward_tile(int64_t K, const float* a, const int64_t* off, const float* x, float* c,
                                     int64_t ldc) {
  __m512 acc[kMR][NV];
#pragma GCC unroll 32
  for (int r = 0; r < kMR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; ++k, a += kMR) {
    const float* b = x + off[k];
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_loadu_ps(b + v * kLanes);
#pragma GCC unroll 32
    for (int r = 0; r < kMR; ++r) {
      const __m512 ar = _mm512_set1_ps(a[r]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(ar, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 32
  for (int r = 0; r < kMR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(c + r * ldc + v * kLanes, acc[r][v]);
}

// Tiles of 32 or 48 grid pixels, whichever covers Qn with fewer dropped pixels.
template <typename Fn>
void with_tile_width(int64_t Qn, const Fn& fn) {
  const auto padded = [&](int64_t w) { return (Qn + w - 1) / w * w; };
  if (padded(2 * kLanes) < padded(3 * kLanes)) fn.template operator()<2>();
  else fn.template operator()<3>();
}

}  // namespace duet::cpu::conv_grid
