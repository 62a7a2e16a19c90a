// duet's own GEMM driver, BLIS-style: for each NC-wide column block of B and each KC-deep
// slice of K, B is packed into NR-wide micro-panels (shared by all threads), then each
// thread packs MC x KC blocks of A into MR-tall micro-panels and runs the micro-kernel
// (gemm_ukernel.cpp) over every MR x NR tile. Packing reads any (row, column) strides, so
// transposed operands cost nothing extra and nothing is materialised; float operands
// stored transposed to their packed order go through the AVX-512 transposing packers
// (gemm_pack.cpp). When C has few columns and many rows, C^T = B^T A^T is computed
// instead, which pads the register tiles less.
//
// One row of A (M = 1) skips all of that (gemm_row.h: B read once in place).
// Float C with at most 16 columns on AVX-512 skips all of that (gemm_skinny: one zmm
// column of C per row, A read in place, B copied only when its rows are strided). Against
// the blocked path (which swapped to C^T = B^T A^T and transpose-packed A), interleaved
// calls, 2-vCPU VM: 128x128x10 nn 3.8 vs 5.3 us (OpenBLAS 3.9: 0.73x -> 1.02-1.08x), nt
// 4.4 vs 5.3 (OpenBLAS 6.6), 128x784x10 13 vs 28 us, 64x64x16 1.0 vs 2.6 us, 1024^2 x 16
// 155 vs 330 us, 2048^2 x 1 0.61 vs 1.1 ms; every shape tried was faster.
//
// The micro-kernel family (AVX-512 12x32, AVX2 6x16, scalar) is picked at run time; each
// has its own blocking for Sapphire Rapids (48 KB L1d, 2 MB L2 per core). AVX-512 float:
// KC = 1024, MC = 192: the packed A block (768 KB) and the current B micro-panel (128 KB)
// both sit in L2 and the kernel streams them from there; a deep KC means C is read and
// written K/KC times only. Sweeps (1 thread, thread CPU time, interleaved with OpenBLAS,
// 2048^3): duet/OpenBLAS 0.83-0.87 at KC = 192, 0.91-0.94 at 256-384, 0.97 at 512,
// ~1.0 at 1024; MC 96-288 within noise, 768 worse. AVX2 float: KC = 384 keeps a B
// micro-panel plus an A micro-panel in L1 (24 + 9 KB). KC x NC of packed B is in L3. K is
// split into equal slices so no slice is tiny. Threads split the rows of C into chunks
// of at most MC rows that they take one after another (each thread packs its own A), so
// a thread that loses its core on a shared machine just does fewer chunks; when C has
// too few rows to share they split the columns. Results do not depend on the split: each
// C element is always summed over the same KC slices in the same order.
//
// Note [Who packs B]: with rows split, B is packed once and shared, so each thread's
// kernel streams the half of B that the other core packed from that core's L2, via the
// mesh. When all of A is at most one MC x KC block (the training shapes: M = 128, or
// M = 256 with K = 128 for weight gradients) the threads split B's panels instead and
// each packs its own, so B stays in the cache of the core that reads it, at the cost of
// each packing all of A (small then). Interleaved with OpenBLAS on the 2-vCPU VM, 2
// threads, medians of 5: 128x784x256 (x @ W^T) 1.03 -> 1.14x OpenBLAS, 128x256x784 (dX)
// 0.92 -> 1.07, 128x256x128 0.93 -> 1.19 (noisy), 256x128x128 (dW) 1.31 -> 1.75,
// 256x128x784 1.19 -> 1.23; larger products (512x768x3072, squares >= 512) unchanged.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/parallel.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_row.h"
#include "kernels/cpu/thread_scratch.h"

namespace duet::cpu {
namespace {

using detail::GemmIsa;
using detail::UkernelArgs;

struct Blocking {
  int64_t MC, KC, NC;
};
// KC: one B micro-panel (KC x NR) stays in L1 while A micro-panels stream past it.
template <typename T>
constexpr Blocking kAvx2Blocking = sizeof(T) == 4 ? Blocking{192, 384, 3072} : Blocking{96, 256, 2048};
template <typename T>
constexpr Blocking kAvx512Blocking = sizeof(T) == 4 ? Blocking{192, 1024, 3072} : Blocking{192, 192, 2048};

std::atomic<int> g_isa_limit{int(GemmIsa::Avx512)};

bool has_avx512() {
  static const bool ok = __builtin_cpu_supports("avx512f");
  return ok;
}

// Below this many multiply-adds a second thread costs more than it saves (waking the
// pool's worker costs a few microseconds; 2^19 MACs take ~3 us on one core).
constexpr int64_t kParallelMinMacs = int64_t(1) << 19;
// Packing a B block smaller than this is not worth a parallel region of its own.
constexpr int64_t kParallelPackMin = int64_t(1) << 16;

// Packing buffers: thread_scratch slots 0 (packed A) and 1 (packed B).
template <typename T>
T* scratch(int slot, int64_t n) {
  return thread_scratch<T>(slot, n);
}

// Packs rows [0, mc) x cols [0, kc) of A (element (i, p) at A[i * rs + p * cs]) into
// MR-row micro-panels: panel q holds kc steps of MR values, rows past mc are zero.
template <typename T, int MR>
void pack_a(int64_t mc, int64_t kc, const T* A, int64_t rs, int64_t cs, T* dst) {
  for (int64_t i0 = 0; i0 < mc; i0 += MR, dst += MR * kc) {
    const int mr = int(std::min<int64_t>(MR, mc - i0));
    const T* src = A + i0 * rs;
    if constexpr (std::is_same_v<T, float> && MR == detail::kAvx512MR) {  // only the AVX-512 family has MR 12
      if (mr == MR && cs == 1) {
        detail::pack_a_rowmajor_12_avx512(kc, src, rs, dst);
        continue;
      }
    }
    if (mr == MR && rs == 1) {  // column-major (transposed) A: each step is MR contiguous values
      for (int64_t p = 0; p < kc; ++p)
        for (int i = 0; i < MR; ++i) dst[p * MR + i] = src[p * cs + i];
    } else if (mr == MR && cs == 1) {  // row-major A: MR rows read side by side
      for (int64_t p = 0; p < kc; ++p)
        for (int i = 0; i < MR; ++i) dst[p * MR + i] = src[i * rs + p];
    } else {
      for (int64_t p = 0; p < kc; ++p) {
        for (int i = 0; i < mr; ++i) dst[p * MR + i] = src[i * rs + p * cs];
        for (int i = mr; i < MR; ++i) dst[p * MR + i] = T(0);
      }
    }
  }
}

// Packs B micro-panels [q0, q1) of a kc x nc block (element (p, j) at B[p * rs + j * cs])
// into dst: panel q at dst + q * NR * kc, kc steps of NR values, columns past nc zero.
template <typename T, int NR>
void pack_b(int64_t kc, int64_t nc, int64_t q0, int64_t q1, const T* B, int64_t rs, int64_t cs, T* dst) {
  if (cs == 1) {
    // Row-major B: walk each row once across all full panels, so the reads are sequential
    // (panel by panel, every step would start a new row: a page apart for large N).
    const int64_t q_full = std::min(q1, nc / NR);
    if (q0 < q_full) {
      for (int64_t p = 0; p < kc; ++p) {
        const T* src = B + p * rs;
        for (int64_t q = q0; q < q_full; ++q) std::memcpy(dst + (q * kc + p) * NR, src + q * NR, NR * sizeof(T));
      }
      q0 = q_full;
    }
  }
  for (int64_t q = q0; q < q1; ++q) {
    const int64_t j0 = q * NR;
    const int nr = int(std::min<int64_t>(NR, nc - j0));
    const T* src = B + j0 * cs;
    T* d = dst + q * NR * kc;
    if (nr == NR && cs == 1) {  // row-major B: each step is NR contiguous values
      for (int64_t p = 0; p < kc; ++p) std::memcpy(d + p * NR, src + p * rs, NR * sizeof(T));
    } else if (nr == NR && rs == 1) {  // column-major (transposed) B: walk each column down K
      if constexpr (std::is_same_v<T, float> && NR == detail::kAvx512NR<float>) {  // AVX-512 family only
        detail::pack_b_colmajor_32_avx512(kc, src, cs, d);
        continue;
      }
      for (int j = 0; j < NR; ++j)
        for (int64_t p = 0; p < kc; ++p) d[p * NR + j] = src[j * cs + p];
    } else {
      for (int64_t p = 0; p < kc; ++p) {
        for (int j = 0; j < nr; ++j) d[p * NR + j] = src[p * rs + j * cs];
        for (int j = nr; j < NR; ++j) d[p * NR + j] = T(0);
      }
    }
  }
}

template <typename T>
using Ukernel = void (*)(const UkernelArgs<T>&);

// Runs fn(item) for every item in [0, items) on nt threads, each taking the next item
// when it finishes one: on a loaded machine a thread that loses its core for a while
// just does fewer items, instead of the whole call waiting for its fixed share.
template <typename Fn>
void parallel_items(int nt, int64_t items, const Fn& fn) {
  std::atomic<int64_t> next{0};
  parallel_for(0, nt, 1, [&](int64_t, int64_t) {
    for (int64_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < items;) fn(i);
  });
}

// One KC slice of the product, everything a thread needs to run its share of it.
template <typename T>
struct Slice {
  Ukernel<T> uk;
  int64_t M, kc, nc;
  const T* A;  // at (0, pc)
  int64_t rsa, csa;
  const T* Bp;  // packed kc x nc block (its panels from bp_q0 on)
  int64_t bp_q0;
  T* C;         // at (0, jc)
  int64_t rsc, csc;
  T alpha, beta;
  const T* bias;  // at column jc, or null
  bool relu;
  Activation after = Activation::None;  // applied to each finished block (Note [GELU epilogue])
};

// Rows [m0, m1) x B panels [q0, q1) of a slice: packs A in MC blocks and runs the tiles.
template <typename T, int MR, int NR>
void run_slice(const Slice<T>& s, int64_t MC, int64_t m0, int64_t m1, int64_t q0, int64_t q1) {
  T* Ap = scratch<T>(0, std::min<int64_t>(MC, m1 - m0 + MR) * s.kc);
  alignas(64) T tile[MR * NR];
  for (int64_t ic = m0; ic < m1; ic += MC) {
    const int64_t mc = std::min(MC, m1 - ic);
    pack_a<T, MR>(mc, s.kc, s.A + ic * s.rsa, s.rsa, s.csa, Ap);
    for (int64_t q = q0; q < q1; ++q) {
      const int64_t j = q * NR;
      const int n = int(std::min<int64_t>(NR, s.nc - j));
      const T* bp = s.Bp + (q - s.bp_q0) * NR * s.kc;
      for (int64_t i = 0; i < mc; i += MR) {
        const int m = int(std::min<int64_t>(MR, mc - i));
        T* c = s.C + (ic + i) * s.rsc + j * s.csc;
        UkernelArgs<T> args{s.kc, Ap + i * s.kc, bp, c, s.rsc, s.alpha, s.beta, s.bias ? s.bias + j : nullptr,
                            s.relu, m, n};
        if (s.csc == 1) {
          s.uk(args);
          continue;
        }
        // C with a non-unit column stride: compute the tile unscaled, merge it here.
        args.c = tile;
        args.rsc = NR;
        args.alpha = T(1);
        args.beta = T(0);
        args.bias = nullptr;
        args.relu = false;
        s.uk(args);
        // Walk C along its unit stride when it has one (column-major C: the swapped
        // C^T = B^T A^T of gemm_blocked), so the stores are contiguous.
        auto merge = [&](int r, int cc) {
          T& dst = c[r * s.rsc + cc * s.csc];
          T v = s.alpha * tile[r * NR + cc];
          if (s.beta != T(0)) v += s.beta * dst;
          if (s.bias) v += s.bias[j + cc];
          if (s.relu) v = detail::relu_epilogue(v);
          dst = v;
        };
        if (s.rsc == 1) {
          for (int cc = 0; cc < n; ++cc)
            for (int r = 0; r < m; ++r) merge(r, cc);
        } else {
          for (int r = 0; r < m; ++r)
            for (int cc = 0; cc < n; ++cc) merge(r, cc);
        }
      }
      if (s.after != Activation::None)  // the block is final: its GELU while it is in cache
        detail::apply_activation(s.after, mc, n, s.C + ic * s.rsc + j * s.csc, s.rsc, s.csc);
    }
  }
}

}  // namespace

namespace detail {

template <typename T>
void apply_epilogue(int64_t M, int64_t N, T* C, int64_t rsc, int64_t csc, const GemmEpilogueT<T>* epi) {
  if (!epi || (!epi->bias && epi->act == Activation::None)) return;
  const bool relu = epi->act == Activation::Relu;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      T& c = C[i * rsc + j * csc];
      T v = c;
      if (epi->bias) v += epi->bias[j];
      if (relu) v = relu_epilogue(v);
      c = v;
    }
  apply_activation(epi->act, M, N, C, rsc, csc);
}
template void apply_epilogue<float>(int64_t, int64_t, float*, int64_t, int64_t, const GemmEpilogueT<float>*);
template void apply_epilogue<double>(int64_t, int64_t, double*, int64_t, int64_t, const GemmEpilogueT<double>*);

}  // namespace detail

namespace {

// The blocked product for one register tile shape (K > 0, M, N > 0).
template <typename T, int MR, int NR>
void gemm_blocked(Ukernel<T> uk, Blocking blk, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t rsa,
                  int64_t csa, const T* B, int64_t rsb, int64_t csb, T beta, T* C, int64_t rsc, int64_t csc,
                  const GemmEpilogueT<T>* epi) {
  const bool relu = epi && epi->act == Activation::Relu;
  const T* bias = epi ? epi->bias : nullptr;
  const Activation after = epi && detail::activation_after_store(epi->act) ? epi->act : Activation::None;

  // Compute C^T = op(B)^T op(A)^T instead when that pads the register tiles much less
  // (C with few columns and many rows, e.g. 128 x 10 logits: 12 x 32 tiles are 31% used,
  // the transposed 10 x 128 is 83%). A per-column bias would become per-row, which the
  // micro-kernels do not have, so not then (nor with a GELU, to keep its blocks row-major).
  // The swapped call never swaps back.
  auto padded = [](int64_t m, int64_t n) { return (m + MR - 1) / MR * MR * ((n + NR - 1) / NR * NR); };
  if (!bias && after == Activation::None && 4 * padded(N, M) < 3 * padded(M, N)) {
    gemm_blocked<T, MR, NR>(uk, blk, N, M, K, alpha, B, csb, rsb, A, csa, rsa, beta, C, csc, rsc, epi);
    return;
  }

  int nt = get_num_threads();
  if (in_parallel_region() || M * N * K < kParallelMinMacs) nt = 1;
  const int64_t m_panels = (M + MR - 1) / MR;
  // Split rows when each thread gets a few MR panels; otherwise split B panels. A product
  // whose A fits one MC x KC block and has B panels for every thread splits the panels
  // with each thread packing its own (Note [Who packs B]).
  bool split_rows = m_panels >= 2 * nt;
  const int64_t n_panels_total = (std::min(N, blk.NC) + NR - 1) / NR;
  const bool own_b = nt > 1 && M * std::min(K, blk.KC) <= blk.MC * blk.KC && n_panels_total >= nt;
  if (own_b) split_rows = false;
  // Row chunks of at most MC rows, a multiple of the thread count of them (at least one
  // per thread), handed out dynamically.
  int64_t chunks = std::max<int64_t>(nt, (M + blk.MC - 1) / blk.MC);
  chunks = (chunks + nt - 1) / nt * nt;
  const int64_t chunk_rows = ((M + chunks - 1) / chunks + MR - 1) / MR * MR;
  const int64_t n_row_chunks = (M + chunk_rows - 1) / chunk_rows;

  const int64_t k_slices = (K + blk.KC - 1) / blk.KC;
  const int64_t kc_max = (K + k_slices - 1) / k_slices;
  for (int64_t jc = 0; jc < N; jc += blk.NC) {
    const int64_t nc = std::min(blk.NC, N - jc);
    const int64_t n_panels = (nc + NR - 1) / NR;
    T* Bp = own_b ? nullptr : scratch<T>(1, n_panels * NR * kc_max);
    for (int64_t pc = 0; pc < K; pc += kc_max) {
      const int64_t kc = std::min(kc_max, K - pc);
      const bool last = pc + kc == K;
      const T* Bsrc = B + pc * rsb + jc * csb;
      if (own_b) {
        // each thread packs the panels it uses, below
      } else if (nt > 1 && kc * nc >= kParallelPackMin) {
        const int64_t group = std::max<int64_t>(1, n_panels / (4 * nt));
        parallel_items(nt, (n_panels + group - 1) / group, [&](int64_t g) {
          pack_b<T, NR>(kc, nc, g * group, std::min(n_panels, (g + 1) * group), Bsrc, rsb, csb, Bp);
        });
      } else {
        pack_b<T, NR>(kc, nc, 0, n_panels, Bsrc, rsb, csb, Bp);
      }

      Slice<T> s{uk,  M,   kc,  nc,    A + pc * csa,          rsa, csa, Bp, 0, C + jc * csc,
                 rsc, csc, alpha, pc == 0 ? beta : T(1), (last && bias) ? bias + jc : nullptr, last && relu,
                 last ? after : Activation::None};
      if (own_b) {
        const int64_t per = (n_panels + nt - 1) / nt;
        parallel_items(nt, (n_panels + per - 1) / per, [&](int64_t c) {
          const int64_t q0 = c * per, q1 = std::min(n_panels, q0 + per);
          T* bp = scratch<T>(1, (q1 - q0) * NR * kc);
          pack_b<T, NR>(kc, nc - q0 * NR, 0, q1 - q0, Bsrc + q0 * NR * csb, rsb, csb, bp);
          Slice<T> mine = s;
          mine.Bp = bp;
          mine.bp_q0 = q0;
          run_slice<T, MR, NR>(mine, blk.MC, 0, M, q0, q1);
        });
      } else if (nt == 1) {
        run_slice<T, MR, NR>(s, blk.MC, 0, M, 0, n_panels);
      } else if (split_rows) {
        parallel_items(nt, n_row_chunks, [&](int64_t c) {
          run_slice<T, MR, NR>(s, blk.MC, c * chunk_rows, std::min(M, (c + 1) * chunk_rows), 0, n_panels);
        });
      } else {
        parallel_for(0, n_panels, 1,
                     [&](int64_t lo, int64_t hi) { run_slice<T, MR, NR>(s, blk.MC, 0, M, lo, hi); });
      }
    }
  }
}

// Float C with at most 16 columns on AVX-512 (e.g. 128 x 10 logits): one zmm column of C
// per row and A read in place. The blocked path would pad the 12 x 32 tiles (or, swapped,
// transpose-pack A as the B operand) for very little arithmetic.
constexpr int64_t kSkinnyMaxN = 16;

void gemm_skinny(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t rsa, int64_t csa,
                 const float* B, int64_t rsb, int64_t csb, float beta, float* C, int64_t rsc,
                 const GemmEpilogueT<float>* epi) {
  if (csb != 1 && N > 1) {  // the kernel loads B's rows as contiguous runs: copy B (K x N, small)
    float* Bp = scratch<float>(1, K * kSkinnyMaxN);
    for (int64_t j = 0; j < N; ++j)
      for (int64_t k = 0; k < K; ++k) Bp[k * kSkinnyMaxN + j] = B[k * rsb + j * csb];
    B = Bp;
    rsb = kSkinnyMaxN;
  }
  const detail::SkinnyArgs args{M, N, K, A, rsa, csa, B, rsb, C, rsc, alpha, beta,
                                epi ? epi->bias : nullptr, epi && epi->act == Activation::Relu};
  int nt = get_num_threads();
  // Small products stay on one thread: measured at 128 x 128 x 10, a second thread (a
  // hyperthread of the same core on the 2-vCPU VM) made it 6.1 us instead of 3.8 us.
  if (in_parallel_region() || M * kSkinnyMaxN * K < kParallelMinMacs || M < 32) nt = 1;
  const Activation after = epi ? epi->act : Activation::None;  // Gelu, GeluTanh; relu is in args
  if (nt == 1) {
    detail::sgemm_skinny_avx512(args);
    detail::apply_activation(after, M, N, C, rsc, 1);
    return;
  }
  // Row chunks (multiples of the kernel's 16-row blocks) handed out dynamically; each row
  // is computed the same way whichever thread takes it.
  const int64_t chunk = ((M + 4 * nt - 1) / (4 * nt) + 15) / 16 * 16;
  parallel_items(nt, (M + chunk - 1) / chunk, [&](int64_t c) {
    detail::SkinnyArgs part = args;
    const int64_t i0 = c * chunk;
    part.m = std::min(chunk, M - i0);
    part.a = A + i0 * rsa;
    part.c = C + i0 * rsc;
    detail::sgemm_skinny_avx512(part);
    detail::apply_activation(after, part.m, N, part.c, rsc, 1);
  });
}

}  // namespace

namespace detail {

GemmIsa gemm_isa() {
  const auto limit = GemmIsa(g_isa_limit.load());
  if (limit >= GemmIsa::Avx512 && has_avx512() && has_avx2_fma()) return GemmIsa::Avx512;
  if (limit >= GemmIsa::Avx2 && has_avx2_fma()) return GemmIsa::Avx2;
  return GemmIsa::Scalar;
}

void set_gemm_isa_limit(GemmIsa isa) { g_isa_limit.store(int(isa)); }

}  // namespace detail

template <typename T>
void duet_gemm(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t rsa, int64_t csa, const T* B,
               int64_t rsb, int64_t csb, T beta, T* C, int64_t rsc, int64_t csc, const GemmEpilogueT<T>* epi) {
  using detail::kAvx2MR;
  using detail::kAvx2NR;
  using detail::kAvx512MR;
  using detail::kAvx512NR;
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) {  // no product: C = beta * C, then the epilogue
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        T& c = C[i * rsc + j * csc];
        c = beta == T(0) ? T(0) : beta * c;
      }
    detail::apply_epilogue(M, N, C, rsc, csc, epi);
    return;
  }
  if (M == 1 && detail::gemm_row(N, K, alpha, A, csa, B, rsb, csb, beta, C, csc, epi)) return;
  constexpr bool is_float = std::is_same_v<T, float>;
  switch (detail::gemm_isa()) {
    case GemmIsa::Avx512: {
      if constexpr (is_float) {
        if (N <= kSkinnyMaxN && csc == 1) {
          gemm_skinny(M, N, K, alpha, A, rsa, csa, B, rsb, csb, beta, C, rsc, epi);
          return;
        }
      }
      Ukernel<T> uk;
      if constexpr (is_float) uk = &detail::sgemm_ukernel_avx512;
      else uk = &detail::dgemm_ukernel_avx512;
      gemm_blocked<T, kAvx512MR, kAvx512NR<T>>(uk, kAvx512Blocking<T>, M, N, K, alpha, A, rsa, csa, B, rsb, csb,
                                               beta, C, rsc, csc, epi);
      return;
    }
    case GemmIsa::Avx2: {
      Ukernel<T> uk;
      if constexpr (is_float) uk = &detail::sgemm_ukernel_avx2;
      else uk = &detail::dgemm_ukernel_avx2;
      gemm_blocked<T, kAvx2MR, kAvx2NR<T>>(uk, kAvx2Blocking<T>, M, N, K, alpha, A, rsa, csa, B, rsb, csb, beta, C,
                                           rsc, csc, epi);
      return;
    }
    case GemmIsa::Scalar:
      gemm_blocked<T, kAvx2MR, kAvx2NR<T>>(&detail::gemm_ukernel_scalar<T, kAvx2MR, kAvx2NR<T>>,
                                           kAvx2Blocking<T>, M, N, K, alpha, A, rsa, csa, B, rsb, csb, beta, C, rsc,
                                           csc, epi);
      return;
  }
}

template void duet_gemm<float>(int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t, const float*,
                               int64_t, int64_t, float, float*, int64_t, int64_t, const GemmEpilogueT<float>*);
template void duet_gemm<double>(int64_t, int64_t, int64_t, double, const double*, int64_t, int64_t,
                                const double*, int64_t, int64_t, double, double*, int64_t, int64_t,
                                const GemmEpilogueT<double>*);

}  // namespace duet::cpu
