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
// width) (positions past the last tile read the next planes or the slack: finite garbage,
// dropped).
DUET_TARGET_AVX512 void transform_input(const TileGrid& t, const float* xp, int64_t q0, int64_t width, float* V) {
  const Plan& in = t.in;
  const int64_t C = in.C, xi_stride = v_xi(t);
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
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        float* row = dst + (4 * i) * xi_stride + q;
        _mm512_storeu_ps(row, _mm512_sub_ps(u[i][0], u[i][2]));
        _mm512_storeu_ps(row + xi_stride, _mm512_add_ps(u[i][1], u[i][2]));
        _mm512_storeu_ps(row + 2 * xi_stride, _mm512_sub_ps(u[i][2], u[i][1]));
        _mm512_storeu_ps(row + 3 * xi_stride, _mm512_sub_ps(u[i][1], u[i][3]));
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
        transform_input(t, xp, q0, TWd, V);
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

}  // namespace duet::cpu
