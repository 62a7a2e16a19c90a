// CPU kernels of the fused attention ops (core/ops.def: attention, attention_backward),
// flash-attention style: the L x S score matrix is never in memory. Per batch index
// (every head of every sequence), queries go in tiles of kBr rows and keys in tiles of
// kBc; each tile's scores are one GEMM into a kBr x kBc scratch block.
//   forward:  the online softmax over key tiles: per row a running max m and sum l, the
//             output accumulator rescaled by e^{m_old - m_new} when the max grows, then
//             acc / l; each row's log-sum-exp m + log l is stored after the output (the
//             op's flat result, core/ops.def). Tiles wholly above the causal diagonal are
//             skipped.
//   backward: D = rowsum(dout * out) - dlse (the gradient of the stored log-sum-exp, 0
//             when only the output is used); then per (query tile, key tile) P = e^{s -
//             lse} with the forward's lse, dV += P^T dout, dP = dout V^T, dS = P (dP - D)
//             scale, dQ += dS K and dK += dS^T Q: five GEMMs per tile pair, the gradients
//             accumulated in place.
// Work: forward 2 L S E multiply-adds (as the composite), backward 5 (the composite's 4
// plus recomputing the scores); memory: O(kBr kBc) scratch per thread. Until the forward
// stored the log-sum-exp, the backward recomputed it in a pass of its own (a sixth GEMM
// and a second exponential of every score). Threads take
// (batch, query tile) pairs in the forward pass and batch indices in the backward pass
// (dK and dV sum over query tiles), so results do not depend on the thread count.
// The exponentials are the elementwise kernels' (AVX2 exp256 for float32; std::exp
// otherwise). Measured: bench/bench_attention.cpp (figures in docs/ARCHITECTURE.md).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/ops/attention_geometry.h"
#include "core/parallel.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/elementwise_common.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/kernels.h"

namespace duet::cpu {
namespace {

constexpr int64_t kBr = 64;   // query rows per tile
constexpr int64_t kBc = 128;  // keys per tile

using Geometry = AttentionGeometry;

// x[c] = e^{x[c] - shift} for c < n (the elementwise kernels' exp for float32 on AVX2).
DUET_TARGET_AVX2 void exp_shifted_avx2(float* x, int64_t n, float shift) {
  const __m256 s = _mm256_set1_ps(shift);
  int64_t c = 0;
  for (; c + 8 <= n; c += 8) _mm256_storeu_ps(x + c, ew::exp256(_mm256_sub_ps(_mm256_loadu_ps(x + c), s)));
  if (c < n) {
    const __m256i m = ew::tail_mask(n - c);
    _mm256_maskstore_ps(x + c, m, ew::exp256(_mm256_sub_ps(_mm256_maskload_ps(x + c, m), s)));
  }
}

template <typename T>
void exp_shifted(T* x, int64_t n, T shift) {
  if constexpr (std::is_same_v<T, float>) {
    if (has_avx2_fma()) return exp_shifted_avx2(x, n, shift);
  }
  for (int64_t c = 0; c < n; ++c) x[c] = std::exp(x[c] - shift);
}

// How many of a tile's keys j0 .. j0 + cols - 1 query row i sees.
int64_t visible_in_tile(const Geometry& g, int64_t i, int64_t j0, int64_t cols) {
  return std::clamp<int64_t>(g.visible_keys(i) - j0, 0, cols);
}

// A tile's score row as weights: e^{row - shift} for the `valid` keys it sees, 0 for the
// rest (all 0 when shift is -inf: the row has seen nothing).
template <typename T>
void weights_row(T* row, int64_t valid, int64_t cols, T shift) {
  if (shift == -std::numeric_limits<T>::infinity()) valid = 0;
  else exp_shifted(row, valid, shift);
  std::fill(row + valid, row + cols, T(0));
}

// s = scale * Q[i0 : i0 + rows] K[j0 : j0 + cols]^T, row-major rows x cols.
template <typename T>
void scores(const Geometry& g, const T* q, const T* k, int64_t i0, int64_t rows, int64_t j0, int64_t cols, T* s) {
  gemm<T>(rows, cols, g.E, T(g.scale), q + i0 * g.E, g.E, 1, k + j0 * g.E, 1, g.E, T(0), s, cols, 1);
}

// The online softmax of one query tile against every key tile it sees. With v (forward):
// acc = sum of e^{s - m} v, then the output rows; without (backward's first pass): each
// row's log-sum-exp m + log l into lse.
template <typename T>
void online_softmax_tile(const Geometry& g, const T* q, const T* k, const T* v, int64_t i0, int64_t rows, T* out,
                         T* lse) {
  std::vector<T> s(size_t(kBr * kBc)), acc(v ? size_t(rows * g.Ev) : 0, T(0));
  std::vector<T> m(size_t(rows), -std::numeric_limits<T>::infinity()), l(size_t(rows), T(0));
  const int64_t keys = g.visible_keys(i0 + rows - 1);
  for (int64_t j0 = 0; j0 < keys; j0 += kBc) {
    const int64_t cols = std::min(kBc, keys - j0);
    scores(g, q, k, i0, rows, j0, cols, s.data());
    for (int64_t r = 0; r < rows; ++r) {
      T* row = s.data() + r * cols;
      const int64_t valid = visible_in_tile(g, i0 + r, j0, cols);
      T mx = -std::numeric_limits<T>::infinity();
      for (int64_t c = 0; c < valid; ++c) mx = row[c] > mx ? row[c] : mx;
      const T m_new = std::max(m[size_t(r)], mx);
      T alpha = T(1);
      weights_row(row, valid, cols, m_new);
      if (m_new != -std::numeric_limits<T>::infinity()) {  // else nothing seen yet (or all -inf)
        alpha = std::exp(m[size_t(r)] - m_new);
        T sum = 0;
        for (int64_t c = 0; c < valid; ++c) sum += row[c];
        l[size_t(r)] = l[size_t(r)] * alpha + sum;
        m[size_t(r)] = m_new;
      }
      if (v && alpha != T(1))
        for (int64_t e = 0; e < g.Ev; ++e) acc[size_t(r * g.Ev + e)] *= alpha;
    }
    if (v)  // acc += P V[j0 : j0 + cols]
      gemm<T>(rows, g.Ev, cols, T(1), s.data(), cols, 1, v + j0 * g.Ev, g.Ev, 1, T(1), acc.data(), g.Ev, 1);
  }
  for (int64_t r = 0; r < rows; ++r) {
    const T sum = l[size_t(r)];
    if (lse) lse[r] = sum > 0 ? m[size_t(r)] + std::log(sum) : -std::numeric_limits<T>::infinity();
    if (v)
      for (int64_t e = 0; e < g.Ev; ++e)
        out[(i0 + r) * g.Ev + e] = sum > 0 ? acc[size_t(r * g.Ev + e)] / sum : T(0);
  }
}

template <typename T>
void forward(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  const Tensor q = in[0].contiguous(), k = in[1].contiguous(), v = in[2].contiguous();
  const Geometry g = attention_geometry(q, v, attrs);
  if (out.numel() == 0) return;
  const T *pq = q.data<T>(), *pk = k.data<T>(), *pv = v.data<T>();
  T* po = out.data<T>();
  T* plse = po + g.batch * g.L * g.Ev;  // the rows' log-sum-exp, after the output
  const int64_t tiles = (g.L + kBr - 1) / kBr;
  parallel_for(0, g.batch * tiles, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t b = t / tiles, i0 = (t % tiles) * kBr;
      online_softmax_tile<T>(g, pq + b * g.L * g.E, pk + b * g.S * g.E, pv + b * g.S * g.Ev, i0,
                             std::min(kBr, g.L - i0), po + b * g.L * g.Ev, plse + b * g.L + i0);
    }
  });
}

// One batch index's gradients, accumulated into dq, dk, dv (zeroed by the caller); lse and
// dlse are its rows' stored log-sum-exp and that part of the output gradient.
template <typename T>
void backward_one(const Geometry& g, const T* dout, const T* dlse, const T* q, const T* k, const T* v, const T* o,
                  const T* lse, T* dq, T* dk, T* dv) {
  std::vector<T> d(size_t(g.L)), p(size_t(kBr * kBc)), ds(size_t(kBr * kBc));
  for (int64_t i = 0; i < g.L; ++i) {
    T sum = 0;
    for (int64_t e = 0; e < g.Ev; ++e) sum += dout[i * g.Ev + e] * o[i * g.Ev + e];
    d[size_t(i)] = sum - dlse[i];
  }
  const T scale = T(g.scale);
  for (int64_t i0 = 0; i0 < g.L; i0 += kBr) {
    const int64_t rows = std::min(kBr, g.L - i0), keys = g.visible_keys(i0 + rows - 1);
    for (int64_t j0 = 0; j0 < keys; j0 += kBc) {
      const int64_t cols = std::min(kBc, keys - j0);
      scores(g, q, k, i0, rows, j0, cols, p.data());
      for (int64_t r = 0; r < rows; ++r)
        weights_row(p.data() + r * cols, visible_in_tile(g, i0 + r, j0, cols), cols, lse[i0 + r]);
      // dV[j0:] += P^T dout[i0:]
      gemm<T>(cols, g.Ev, rows, T(1), p.data(), 1, cols, dout + i0 * g.Ev, g.Ev, 1, T(1), dv + j0 * g.Ev, g.Ev, 1);
      // dP = dout[i0:] V[j0:]^T, then dS = P (dP - D) scale
      gemm<T>(rows, cols, g.Ev, T(1), dout + i0 * g.Ev, g.Ev, 1, v + j0 * g.Ev, 1, g.Ev, T(0), ds.data(), cols, 1);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) {
          const size_t at = size_t(r * cols + c);
          ds[at] = p[at] * (ds[at] - d[size_t(i0 + r)]) * scale;
        }
      // dQ[i0:] += dS K[j0:]; dK[j0:] += dS^T Q[i0:]
      gemm<T>(rows, g.E, cols, T(1), ds.data(), cols, 1, k + j0 * g.E, g.E, 1, T(1), dq + i0 * g.E, g.E, 1);
      gemm<T>(cols, g.E, rows, T(1), ds.data(), 1, cols, q + i0 * g.E, g.E, 1, T(1), dk + j0 * g.E, g.E, 1);
    }
  }
}

template <typename T>
void backward(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  const Tensor dout = in[0].contiguous(), q = in[1].contiguous(), k = in[2].contiguous(), v = in[3].contiguous(),
               o = in[4].contiguous();
  const Geometry g = attention_geometry(q, v, attrs);
  T* base = out.data<T>();
  std::fill(base, base + out.numel(), T(0));
  T *dq = base, *dk = base + q.numel(), *dv = dk + k.numel();
  const T *pd = dout.data<T>(), *pq = q.data<T>(), *pk = k.data<T>(), *pv = v.data<T>(), *po = o.data<T>();
  const int64_t n_out = g.batch * g.L * g.Ev;  // the flat operands: output, then the rows' lse
  if (g.L == 0 || g.S == 0) return;
  parallel_for(0, g.batch, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b)
      backward_one<T>(g, pd + b * g.L * g.Ev, pd + n_out + b * g.L, pq + b * g.L * g.E, pk + b * g.S * g.E,
                      pv + b * g.S * g.Ev, po + b * g.L * g.Ev, po + n_out + b * g.L, dq + b * g.L * g.E,
                      dk + b * g.S * g.E, dv + b * g.S * g.Ev);
  });
}

}  // namespace

void attention_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  if (out.dtype() == DType::Float64) forward<double>(in, out, attrs);
  else forward<float>(in, out, attrs);
}

void attention_backward_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  if (out.dtype() == DType::Float64) backward<double>(in, out, attrs);
  else backward<float>(in, out, attrs);
}

}  // namespace duet::cpu
