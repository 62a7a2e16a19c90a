// Winograd F(2x2, 3x3) convolution, float32, AVX-512 (Lavin and Gray, "Fast Algorithms for
// Convolutional Neural Networks", 2016). Each 2 x 2 block of outputs ("tile") comes from the
// 4 x 4 input patch under it:
//
//   Y = A^T [ sum_c (G g_oc,c G^T) .* (B^T d_c B) ] A       (.* elementwise over 4 x 4)
//
// so per tile and channel pair the 36 multiplies of four 3x3 dot products become 16: the
// sum over c is 16 independent GEMMs (one per position xi of the 4 x 4), [OC x C] times
// [C x tiles]. Transforms:
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   (input: adds only)
//   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1] (weights: once a call, in double)
//   A^T = [1 1 1 0; 0 1 -1 -1]                        (output: adds only)
//
// Tiles live on the padded grid of conv_grid.h: with the input split into stride-2 phase
// planes (Note [Strided grids]), tile (th, tw) is grid position q = th * Wq + tw and its patch
// element (i, j) is element q + (i / 2) Wq + j / 2 of phase (i % 2, j % 2), so 16
// consecutive tiles are one vector load per patch element, and the GEMMs are conv_grid's
// 8-channel forward tiles with B rows 1 apart in channels (no im2col, no packing). Per
// sample (threads split the batch): pad and split the input, transform it (V: 16 x C x
// grid), 16 GEMMs into M (16 x OC x grid), then per output channel the output transform and
// the interleave of the four output phases into rows. The grid's last column per row and
// the tiles past the output's edge are computed and dropped, so layers whose output the
// 2 x 2 tiles and the grid cover poorly stay on the direct tiles (winograd_applies).
//
// Each output is a fixed sequence of float operations independent of the thread count, but
// not the direct kernels' sequence: results differ from theirs by rounding (the transforms
// add up to 9 terms before the products; tested against the float64 references with the
// direct kernels' tolerance).
//
// Measured (2-core VM, 2 threads, `duet_bench --benchmark_filter=conv/
// --benchmark_repetitions=3`, medians, ms, one run, 2026-12-07), Winograd against the
// direct tiles (duet_direct rows) and oneDNN:
//   fashion-resnet 16->16 28x28  forward 1.91 / 2.02 / 3.78   input grad 1.83 / 1.97 / 4.77
//   fashion-resnet 32->32 14x14  forward 1.64 / 1.95 / 1.74   input grad 1.62 / 1.90 / 1.90
// Most of the 16-channel forward is not the GEMMs (perf samples: forward tiles 29%,
// input transform 15%, padding and phase split 13%, phase interleave 7%, output transform
// 5%), which is why the 2.25x fewer multiplies give 1.06-1.19x; on 7 x 7 images the 2 x 2
// tiles and the grid's last column waste 60% of the work, and the direct tiles win.
//
// The weight gradient (Note [Winograd weight gradient], below) runs where the forward would
// and the output channels fill 1-4 vectors. Measured the same way (2026-12-07, two runs of
// 5 repetitions, Winograd / direct / oneDNN): 16->16 28x28 3.09 / 3.47 / 6.28 and 3.10 /
// 3.39 / 5.24 ms; 32->32 14x14 2.56 / 2.85 / 2.02 and 2.58 / 2.77 / 2.39 ms (the VM was
// slow that hour; earlier the same day 2.19 / 2.62 and 1.89 / 2.09). Its GEMMs were under
// half its time (perf on 16->16: GEMMs 44%, input transform 18%, dy transform 16%,
// padding 14%, dy phase split 7%); computing dM straight from dy's rows instead of from
// phase planes then made it 6-11% faster (two rounds alternating: 16->16 2.20, 2.31 ->
// 2.06, 2.06 ms; 32->32 1.84, 1.92 -> 1.72, 1.75 ms).
#include "kernels/cpu/conv_winograd.h"

#include <algorithm>
#include <atomic>
#include <vector>

#include "core/parallel.h"

#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace duet::cpu {
namespace {

using namespace conv_grid;

std::atomic<bool> g_winograd{true};

constexpr int kXi = 16;  // positions of the 4 x 4 transformed tile, xi = 4 a + b

// The tile grid of a stride-1 plan p: the input as stride-2 phase planes; TH x TW tiles, tile
// (th, tw) at grid position th * Wq + tw; Qn positions up to the last tile, Qpad rounded up
// to the GEMM tiles' width (16 NV).
struct TileGrid {
  Plan in;
  int64_t TH = 0, TW = 0, Qn = 0, NV = 2, Qpad = 0, blocks = 0;
  int64_t ys() const { return Qpad + kLanes; }  // a row of the staged output phases
};

TileGrid tile_grid(const Plan& p) {
  TileGrid t;
  t.in = make_plan(p.N, p.C, p.H, p.W, p.OC, 1, 3, 3, p.ph, p.pw, 1, 1, 2, 2);
  t.TH = (p.OH + 1) / 2, t.TW = (p.OW + 1) / 2;
  // A tile reads padded rows 2 th .. 2 th + 3: rows th and th + 1 of the phase planes, which
  // have ceil((OH + 2) / 2) = TH + 1 rows; likewise columns.
  t.Qn = (t.TH - 1) * t.in.Wq + t.TW;
  with_tile_width(t.Qn, [&]<int NV>() { t.NV = NV; });
  const int64_t w = t.NV * kLanes;
  t.Qpad = (t.Qn + w - 1) / w * w;
  t.blocks = (p.OC + kMR - 1) / kMR;
  return t;
}

// Working memory per thread: a chunk of V and of M, and every output channel's staged rows.
// The xi planes of V and M are a line past a multiple of 1 KB apart (kSkew): at exactly
// 2 KB, the 16 stores of a transform hit the same cache sets and alias 4 KB apart with
// the loads.
constexpr int64_t kSkew = kLanes;
int64_t v_xi(const TileGrid& t) { return t.in.C * t.NV * kLanes + kSkew; }
int64_t m_xi(const TileGrid& t) { return t.blocks * kMR * t.NV * kLanes + kSkew; }
int64_t v_floats(const TileGrid& t) { return kXi * v_xi(t); }
int64_t m_floats(const TileGrid& t) { return kXi * m_xi(t) + 4 * t.in.OC * t.ys(); }

// U = G g G^T for every (oc, c), packed as the forward tiles read their A operand: per xi,
// per block of kMR output channels, C steps of kMR values (zeros past OC).
std::vector<float> transform_weights(const TileGrid& t, const float* w, int64_t C, int64_t OC) {
  std::vector<float> a(size_t(kXi * t.blocks * C * kMR), 0.f);
  for (int64_t o = 0; o < OC; ++o)
    for (int64_t c = 0; c < C; ++c) {
      const float* g = w + (o * C + c) * 9;
      double m[4][3], u[4][4];
      for (int j = 0; j < 3; ++j) {
        const double g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
        m[0][j] = g0, m[1][j] = (g0 + g1 + g2) / 2, m[2][j] = (g0 - g1 + g2) / 2, m[3][j] = g2;
      }
      for (int i = 0; i < 4; ++i) {
        u[i][0] = m[i][0], u[i][1] = (m[i][0] + m[i][1] + m[i][2]) / 2;
        u[i][2] = (m[i][0] - m[i][1] + m[i][2]) / 2, u[i][3] = m[i][2];
      }
      for (int xi = 0; xi < kXi; ++xi)
        a[size_t(((xi * t.blocks + o / kMR) * C + c) * kMR + o % kMR)] = float(u[xi / 4][xi % 4]);
    }
  return a;
}

// V[xi][c][0 : width] = (B^T d B)[xi] for every channel and the grid positions q0 + [0,
// width), xi rows xi_stride apart (positions past the last tile read the next planes or the
// slack: garbage the forward drops). With `valid` (the weight gradient, where every
// position enters a sum), lanes that are not a tile (valid[(q0 + q) / 16]) store zeros.
template <bool Masked>
DUET_TARGET_AVX512 void transform_input(const TileGrid& t, const float* xp, int64_t q0, int64_t width, float* V,
                                        int64_t xi_stride, const __mmask16* valid) {
  const Plan& in = t.in;
  const int64_t C = in.C;
  for (int64_t c = 0; c < C; ++c) {
    const float* xc = xp + c * in.channel_floats() + q0;
    const float* src[4][4];
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) src[i][j] = xc + ((i % 2) * 2 + j % 2) * in.plane + (i / 2) * in.Wq + j / 2;
    float* dst = V + c * width;
    for (int64_t q = 0; q < width; q += kLanes) {
      __m512 u[4][4];
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        const __m512 d0 = _mm512_loadu_ps(src[0][j] + q), d1 = _mm512_loadu_ps(src[1][j] + q);
        const __m512 d2 = _mm512_loadu_ps(src[2][j] + q), d3 = _mm512_loadu_ps(src[3][j] + q);
        u[0][j] = _mm512_sub_ps(d0, d2), u[1][j] = _mm512_add_ps(d1, d2);
        u[2][j] = _mm512_sub_ps(d2, d1), u[3][j] = _mm512_sub_ps(d1, d3);
      }
      const __mmask16 keep = Masked ? valid[(q0 + q) / kLanes] : __mmask16(0xffff);
      const auto store = [keep](float* at, __m512 v) {
        _mm512_storeu_ps(at, Masked ? _mm512_maskz_mov_ps(keep, v) : v);
      };
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        float* row = dst + (4 * i) * xi_stride + q;
        store(row, _mm512_sub_ps(u[i][0], u[i][2]));
        store(row + xi_stride, _mm512_add_ps(u[i][1], u[i][2]));
        store(row + 2 * xi_stride, _mm512_sub_ps(u[i][2], u[i][1]));
        store(row + 3 * xi_stride, _mm512_sub_ps(u[i][1], u[i][3]));
      }
    }
  }
}

// Y = A^T m A for the width grid positions of one output channel's M row m (xi rows
// xi_stride apart), into the four output phase rows y (r, s), ys apart.
DUET_TARGET_AVX512 void transform_output(const float* m, int64_t xi_stride, int64_t width, float* y, int64_t ys) {
  for (int64_t q = 0; q < width; q += kLanes) {
    __m512 s[2][4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const __m512 m0 = _mm512_loadu_ps(m + j * xi_stride + q), m1 = _mm512_loadu_ps(m + (4 + j) * xi_stride + q);
      const __m512 m2 = _mm512_loadu_ps(m + (8 + j) * xi_stride + q);
      const __m512 m3 = _mm512_loadu_ps(m + (12 + j) * xi_stride + q);
      s[0][j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
      s[1][j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
    }
#pragma GCC unroll 2
    for (int r = 0; r < 2; ++r) {
      _mm512_storeu_ps(y + (2 * r) * ys + q, _mm512_add_ps(_mm512_add_ps(s[r][0], s[r][1]), s[r][2]));
      _mm512_storeu_ps(y + (2 * r + 1) * ys + q, _mm512_sub_ps(_mm512_sub_ps(s[r][1], s[r][2]), s[r][3]));
    }
  }
}

// Row 2 th + r of an OH x OW output plane: columns 2 tw + s from phase row (r, s) at
// th * Wq + tw (y: the channel's four phase rows, ys apart).
DUET_TARGET_AVX512 void interleave_phases(const TileGrid& t, const Plan& p, const float* y, int64_t ys, float* out) {
  const __m512i interleave = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  for (int64_t th = 0; th < t.TH; ++th)
    for (int r = 0; r < 2 && 2 * th + r < p.OH; ++r) {
      float* row = out + (2 * th + r) * p.OW;
      const float* y0 = y + (2 * r) * ys + th * t.in.Wq;
      const float* y1 = y0 + ys;
      for (int64_t tw = 0; tw < t.TW; tw += 8) {
        const __m512 a = _mm512_castps256_ps512(_mm256_loadu_ps(y0 + tw));
        const __m512 b = _mm512_castps256_ps512(_mm256_loadu_ps(y1 + tw));
        const int64_t n = std::min<int64_t>(kLanes, p.OW - 2 * tw);
        _mm512_mask_storeu_ps(row + 2 * tw, __mmask16((1u << n) - 1), _mm512_permutex2var_ps(a, interleave, b));
      }
    }
}

// Per sample: pad and split the input; per chunk of TWd grid positions (one GEMM tile
// wide, so V's and M's chunks stay in L1/L2) the input transform, 16 x blocks forward tiles
// and the output transform into the staged phase rows; then each channel's rows.
template <int NV>
void run_winograd(const Plan& p, const TileGrid& t, const ImageView& x, const std::vector<float>& a, float* out,
                  const ConvBlockEpilogue* epilogue) {
  constexpr int64_t TWd = NV * kLanes;
  const int64_t C = p.C, OC = p.OC, P = p.OH * p.OW, chunks = t.Qpad / TWd, Ys = t.ys();
  const int64_t mx = m_xi(t), vx = v_xi(t);
  std::vector<int64_t> off(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) off[size_t(c)] = c * TWd;
  parallel_for(0, p.N, 1, [&](int64_t lo, int64_t hi) {
    float* xp = scratch(0, t.in.padded_floats());
    float* V = scratch(1, v_floats(t));
    float* M = scratch(2, m_floats(t));
    float* Y = M + kXi * mx;  // per output channel o, its four phase rows at Y + 4 o Ys
    for (int64_t n = lo; n < hi; ++n) {
      pad_image(x, n, t.in, xp);
      for (int64_t k = 0; k < chunks; ++k) {
        const int64_t q0 = k * TWd;
        transform_input<false>(t, xp, q0, TWd, V, vx, nullptr);
        for (int64_t xi = 0; xi < kXi; ++xi)
          for (int64_t b = 0; b < t.blocks; ++b)
            forward_tile<NV>(C, a.data() + (xi * t.blocks + b) * C * kMR, off.data(), V + xi * vx,
                             M + xi * mx + b * kMR * TWd, TWd);
        for (int64_t o = 0; o < OC; ++o) transform_output(M + o * TWd, mx, TWd, Y + 4 * o * Ys + q0, Ys);
      }
      float* block = out + n * OC * P;
      for (int64_t o = 0; o < OC; ++o) interleave_phases(t, p, Y + 4 * o * Ys, Ys, block + o * P);
      if (epilogue) (*epilogue)(block, 0, OC, P);
    }
  });
}

// ---- weight gradient (Note [Winograd weight gradient])
//
// Note [Winograd weight gradient]: the forward's M[xi][oc, tile] = sum_c U[xi][oc, c]
// V[xi][c, tile] (U = G g G^T, V = B^T d B) has the gradient
//   dU[xi][oc, c] = sum over samples and tiles of dM[xi][oc, tile] V[xi][c, tile],
//   dM = A dY A^T (the 2 x 2 block of dy under the tile, to 4 x 4),  dg = G^T dU G,
// 16 GEMMs reducing over the tiles, where the direct weight gradient's 9 taps reduce over
// every pixel: 16 x 224 against 9 x 784 multiply-adds per channel pair and sample on 28 x 28
// maps, 16 x 64 against 9 x 196 on 14 x 14. Per sample: V over the whole grid (as the
// forward computes it, lanes that are no tile stored as zeros, so garbage past the last
// tile or in a dropped column cannot make a 0 x inf); dM pixel-major (dM[xi][q][oc],
// output channels contiguous), straight from dy's rows by in-register transposes, zeros
// where no tile; then per xi a tile of R input channels x OCV
// vectors of output channels, V broadcast, dM loaded, summed over the grid straight into
// the chunk's dU (no horizontal sums; the output channels are the lanes). Samples in fixed
// chunks, the chunks' dU added in order, dg in double at the end: bits independent of the
// thread count. Output channels must fill whole vectors (16, 32, 48 or 64).

int64_t wg_v_xi(const TileGrid& t) { return t.in.C * t.Qpad + kSkew; }
int64_t wg_m_xi(const TileGrid& t) { return t.Qpad * t.in.OC + kSkew; }

// Which grid positions are tiles, per 16: q < Qn and q % Wq < TW.
std::vector<__mmask16> tile_lanes(const TileGrid& t) {
  std::vector<__mmask16> m(size_t(t.Qpad / kLanes), 0);
  for (int64_t q = 0; q < t.Qn; ++q)
    if (q % t.in.Wq < t.TW) m[size_t(q / kLanes)] |= __mmask16(1u << (q % kLanes));
  return m;
}

// r[k] = column k of the 16 x 16 block in rows r[0..15] (in-register transpose: unpack,
// shuffle within 128-bit lanes, then two rounds of 128-bit lane shuffles).
DUET_TARGET_AVX512 inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]), t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44), r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xee);
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44), r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xee);
  }
  for (int h = 0; h < 16; h += 8)
    for (int i = 0; i < 4; ++i)
      t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88),
            t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xdd);
  for (int i = 0; i < 8; ++i)
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88), r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
}

// Columns ow0 .. ow0 + 15 of one dy row for 16 output channels from src (channel o at
// src + o sc), transposed: r[k] = the 16 channels' values at column ow0 + k, zeros past OW.
DUET_TARGET_AVX512 inline void dy_columns(const float* src, int64_t sc, int64_t sw, int64_t ow0, int64_t OW,
                                          __m512 r[16]) {
  const int64_t cols = std::min<int64_t>(kLanes, OW - ow0);
  if (sw == 1) {
    const __mmask16 m = __mmask16(cols >= kLanes ? 0xffffu : (1u << cols) - 1);
#pragma GCC unroll 16
    for (int o = 0; o < kLanes; ++o) r[o] = _mm512_maskz_loadu_ps(m, src + o * sc + ow0);
    transpose16(r);
    return;
  }
  alignas(64) float col[kLanes][kLanes] = {};
  for (int64_t k = 0; k < cols; ++k)
    for (int o = 0; o < kLanes; ++o) col[k][o] = src[o * sc + (ow0 + k) * sw];
  for (int k = 0; k < kLanes; ++k) r[k] = _mm512_load_ps(col[k]);
}

// dM = A dY A^T for sample n at every grid position, pixel-major: dM[xi * mx + q OC + o],
// straight from dy's rows (16 output channels x 16 columns transposed in registers, two
// rows a tile row); zeros at the positions that are no tile (lanes: tile_lanes). A = [1 0;
// 1 1; 1 -1; 0 -1].
// (Splitting dy into phase planes first and transforming those was 23% of the kernel in
// perf samples; with a scatter per 16 elements instead of the transposes, a third.)
DUET_TARGET_AVX512 void transform_dy(const TileGrid& t, const Plan& p, const ImageView& dy, int64_t n,
                                     const __mmask16* lanes, float* dM, int64_t mx) {
  const int64_t OC = p.OC, Wq = t.in.Wq;
  for (int64_t q = 0; q < t.Qpad; ++q)
    if (!((lanes[q / kLanes] >> (q % kLanes)) & 1))
      for (int xi = 0; xi < kXi; ++xi) zero_row(dM + xi * mx + q * OC, OC);
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t o0 = 0; o0 < OC; o0 += kLanes)
    for (int64_t th = 0; th < t.TH; ++th) {
      const float* src = dy.p + n * dy.sn + o0 * dy.sc + 2 * th * dy.sh;
      const bool second = 2 * th + 1 < p.OH;
      for (int64_t ow0 = 0; ow0 < p.OW; ow0 += kLanes) {
        __m512 y0[16], y1[16];
        dy_columns(src, dy.sc, dy.sw, ow0, p.OW, y0);
        if (second) dy_columns(src + dy.sh, dy.sc, dy.sw, ow0, p.OW, y1);
        else
          for (int k = 0; k < kLanes; ++k) y1[k] = zero;
        const int64_t tw_end = std::min<int64_t>(t.TW, ow0 / 2 + kLanes / 2);
        for (int64_t tw = ow0 / 2; tw < tw_end; ++tw) {
          const int64_t k = 2 * tw - ow0;
          // rows: a[i][s] = sum_r A[i][r] y[r][s]
          __m512 a[4][2];
          a[0][0] = y0[k], a[0][1] = y0[k + 1];
          a[1][0] = _mm512_add_ps(y0[k], y1[k]), a[1][1] = _mm512_add_ps(y0[k + 1], y1[k + 1]);
          a[2][0] = _mm512_sub_ps(y0[k], y1[k]), a[2][1] = _mm512_sub_ps(y0[k + 1], y1[k + 1]);
          a[3][0] = _mm512_sub_ps(zero, y1[k]), a[3][1] = _mm512_sub_ps(zero, y1[k + 1]);
          float* out = dM + (th * Wq + tw) * OC + o0;
#pragma GCC unroll 4
          for (int i = 0; i < 4; ++i) {
            float* row = out + (4 * i) * mx;
            _mm512_storeu_ps(row, a[i][0]);
            _mm512_storeu_ps(row + mx, _mm512_add_ps(a[i][0], a[i][1]));
            _mm512_storeu_ps(row + 2 * mx, _mm512_sub_ps(a[i][0], a[i][1]));
            _mm512_storeu_ps(row + 3 * mx, _mm512_sub_ps(zero, a[i][1]));
          }
        }
      }
    }
}

// dU[c][0 : 16 OCV] (+)= sum over q < Q of v[c][q] * dm[q OC + 0 : 16 OCV] for the R rows
// of vrow (rows >= rows are computed from row 0 and not stored).
template <int R, int OCV>
DUET_TARGET_AVX512 void wgrad_xi_tile(const float* const* vrow, int rows, const float* dm, int64_t OC, int64_t Q,
                                      float* du, bool first) {
  __m512 acc[R][OCV];
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < OCV; ++v)
      acc[r][v] = first || r >= rows ? _mm512_setzero_ps() : _mm512_loadu_ps(du + r * OC + v * kLanes);
  // With one vector of output channels, odd positions go to a second set of accumulators
  // (added at the end): 8 chains of 4-cycle FMAs alone left the two FMA ports waiting.
  constexpr int Sets = OCV == 1 ? 2 : 1;
  __m512 odd[R][OCV];
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < OCV; ++v) odd[r][v] = _mm512_setzero_ps();
  int64_t q = 0;
  for (; q + Sets <= Q; q += Sets, dm += Sets * OC) {
#pragma GCC unroll 2
    for (int h = 0; h < Sets; ++h) {
      __m512 d[OCV];
#pragma GCC unroll 4
      for (int v = 0; v < OCV; ++v) d[v] = _mm512_loadu_ps(dm + h * OC + v * kLanes);
#pragma GCC unroll 32
      for (int r = 0; r < R; ++r) {
        const __m512 b = _mm512_set1_ps(vrow[r][q + h]);
#pragma GCC unroll 4
        for (int v = 0; v < OCV; ++v) {
          __m512& a = h == 0 ? acc[r][v] : odd[r][v];
          a = _mm512_fmadd_ps(b, d[v], a);
        }
      }
    }
  }
  for (; q < Q; ++q, dm += OC)
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < OCV; ++v)
        acc[r][v] = _mm512_fmadd_ps(_mm512_set1_ps(vrow[r][q]), _mm512_loadu_ps(dm + v * kLanes), acc[r][v]);
  if (Sets == 2)
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < OCV; ++v) acc[r][v] = _mm512_add_ps(acc[r][v], odd[r][v]);
  for (int r = 0; r < rows; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < OCV; ++v) _mm512_storeu_ps(du + r * OC + v * kLanes, acc[r][v]);
}

// One chunk of samples [n0, n0 + S) into du ([16][C][OC], overwritten).
// R input channels a tile: 8, or 4 with 4 vectors of output channels (R x OCV accumulators
// within the 32 registers; R row pointers within the general registers: with 16 rows GCC
// kept them in vector registers and moved one out per broadcast, measured 2.5x slower).
template <int OCV>
void wgrad_chunk(const Plan& p, const TileGrid& t, const ImageView& dy, const ImageView& x,
                 const std::vector<__mmask16>& lanes, int64_t n0, int64_t S, float* du) {
  constexpr int R = OCV == 4 ? 4 : 8;
  const int64_t C = p.C, OC = p.OC, vx = wg_v_xi(t), mx = wg_m_xi(t);
  float* xp = scratch(0, t.in.padded_floats());
  float* V = scratch(1, kXi * vx);
  float* dM = scratch(2, kXi * mx);
  for (int64_t s = 0; s < S; ++s) {
    pad_image(x, n0 + s, t.in, xp);
    transform_input<true>(t, xp, 0, t.Qpad, V, vx, lanes.data());
    transform_dy(t, p, dy, n0 + s, lanes.data(), dM, mx);
    for (int64_t xi = 0; xi < kXi; ++xi)
      for (int64_t c0 = 0; c0 < C; c0 += R) {
        const int rows = int(std::min<int64_t>(R, C - c0));
        const float* vrow[R];
        for (int r = 0; r < R; ++r) vrow[r] = V + xi * vx + (c0 + (r < rows ? r : 0)) * t.Qpad;
        wgrad_xi_tile<R, OCV>(vrow, rows, dM + xi * mx, OC, t.Qpad, du + (xi * C + c0) * OC, s == 0);
      }
  }
}

}  // namespace

void set_conv_winograd(bool on) { g_winograd = on; }
bool conv_winograd() { return g_winograd; }

bool winograd_applies(const Plan& p) {
  if (!g_winograd || p.KH != 3 || p.KW != 3 || p.sh != 1 || p.sw != 1 || p.dh != 1 || p.dw != 1 || p.groups != 1)
    return false;
  if (p.C < 8 || p.OC < 8 || p.OH < 2 || p.OW < 2) return false;
  const TileGrid t = tile_grid(p);
  // Outputs computed (4 a grid position) against outputs kept: 28 x 28 keeps 88%, 14 x 14
  // 77%, 7 x 7 38% (there the direct tiles win).
  const bool dense = p.OH * p.OW * 10 >= 6 * 4 * t.Qpad;
  const int64_t bytes = (t.in.padded_floats() + v_floats(t) + m_floats(t)) * int64_t(sizeof(float));
  return dense && bytes <= 4 * kMaxPaddedBytes;
}

void winograd_forward(const Plan& p, const ImageView& x, const float* w, float* out,
                      const ConvBlockEpilogue* epilogue) {
  const TileGrid t = tile_grid(p);
  const std::vector<float> a = transform_weights(t, w, p.C, p.OC);
  if (t.NV == 2) run_winograd<2>(p, t, x, a, out, epilogue);
  else run_winograd<3>(p, t, x, a, out, epilogue);
}

bool winograd_weight_grad_applies(const Plan& p) {
  if (!winograd_applies(p) || p.OC % kLanes != 0 || p.OC > 4 * kLanes) return false;
  // Per thread a whole sample's V and dM (fashion-resnet's 16->16: 0.5 MB).
  const TileGrid t = tile_grid(p);
  const int64_t floats = kXi * wg_v_xi(t) + kXi * wg_m_xi(t);
  return floats * int64_t(sizeof(float)) <= 4 * kMaxPaddedBytes;
}

void winograd_weight_grad(const Plan& p, const ImageView& dy, const ImageView& x, float* dw, int64_t chunk) {
  const TileGrid t = tile_grid(p);
  const int64_t C = p.C, OC = p.OC, usize = kXi * C * OC, chunks = (p.N + chunk - 1) / chunk;
  const std::vector<__mmask16> lanes = tile_lanes(t);
  std::vector<float> du(size_t(std::max<int64_t>(1, chunks) * usize), 0.f);  // per chunk [16][C][OC]
  parallel_for(0, chunks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t k = lo; k < hi; ++k) {
      const int64_t n0 = k * chunk, S = std::min(p.N, n0 + chunk) - n0;
      float* part = du.data() + k * usize;
      switch (OC / kLanes) {
        case 1: wgrad_chunk<1>(p, t, dy, x, lanes, n0, S, part); break;
        case 2: wgrad_chunk<2>(p, t, dy, x, lanes, n0, S, part); break;
        case 3: wgrad_chunk<3>(p, t, dy, x, lanes, n0, S, part); break;
        default: wgrad_chunk<4>(p, t, dy, x, lanes, n0, S, part); break;
      }
    }
  });
  for (int64_t k = 1; k < chunks; ++k)
    for (int64_t i = 0; i < usize; ++i) du[size_t(i)] += du[size_t(k * usize + i)];
  // dg = G^T dU G per (oc, c), in double. G^T = [1 1/2 1/2 0; 0 1/2 -1/2 0; 0 1/2 1/2 1].
  static constexpr double GT[3][4] = {{1, 0.5, 0.5, 0}, {0, 0.5, -0.5, 0}, {0, 0.5, 0.5, 1}};
  for (int64_t o = 0; o < OC; ++o)
    for (int64_t c = 0; c < C; ++c) {
      double u[4][4], m[3][4];
      for (int xi = 0; xi < kXi; ++xi) u[xi / 4][xi % 4] = du[size_t((xi * C + c) * OC + o)];
      for (int a = 0; a < 3; ++a)
        for (int j = 0; j < 4; ++j) m[a][j] = GT[a][0] * u[0][j] + GT[a][1] * u[1][j] + GT[a][2] * u[2][j] + GT[a][3] * u[3][j];
      float* g = dw + (o * C + c) * 9;
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b)
          g[a * 3 + b] = float(m[a][0] * GT[b][0] + m[a][1] * GT[b][1] + m[a][2] * GT[b][2] + m[a][3] * GT[b][3]);
    }
}

}  // namespace duet::cpu
