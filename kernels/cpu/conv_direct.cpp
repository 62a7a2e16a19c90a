// Direct convolution (float32, AVX-512) on a padded-width grid.
//
// Pad one sample's input planes once, to Hp x Wp (Hp = H + 2 ph, Wp = W + 2 pw), and number
// the output pixels on the padded width: q = oh * Wp + ow. With stride 1 the input element
// that kernel tap (c, i, j) multiplies into output q is then xp[c * Hp * Wp + i * dh * Wp +
// j * dw + q]: for a fixed tap, consecutive outputs read consecutive inputs, across row ends
// too. So a tile of 16 * NV consecutive grid pixels times 8 output channels is a GEMM micro-
// tile whose B rows are plain unaligned loads from xp at a per-tap offset: no im2col matrix,
// no packing of B. The grid's columns ow >= OW (Wp - OW per row) are computed and dropped.
// Strided layers read phase planes instead (Note [Strided grids]).
//
//   forward      out[oc, q] = sum_k W[oc, k] * xp[off[k] + q]        (8 x 16 NV register tile)
//                groups of 64k channels on rows with a width divisible by 4-7: channels in
//                the lanes, R pixels of a row broadcast (no dropped columns)
//   input grad   stride 1: the forward of dy with the flipped, transposed weights and
//                padding dilation * (k - 1) - padding; strided: per phase of dx (Note
//                [Strided input gradients])
//   weight grad  dW[oc, k] = sum_n sum_q dyg[oc, q] * xp[off[k] + q], dyg = dy on the grid
//                with zeros at ow >= OW; a 4 x 6 tile of (oc, k) dot products in 16-lane
//                vectors, the input loads masked to the valid lanes (so an inf or NaN that
//                only a dropped column reads stays out, as in PyTorch), reduced at the end of
//                each chunk of samples; groups of 32/48/64k channels: channels in the lanes,
//                dy transposed to pixel-major, valid pixels only, no horizontal sums;
//                dense 3x3 stride-1 layers with 16-64 output channels: Winograd
//                (winograd_weight_grad; the table's wgrad rows below predate it: 16->16
//                and 32->32 now take 0.81x and 0.86x of the direct kernel's time)
//
// Each output is a multiply-add chain in a fixed order (taps in (c, i, j) order, or lanes
// then a fixed tree): deterministic and independent of the thread count.
//
// Measured against oneDNN, 2-core VM, 2 threads, `duet_bench --benchmark_filter=conv/
// --benchmark_repetitions=3`, medians, ms, all columns from one run (2026-12-07; the VM's
// speed drifts by 15-20% between runs, so compare within a run). "duet" is what conv.cpp
// runs: these kernels, or Winograd (W, conv_winograd.cpp) for the forward and stride-1
// input gradient of dense 3x3 layers; "direct" the same pass with Winograd off:
//
//   layer (batch)              pass     duet    direct  oneDNN
//   lenet conv1 1->6 5x5 (64)  forward   0.10            0.23
//                              wgrad     0.16            0.22
//   lenet conv2 6->16 5x5      forward   0.17            0.12
//                              dgrad     0.36            0.29
//                              wgrad     0.24            0.34
//   resnet 16->16 3x3 28x28    forward   1.91 W  2.02    3.78
//   (128)                      dgrad     1.83 W  1.97    4.77
//                              wgrad     2.57            2.40
//   resnet 32->32 3x3 14x14    forward   1.64 W  1.95    1.74
//                              dgrad     1.62 W  1.90    1.90
//                              wgrad     2.08            1.76
//   resnet 64->64 3x3 7x7      forward   1.72    1.73    1.47
//                              dgrad     1.79    1.78    1.55
//                              wgrad     2.15            1.69
//   resnet 16->32 3x3 s2       forward   1.31            1.35
//                              dgrad     1.68            1.21
//                              wgrad     1.41            1.42
//   resnet 32->64 3x3 s2       forward   1.21            0.99
//                              dgrad     1.41            1.17
//                              wgrad     1.38            1.12
// Against im2col + GEMM (conv.cpp's other family; an earlier run) the direct kernels were
// 1.1-7x faster on every row above. im2col stays for float64, 1x1 kernels (a plain or
// subsampled copy, measured faster: 0.45 against 1.24 ms for the 16->32 1x1 stride 2), the
// one-channel stem's forward (9 taps) and input gradients with fewer than 4 channels.
// Where oneDNN still wins (0.79-0.87x on the 7x7 and stride-2 layers and the 32/64-channel
// weight gradients; 0.72-0.82x on lenet conv2's forward and input gradient), what is left
// is the grid's dropped columns, the per-sample padded copy and transposes, and tiles that
// reach ~75% of the FMA peak where oneDNN's blocked-layout kernels reach ~90%.
#include "kernels/cpu/conv_direct.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/parallel.h"
#include "kernels/cpu/conv_grid.h"
#include "kernels/cpu/conv_winograd.h"
#include "kernels/cpu/gemm.h"

#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace duet::cpu {
namespace {

using namespace conv_grid;

constexpr int kWgradRows = 4;     // output channels per weight-gradient tile
constexpr int kWgradTaps = 6;     // kernel taps per weight-gradient tile

Plan forward_plan(const ConvDims& d) {
  return make_plan(d.N, d.C, d.H, d.W, d.OC, d.groups, d.KH, d.KW, d.g.ph, d.g.pw, d.g.dh, d.g.dw, d.g.sh, d.g.sw);
}
// Stride 1: dx = the forward of dy (OC channels) with padding d (k - 1) - p, giving C channels.
Plan input_grad_plan(const ConvDims& d) {
  return make_plan(d.N, d.OC, d.OH, d.OW, d.C, d.groups, d.KH, d.KW, d.g.dh * (d.KH - 1) - d.g.ph,
                   d.g.dw * (d.KW - 1) - d.g.pw, d.g.dh, d.g.dw, 1, 1);
}

bool common_applies(const ConvDims& d) {
  return detail::gemm_isa() == detail::GemmIsa::Avx512 && d.KH * d.KW > 1 && d.N > 0 && d.OH > 0 && d.OW > 0 &&
         d.C > 0 && d.OC > 0;
}
bool fits(const Plan& p) { return p.padded_floats() * int64_t(sizeof(float)) <= kMaxPaddedBytes; }
// A forward tile computes kMR output channels over Kg taps: with fewer than 4 channels most
// of it is padding, and with fewer than 16 taps the tile's store and copy outweigh its
// arithmetic (measured: the 16 -> 1 channel input gradient of fashion-resnet's stem 0.57 ms
// on im2col, 1.46 here; its 1 -> 16 forward, 9 taps, 0.47 against 0.55).
bool forward_tiles_pay(const Plan& p) { return p.OCg >= 4 && p.Kg() >= 16; }


// The valid outputs of a group's grid (OCg rows of Qpad) into its contiguous OCg x OH x OW block.
DUET_TARGET_AVX512 void grid_to_planes(const Plan& p, const float* grid, int64_t Qpad, float* block) {
  for (int64_t o = 0; o < p.OCg; ++o)
    for (int64_t oh = 0; oh < p.OH; ++oh) copy_row(block + o * (p.OH * p.OW) + oh * p.OW, grid + o * Qpad + oh * p.Wq, p.OW);
}
// Sample n of dy onto the grid: OC rows of Qs, zeros at the dropped columns and past the
// end (all `floats` values written).
DUET_TARGET_AVX512 void planes_to_grid(const Plan& p, const ImageView& dy, int64_t n, int64_t Qs, float* dyg,
                                       int64_t floats) {
  zero_row(dyg, floats);
  for (int64_t o = 0; o < p.OC; ++o)
    for (int64_t oh = 0; oh < p.OH; ++oh) {
      const float* src = dy.p + n * dy.sn + o * dy.sc + oh * dy.sh;
      float* dst = dyg + o * Qs + oh * p.Wq;
      if (dy.sw == 1) copy_row(dst, src, p.OW);
      else
        for (int64_t ow = 0; ow < p.OW; ++ow) dst[ow] = src[ow * dy.sw];
    }
}

// off[k] for the taps k = (c, i, j) of one group, relative to the group's first channel.
std::vector<int64_t> tap_offsets(const Plan& p) {
  std::vector<int64_t> off;
  off.reserve(size_t(p.Kg()));
  for (int64_t c = 0; c < p.Cg; ++c)
    for (int64_t i = 0; i < p.KH; ++i)
      for (int64_t j = 0; j < p.KW; ++j) {
        const int64_t r = i * p.dh, t = j * p.dw;
        const int64_t phase = (r % p.sh) * p.sw + t % p.sw;
        off.push_back((c * p.phases() + phase) * p.plane + (r / p.sh) * p.Wq + t / p.sw);
      }
  return off;
}

// Between channel-major planes and pixel-major rows, 16 pixels a vector: a scatter (or
// gather) of one channel's 16 pixels to their rows. A scalar loop per element measured a
// fifth of the 64-channel weight gradient's time.
DUET_TARGET_AVX512 inline __m512i pixel_rows(int64_t ld) {
  return _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                            _mm512_set1_epi32(int(ld)));
}
DUET_TARGET_AVX512 inline __mmask16 pixel_mask(int64_t left) {
  return left >= kLanes ? __mmask16(0xffff) : __mmask16((1u << left) - 1);
}
// dst[q ld + o] = src[o sc + q] for o < rows, q < P.
DUET_TARGET_AVX512 void planes_to_pixels(const float* src, int64_t sc, int64_t rows, int64_t P, float* dst, int64_t ld) {
  const __m512i idx = pixel_rows(ld);
  for (int64_t o = 0; o < rows; ++o)
    for (int64_t q = 0; q < P; q += kLanes) {
      const __mmask16 m = pixel_mask(P - q);
      _mm512_mask_i32scatter_ps(dst + q * ld + o, m, idx, _mm512_maskz_loadu_ps(m, src + o * sc + q), 4);
    }
}
// dst[o P + q] = src[q ld + o] for o < rows, q < P.
DUET_TARGET_AVX512 void pixels_to_planes(const float* src, int64_t ld, int64_t rows, int64_t P, float* dst) {
  const __m512i idx = pixel_rows(ld);
  for (int64_t o = 0; o < rows; ++o)
    for (int64_t q = 0; q < P; q += kLanes) {
      const __mmask16 m = pixel_mask(P - q);
      _mm512_mask_storeu_ps(dst + o * P + q, m,
                            _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, src + q * ld + o, 4));
    }
}

// ---- forward (and input gradient)

// Weights as the forward tiles read them: per group, per block of kMR output channels, Kg
// steps of kMR values (zeros past the group's channels). weight(g, o, c, i, j).
template <typename Weight>
std::vector<float> pack_weights(const Plan& p, const Weight& weight) {
  const int64_t blocks = (p.OCg + kMR - 1) / kMR, K = p.Kg();
  std::vector<float> a(size_t(p.groups * blocks * K * kMR), 0.f);
  for (int64_t g = 0; g < p.groups; ++g)
    for (int64_t o = 0; o < p.OCg; ++o) {
      float* dst = a.data() + ((g * blocks + o / kMR) * K) * kMR + o % kMR;
      for (int64_t c = 0; c < p.Cg; ++c)
        for (int64_t i = 0; i < p.KH; ++i)
          for (int64_t j = 0; j < p.KW; ++j, dst += kMR) *dst = weight(g, o, c, i, j);
    }
  return a;
}


template <int NV>
void run_forward(const Plan& p, const ImageView& x, const std::vector<float>& a, float* out,
                 const ConvBlockEpilogue* epilogue) {
  constexpr int64_t TW = NV * kLanes;
  const int64_t K = p.Kg(), blocks = (p.OCg + kMR - 1) / kMR;
  const int64_t tiles = (p.Qn + TW - 1) / TW, Qpad = tiles * TW, P = p.OH * p.OW;
  const std::vector<int64_t> off = tap_offsets(p);
  parallel_for(0, p.N, 1, [&](int64_t lo, int64_t hi) {
    float* xp = scratch(0, p.padded_floats());
    float* grid = scratch(1, blocks * kMR * Qpad);
    for (int64_t n = lo; n < hi; ++n) {
      pad_image(x, n, p, xp);
      for (int64_t g = 0; g < p.groups; ++g) {
        const float* xg = xp + g * p.Cg * p.channel_floats();
        const float* ag = a.data() + g * blocks * K * kMR;
        for (int64_t t = 0; t < tiles; ++t)
          for (int64_t b = 0; b < blocks; ++b)
            forward_tile<NV>(K, ag + b * K * kMR, off.data(), xg + t * TW, grid + b * kMR * Qpad + t * TW, Qpad);
        float* block = out + (n * p.OC + g * p.OCg) * P;
        grid_to_planes(p, grid, Qpad, block);
        if (epilogue) (*epilogue)(block, g * p.OCg, p.OCg, P);
      }
    }
  });
}

// ---- forward with output channels in the vector lanes (groups of 64k channels)
//
// On small images the grid's dropped columns cost most (7 x 7 outputs on a 9-wide grid fill
// 49 of 64 lanes). With 64 output channels per group the lanes can hold channels instead:
// R pixels of one output row x OCV vectors of channels, each tap one broadcast per pixel
// and OCV loads of the transposed weights; only valid pixels are computed.

// Weights transposed: per group Kg rows of OCg, wt[(g Kg + k) OCg + o].
template <typename Weight>
std::vector<float> pack_weights_transposed(const Plan& p, const Weight& weight) {
  const int64_t K = p.Kg();
  std::vector<float> wt(size_t(p.groups * K * p.OCg));
  for (int64_t g = 0; g < p.groups; ++g)
    for (int64_t o = 0; o < p.OCg; ++o) {
      int64_t k = 0;
      for (int64_t c = 0; c < p.Cg; ++c)
        for (int64_t i = 0; i < p.KH; ++i)
          for (int64_t j = 0; j < p.KW; ++j, ++k) wt[size_t((g * K + k) * p.OCg + o)] = weight(g, o, c, i, j);
    }
  return wt;
}

// outt[rr, r, 0 : 16 OCV] = sum_k x[off[k] + rr xrow + r] * wt[k, 0 : 16 OCV] for the ROWS
// rows rr of R pixels r (row stride ld of wt and outt; outt's rows orow apart). ROWS x R x
// OCV <= 28 accumulators.
template <int R, int OCV, int ROWS>
DUET_TARGET_AVX512 void forward_broadcast_tile(int64_t K, const float* wt, const int64_t* off, const float* x,
                                               int64_t xrow, float* outt, int64_t ld, int64_t orow) {
  __m512 acc[ROWS][R][OCV];
#pragma GCC unroll 2
  for (int rr = 0; rr < ROWS; ++rr)
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < OCV; ++v) acc[rr][r][v] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; ++k, wt += ld) {
    const float* b = x + off[k];
    __m512 w[OCV];
#pragma GCC unroll 4
    for (int v = 0; v < OCV; ++v) w[v] = _mm512_loadu_ps(wt + v * kLanes);
#pragma GCC unroll 2
    for (int rr = 0; rr < ROWS; ++rr)
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const __m512 xr = _mm512_set1_ps(b[rr * xrow + r]);
#pragma GCC unroll 4
        for (int v = 0; v < OCV; ++v) acc[rr][r][v] = _mm512_fmadd_ps(xr, w[v], acc[rr][r][v]);
      }
  }
#pragma GCC unroll 2
  for (int rr = 0; rr < ROWS; ++rr)
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < OCV; ++v) _mm512_storeu_ps(outt + rr * orow + r * ld + v * kLanes, acc[rr][r][v]);
}

// A broadcast tile's shape: R pixels (dividing OW, so tiles never cross a row) x OCV
// channel vectors (dividing the group's channels); R = 0 when none fits and the lane path
// takes the layer. Measured on fashion-resnet (2 threads, one run, A/B): its 7 x 7,
// 64-channel layers (R = 7, OCV = 4; 28 accumulators, one spilled by GCC) forward 1.9 ms
// against 2.35 on the lane path, input gradient 1.9 against 2.3; its 14 x 14, 32-channel
// layers (R = 14, OCV = 2) no faster than the lane path (1.9 both), so 32 stays there.
struct BroadcastShape {
  int R = 0, OCV = 0;
};
BroadcastShape broadcast_shape(const Plan& p) {
  if (p.OCg % 64 == 0)
    for (int r : {7, 6, 5, 4})
      if (p.OW % r == 0) return {r, 4};
  return {};
}

template <int R, int OCV>
void run_forward_broadcast(const Plan& p, const ImageView& x, const std::vector<float>& wt, float* out,
                           const ConvBlockEpilogue* epilogue) {
  const int64_t K = p.Kg(), P = p.OH * p.OW;
  const std::vector<int64_t> off = tap_offsets(p);
  parallel_for(0, p.N, 1, [&](int64_t lo, int64_t hi) {
    float* xp = scratch(0, p.padded_floats());
    float* outt = scratch(1, P * p.OCg);  // pixel-major: outt[pix * OCg + o]
    for (int64_t n = lo; n < hi; ++n) {
      pad_image(x, n, p, xp);
      for (int64_t g = 0; g < p.groups; ++g) {
        const float* xg = xp + g * p.Cg * p.channel_floats();
        const float* wg = wt.data() + g * K * p.OCg;
        // Pairs of rows by 2 channel vectors (28 accumulators for R = 7, none spilled),
        // an odd last row by OCV vectors.
        const int64_t orow = p.OW * p.OCg;
        int64_t oh = 0;
        for (; oh + 2 <= p.OH; oh += 2)
          for (int64_t ow = 0; ow < p.OW; ow += R)
            for (int64_t o0 = 0; o0 < p.OCg; o0 += 2 * kLanes)
              forward_broadcast_tile<R, 2, 2>(K, wg + o0, off.data(), xg + oh * p.Wq + ow, p.Wq,
                                              outt + (oh * p.OW + ow) * p.OCg + o0, p.OCg, orow);
        if (oh < p.OH)
          for (int64_t ow = 0; ow < p.OW; ow += R)
            for (int64_t o0 = 0; o0 < p.OCg; o0 += OCV * kLanes)
              forward_broadcast_tile<R, OCV, 1>(K, wg + o0, off.data(), xg + oh * p.Wq + ow, p.Wq,
                                                outt + (oh * p.OW + ow) * p.OCg + o0, p.OCg, orow);
        float* block = out + (n * p.OC + g * p.OCg) * P;
        pixels_to_planes(outt, p.OCg, p.OCg, P, block);
        if (epilogue) (*epilogue)(block, g * p.OCg, p.OCg, P);
      }
    }
  });
}

// The forward of plan p with weight(g, o, c, i, j), on whichever tiles suit it.
template <typename Weight>
void forward(const Plan& p, const ImageView& x, const Weight& weight, float* out, const ConvBlockEpilogue* epilogue) {
  if (winograd_applies(p)) {
    std::vector<float> w(size_t(p.OC * p.C * 9));
    for (int64_t o = 0; o < p.OC; ++o)
      for (int64_t c = 0; c < p.C; ++c)
        for (int64_t i = 0; i < 3; ++i)
          for (int64_t j = 0; j < 3; ++j) w[size_t(((o * p.C + c) * 3 + i) * 3 + j)] = weight(0, o, c, i, j);
    return winograd_forward(p, x, w.data(), out, epilogue);
  }
  const BroadcastShape b = broadcast_shape(p);
  if (b.R > 0) {
    const std::vector<float> wt = pack_weights_transposed(p, weight);
    switch (b.R) {
      case 7: return run_forward_broadcast<7, 4>(p, x, wt, out, epilogue);
      case 6: return run_forward_broadcast<6, 4>(p, x, wt, out, epilogue);
      case 5: return run_forward_broadcast<5, 4>(p, x, wt, out, epilogue);
      default: return run_forward_broadcast<4, 4>(p, x, wt, out, epilogue);
    }
  }
  const std::vector<float> a = pack_weights(p, weight);
  with_tile_width(p.Qn, [&]<int NV>() { run_forward<NV>(p, x, a, out, epilogue); });
}

// ---- weight gradient

// out[r, t] = sum over the samples and q of dy_s[row[r] + q] * x_s[tap[t] + q], x read
// only where masks[q / 16] says the lane is an output pixel.
DUET_TARGET_AVX512 void wgrad_tile(int64_t S, const float* const* dys, const float* const* xs, const int64_t* row,
                                   const int64_t* tap, const __mmask16* masks, int64_t Qv, float* out) {
  __m512 acc[kWgradRows][kWgradTaps];
#pragma GCC unroll 32
  for (int r = 0; r < kWgradRows; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < kWgradTaps; ++t) acc[r][t] = _mm512_setzero_ps();
  for (int64_t s = 0; s < S; ++s) {
    const float* dy[kWgradRows];
    const float* x[kWgradTaps];
    for (int r = 0; r < kWgradRows; ++r) dy[r] = dys[s] + row[r];
    for (int t = 0; t < kWgradTaps; ++t) x[t] = xs[s] + tap[t];
    for (int64_t v = 0; v < Qv; ++v) {
      const __mmask16 m = masks[v];
      __m512 d[kWgradRows];
#pragma GCC unroll 8
      for (int r = 0; r < kWgradRows; ++r) d[r] = _mm512_loadu_ps(dy[r] + v * kLanes);
#pragma GCC unroll 8
      for (int t = 0; t < kWgradTaps; ++t) {
        const __m512 xv = _mm512_maskz_loadu_ps(m, x[t] + v * kLanes);
#pragma GCC unroll 8
        for (int r = 0; r < kWgradRows; ++r) acc[r][t] = _mm512_fmadd_ps(d[r], xv, acc[r][t]);
      }
    }
  }
  for (int r = 0; r < kWgradRows; ++r)
    for (int t = 0; t < kWgradTaps; ++t) out[r * kWgradTaps + t] = _mm512_reduce_add_ps(acc[r][t]);
}

// The weight gradient with output channels in the vector lanes (groups of >= 32 channels):
// dwt[r, 0 : 16 OCV] (+)= sum over the output pixels of x[tap[r] + oh Wq + ow] *
// dyt[(oh OW + ow) ldt + 0 : 16 OCV], dyt being dy transposed to pixel-major. Only valid
// pixels enter (no grid columns, no masks), and the sum lands in the accumulators with no
// horizontal reduction; R taps x OCV vectors = 24 accumulators.
template <int R, int OCV>
DUET_TARGET_AVX512 void wgrad_broadcast_tile(const float* x, const int64_t* tap, const Plan& p, const float* dyt,
                                             int64_t ldt, float* dwt, int64_t ldw, bool first) {
  __m512 acc[R][OCV];
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < OCV; ++v) acc[r][v] = first ? _mm512_setzero_ps() : _mm512_load_ps(dwt + r * ldw + v * kLanes);
  for (int64_t oh = 0; oh < p.OH; ++oh) {
    const float* xr = x + oh * p.Wq;
    const float* d = dyt + oh * p.OW * ldt;
    for (int64_t ow = 0; ow < p.OW; ++ow, d += ldt) {
      __m512 dv[OCV];
#pragma GCC unroll 4
      for (int v = 0; v < OCV; ++v) dv[v] = _mm512_load_ps(d + v * kLanes);
#pragma GCC unroll 32
      for (int r = 0; r < R; ++r) {
        const __m512 b = _mm512_set1_ps(xr[tap[r] + ow]);
#pragma GCC unroll 4
        for (int v = 0; v < OCV; ++v) acc[r][v] = _mm512_fmadd_ps(b, dv[v], acc[r][v]);
      }
    }
  }
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < OCV; ++v) _mm512_store_ps(dwt + r * ldw + v * kLanes, acc[r][v]);
}

// Sample n of dy, pixel-major: dyt[(oh OW + ow) OC + o] = dy[n, o, oh, ow].
void transpose_to_pixels(const Plan& p, const ImageView& dy, int64_t n, float* dyt) {
  if (dy.sw == 1 && dy.sh == p.OW) return planes_to_pixels(dy.p + n * dy.sn, dy.sc, p.OC, p.OH * p.OW, dyt, p.OC);
  for (int64_t o = 0; o < p.OC; ++o)
    for (int64_t oh = 0; oh < p.OH; ++oh) {
      const float* src = dy.p + n * dy.sn + o * dy.sc + oh * dy.sh;
      float* dst = dyt + oh * p.OW * p.OC + o;
      for (int64_t ow = 0; ow < p.OW; ++ow) dst[ow * p.OC] = src[ow * dy.sw];
    }
}

// Output-channel vectors per broadcast tile: 4, 3 or 2 (0: the group is not 32, 48 or 64k
// channels wide, and the lane kernel takes it).
int broadcast_vectors(const Plan& p) {
  if (p.OCg % 64 == 0) return 4;
  if (p.OCg % 48 == 0) return 3;
  if (p.OCg % 32 == 0) return 2;
  return 0;
}

// One chunk of samples [n0, n0 + S) by broadcast tiles, into acc as the tiles hold it: per
// group Kg rows of OCg (the caller transposes once, after the chunks are added).
template <int OCV>
void wgrad_chunk_broadcast(const Plan& p, const ImageView& dy, const ImageView& x, const std::vector<int64_t>& off,
                           int64_t n0, int64_t S, float* acc) {
  constexpr int R = 24 / OCV;
  const int64_t K = p.Kg(), Kpad = (K + R - 1) / R * R;
  float* xp = scratch(0, p.padded_floats());
  float* dyt = scratch(1, p.OH * p.OW * p.OC);
  float* dwt = scratch(2, p.groups * Kpad * p.OCg);  // per group: Kpad rows of OCg
  for (int64_t s = 0; s < S; ++s) {
    pad_image(x, n0 + s, p, xp);
    transpose_to_pixels(p, dy, n0 + s, dyt);
    for (int64_t g = 0; g < p.groups; ++g)
      for (int64_t k0 = 0; k0 < K; k0 += R) {
        int64_t tap[R];
        for (int r = 0; r < R; ++r) tap[r] = k0 + r < K ? g * p.Cg * p.channel_floats() + off[size_t(k0 + r)] : 0;
        for (int64_t o0 = 0; o0 < p.OCg; o0 += OCV * kLanes)
          wgrad_broadcast_tile<R, OCV>(xp, tap, p, dyt + g * p.OCg + o0, p.OC, dwt + (g * Kpad + k0) * p.OCg + o0,
                                       p.OCg, s == 0);
      }
  }
  for (int64_t g = 0; g < p.groups; ++g) std::copy_n(dwt + g * Kpad * p.OCg, K * p.OCg, acc + g * K * p.OCg);
}

// One chunk of samples by lane tiles (any channel count), into acc (OC x Kg).
void wgrad_chunk_lanes(const Plan& p, const ImageView& dy, const ImageView& x, const std::vector<int64_t>& off,
                       const std::vector<__mmask16>& masks, int64_t chunk, int64_t n0, int64_t S, float* acc) {
  const int64_t K = p.Kg(), Qv = int64_t(masks.size()), Qs = Qv * kLanes;
  // Per sample: its padded input, then dy on the grid: OC rows of Qs and one row of zeros
  // (the rows a tile reads past its group's channels).
  const int64_t xfloats = p.padded_floats(), dyfloats = (p.OC + 1) * Qs;
  float* xbuf = scratch(0, chunk * xfloats);
  float* dybuf = scratch(1, chunk * dyfloats);  // dyfloats is a multiple of 16: rows stay aligned
  std::vector<const float*> xs(static_cast<size_t>(chunk)), dys(static_cast<size_t>(chunk));
  for (int64_t s = 0; s < S; ++s) {
    float* xp = xbuf + s * xfloats;
    float* dyg = dybuf + s * dyfloats;
    pad_image(x, n0 + s, p, xp);
    planes_to_grid(p, dy, n0 + s, Qs, dyg, dyfloats);
    xs[size_t(s)] = xp, dys[size_t(s)] = dyg;
  }
  float tile[kWgradRows * kWgradTaps];
  for (int64_t g = 0; g < p.groups; ++g)
    for (int64_t o0 = 0; o0 < p.OCg; o0 += kWgradRows)
      for (int64_t k0 = 0; k0 < K; k0 += kWgradTaps) {
        int64_t row[kWgradRows], tap[kWgradTaps];
        for (int r = 0; r < kWgradRows; ++r) row[r] = (o0 + r < p.OCg ? g * p.OCg + o0 + r : p.OC) * Qs;
        for (int t = 0; t < kWgradTaps; ++t) tap[t] = k0 + t < K ? g * p.Cg * p.channel_floats() + off[size_t(k0 + t)] : 0;
        wgrad_tile(S, dys.data(), xs.data(), row, tap, masks.data(), Qv, tile);
        for (int r = 0; r < kWgradRows && o0 + r < p.OCg; ++r)
          for (int t = 0; t < kWgradTaps && k0 + t < K; ++t) acc[(g * p.OCg + o0 + r) * K + k0 + t] = tile[r * kWgradTaps + t];
      }
}

// ---- input gradient of a strided convolution
//
// Note [Strided input gradients]: with stride s, dx's rows fall into s classes by
// (ih + ph) % sh = r. A row of class r, ih = a sh + r - ph, receives dy row oh = a - b_i
// from exactly the taps i with i dh = b_i sh + r, and nothing else. So each (row class,
// column class) phase of dx is a stride-1 correlation of dy with that phase's taps, at
// offsets -b_i: the grid forward again, over one zero-padded copy of dy shared by the
// phases (rows shifted down by T, columns right by L, enough for every phase's reads),
// with each phase's own tap offsets and weights, its outputs scattered to their rows and
// columns of dx. Every dx element is written by exactly one phase, as a sum over (o, i, j)
// in a fixed order (a phase without taps runs tiles of K = 0, which store zeros).
struct StridedPhase {
  int64_t rh = 0, rw = 0;                 // the row and column class
  int64_t a0 = 0, A = 0, c0 = 0, Ac = 0;  // first output row (col) index a and count, per class
  std::vector<int64_t> is, js;            // the class's taps
  std::vector<int64_t> bi, bj;            // their shifts b
};

// The phase of row class rh and column class rw (sizes of dx, stride, padding, dilation).
StridedPhase strided_phase(const ConvDims& d, int64_t rh, int64_t rw) {
  const Window2d& g = d.g;
  StridedPhase ph;
  ph.rh = rh, ph.rw = rw;
  const auto first = [](int64_t pad, int64_t r, int64_t s) {  // ceil((pad - r) / s), for pad - r >= -s
    const int64_t v = pad - r;
    return v <= 0 ? -((-v) / s) : (v + s - 1) / s;
  };
  ph.a0 = first(g.ph, rh, g.sh);
  ph.A = std::max<int64_t>(0, (d.H - 1 + g.ph - rh) >= 0 ? (d.H - 1 + g.ph - rh) / g.sh - ph.a0 + 1 : 0);
  ph.c0 = first(g.pw, rw, g.sw);
  ph.Ac = std::max<int64_t>(0, (d.W - 1 + g.pw - rw) >= 0 ? (d.W - 1 + g.pw - rw) / g.sw - ph.c0 + 1 : 0);
  for (int64_t i = 0; i < d.KH; ++i)
    if ((i * g.dh) % g.sh == rh) ph.is.push_back(i), ph.bi.push_back((i * g.dh - rh) / g.sh);
  for (int64_t j = 0; j < d.KW; ++j)
    if ((j * g.dw) % g.sw == rw) ph.js.push_back(j), ph.bj.push_back((j * g.dw - rw) / g.sw);
  return ph;
}

void input_grad_strided(const ImageView& dy, const float* w, float* dx, const ConvDims& d) {
  const Window2d& g = d.g;
  std::vector<StridedPhase> phases;
  for (int64_t rh = 0; rh < g.sh; ++rh)
    for (int64_t rw = 0; rw < g.sw; ++rw) phases.push_back(strided_phase(d, rh, rw));
  // The shared padded dy: rows at T + oh, columns at L + ow, Hpad x Wq.
  int64_t T = 0, L = 0;
  for (const StridedPhase& ph : phases) {
    for (int64_t b : ph.bi) T = std::max(T, b - ph.a0);
    for (int64_t b : ph.bj) L = std::max(L, b - ph.c0);
  }
  int64_t Hpad = T + d.OH, Wq = L + d.OW;
  for (const StridedPhase& ph : phases) {
    for (int64_t b : ph.bi) Hpad = std::max(Hpad, ph.A + ph.a0 - b + T);
    for (int64_t b : ph.bj) Wq = std::max(Wq, ph.Ac + ph.c0 - b + L);
  }
  Plan p = make_plan(d.N, d.OC, d.OH, d.OW, d.C, d.groups, 1, 1, 0, 0, 1, 1, 1, 1);
  p.ph = T, p.pw = L, p.Hp = p.Hq = Hpad, p.Wp = p.Wq = Wq, p.plane = Hpad * Wq;
  // Per phase: tap offsets (relative to a group's first dy channel) and packed weights:
  // output "channel" r = dx's channel c, taps k = (o, i, j).
  const int64_t blocks = (d.Cg + kMR - 1) / kMR, KK = d.KH * d.KW;
  struct Job {
    const StridedPhase* ph;
    int64_t K, Qn, tw, tiles;  // tiles of tw = 32 or 48 grid pixels, as with_tile_width picks
    std::vector<int64_t> off;
    std::vector<float> a;
  };
  std::vector<Job> jobs;
  for (const StridedPhase& ph : phases) {
    if (ph.A == 0 || ph.Ac == 0) continue;
    Job j{&ph, d.OCg * int64_t(ph.is.size() * ph.js.size()), (ph.A - 1) * Wq + ph.Ac, 0, 0, {}, {}};
    with_tile_width(j.Qn, [&]<int NV>() { j.tw = NV * kLanes; });
    j.tiles = (j.Qn + j.tw - 1) / j.tw;
    for (int64_t o = 0; o < d.OCg; ++o)
      for (size_t ii = 0; ii < ph.is.size(); ++ii)
        for (size_t jj = 0; jj < ph.js.size(); ++jj)
          j.off.push_back(o * p.plane + (ph.a0 - ph.bi[ii] + T) * Wq + (ph.c0 - ph.bj[jj] + L));
    j.a.assign(size_t(d.groups * blocks * j.K * kMR), 0.f);
    for (int64_t gi = 0; gi < d.groups; ++gi)
      for (int64_t c = 0; c < d.Cg; ++c) {
        float* dst = j.a.data() + ((gi * blocks + c / kMR) * j.K) * kMR + c % kMR;
        for (int64_t o = 0; o < d.OCg; ++o)
          for (int64_t i : ph.is)
            for (int64_t jw : ph.js) {
              *dst = w[((gi * d.OCg + o) * d.Cg + c) * KK + i * d.KW + jw];
              dst += kMR;
            }
      }
    jobs.push_back(std::move(j));
  }
  int64_t grid_floats = 0;
  for (const Job& j : jobs) grid_floats = std::max(grid_floats, blocks * kMR * j.tiles * j.tw);
  parallel_for(0, d.N, 1, [&](int64_t lo, int64_t hi) {
    float* dyp = scratch(0, p.padded_floats());
    float* grid = scratch(1, grid_floats);
    for (int64_t n = lo; n < hi; ++n) {
      pad_image(dy, n, p, dyp);
      float* dxn = dx + n * d.C * d.H * d.W;
      for (const Job& j : jobs) {
        const StridedPhase& ph = *j.ph;
        const int64_t TW = j.tw, Qpad = j.tiles * TW;
        for (int64_t gi = 0; gi < d.groups; ++gi) {
          const float* xg = dyp + gi * d.OCg * p.plane;
          const float* ag = j.a.data() + gi * blocks * j.K * kMR;
          for (int64_t t = 0; t < j.tiles; ++t)
            for (int64_t b = 0; b < blocks; ++b) {
              float* c = grid + b * kMR * Qpad + t * TW;
              if (TW == 2 * kLanes) forward_tile<2>(j.K, ag + b * j.K * kMR, j.off.data(), xg + t * TW, c, Qpad);
              else forward_tile<3>(j.K, ag + b * j.K * kMR, j.off.data(), xg + t * TW, c, Qpad);
            }
          for (int64_t c = 0; c < d.Cg; ++c)
            for (int64_t a = 0; a < ph.A; ++a) {
              const float* src = grid + c * Qpad + a * Wq;
              float* dst =
                  dxn + ((gi * d.Cg + c) * d.H + (ph.a0 + a) * g.sh + ph.rh - g.ph) * d.W + ph.c0 * g.sw + ph.rw - g.pw;
              for (int64_t b = 0; b < ph.Ac; ++b) dst[b * g.sw] = src[b];
            }
        }
      }
    }
  });
}

}  // namespace

bool conv_direct_forward_applies(const ConvDims& d) {
  return common_applies(d) && d.N >= get_num_threads() && fits(forward_plan(d)) && forward_tiles_pay(forward_plan(d));
}
bool conv_direct_input_grad_applies(const ConvDims& d) {
  if (!common_applies(d) || d.N < get_num_threads()) return false;
  if (d.g.sh > 1 || d.g.sw > 1)  // Note [Strided input gradients]: dy padded by at most a kernel's reach
    return d.Cg >= 4 && d.OCg >= 4 && d.g.ph < d.KH * d.g.dh && d.g.pw < d.KW * d.g.dw &&
           fits(make_plan(d.N, d.OC, d.OH + d.KH * d.g.dh, d.OW + d.KW * d.g.dw, d.OC, d.groups, 1, 1, 0, 0, 1, 1, 1, 1));
  return d.g.ph <= d.g.dh * (d.KH - 1) && d.g.pw <= d.g.dw * (d.KW - 1) && fits(input_grad_plan(d)) &&
         forward_tiles_pay(input_grad_plan(d));
}
bool conv_direct_weight_grad_applies(const ConvDims& d) { return common_applies(d) && fits(forward_plan(d)); }

void conv_direct_forward(const ImageView& x, const float* w, float* out, const ConvDims& d,
                         const ConvBlockEpilogue& epilogue) {
  const Plan p = forward_plan(d);
  const int64_t KK = d.KH * d.KW;
  const auto weight = [&](int64_t g, int64_t o, int64_t c, int64_t i, int64_t j) {
    return w[((g * p.OCg + o) * p.Cg + c) * KK + i * d.KW + j];
  };
  forward(p, x, weight, out, epilogue ? &epilogue : nullptr);
}

void conv_direct_input_grad(const ImageView& dy, const float* w, float* dx, const ConvDims& d) {
  if (d.g.sh > 1 || d.g.sw > 1) return input_grad_strided(dy, w, dx, d);
  const Plan p = input_grad_plan(d);  // its "output channel" o is x's channel, its "c" dy's
  const int64_t KK = d.KH * d.KW;
  const auto weight = [&](int64_t g, int64_t o, int64_t c, int64_t i, int64_t j) {
    return w[((g * d.OCg + c) * d.Cg + o) * KK + (d.KH - 1 - i) * d.KW + (d.KW - 1 - j)];
  };
  forward(p, dy, weight, dx, nullptr);
}

void conv_direct_weight_grad(const ImageView& dy, const ImageView& x, float* dw, const ConvDims& d, int64_t chunk) {
  const Plan p = forward_plan(d);
  if (winograd_weight_grad_applies(p)) return winograd_weight_grad(p, dy, x, dw, chunk);
  const int64_t K = p.Kg(), Qv = (p.Qn + kLanes - 1) / kLanes;
  const int64_t wsize = p.OC * K, chunks = (p.N + chunk - 1) / chunk;
  const std::vector<int64_t> off = tap_offsets(p);
  const int vectors = broadcast_vectors(p);
  std::vector<__mmask16> masks;  // the lane tiles' valid lanes, per 16 grid pixels
  if (vectors == 0)
    for (int64_t v = 0; v < Qv; ++v) {
      unsigned m = 0;
      for (int l = 0; l < kLanes; ++l) {
        const int64_t q = v * kLanes + l;
        if (q < p.Qn && q % p.Wq < p.OW) m |= 1u << l;
      }
      masks.push_back(__mmask16(m));
    }
  // Chunk 0 sums straight into dw, or (broadcast tiles: their per-group Kg x OCg layout)
  // into the buffer transposed into dw at the end; the others into partial, added in order.
  std::vector<float> partial(size_t((chunks - (vectors ? 0 : 1)) * wsize));
  float* first = vectors ? partial.data() + (chunks - 1) * wsize : dw;
  parallel_for(0, chunks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) {
      const int64_t n0 = c * chunk, S = std::min(p.N, n0 + chunk) - n0;
      float* acc = c == 0 ? first : partial.data() + (c - 1) * wsize;
      switch (vectors) {
        case 4: wgrad_chunk_broadcast<4>(p, dy, x, off, n0, S, acc); break;
        case 3: wgrad_chunk_broadcast<3>(p, dy, x, off, n0, S, acc); break;
        case 2: wgrad_chunk_broadcast<2>(p, dy, x, off, n0, S, acc); break;
        default: wgrad_chunk_lanes(p, dy, x, off, masks, chunk, n0, S, acc);
      }
    }
  });
  for (int64_t c = 1; c < chunks; ++c) {
    const float* src = partial.data() + (c - 1) * wsize;
    for (int64_t i = 0; i < wsize; ++i) first[i] += src[i];
  }
  if (vectors)
    for (int64_t g = 0; g < p.groups; ++g)
      pixels_to_planes(first + g * K * p.OCg, p.OCg, p.OCg, K, dw + g * p.OCg * K);
}

}  // namespace duet::cpu
