// GEMM micro-kernels: one MR x NR tile of C from a packed A micro-panel (kc steps of MR
// values) and a packed B micro-panel (kc steps of NR values), stored with alpha, beta and
// the epilogue (bias, relu) applied. Edge tiles are computed in full (the packing zero-pads)
// and stored with masks, so partial tiles run at full speed.
//
// AVX2, float: 6x16 (12 ymm accumulators + 2 B vectors + 1 broadcast = 15 of 16 registers);
// double: 6x8, the same register plan with 4 lanes. AVX-512: 12x32 float, 12x16 double.
// The scalar kernels serve CPUs without AVX2/FMA; they use the AVX2 tile shapes.
// Measured (1 thread, busy 2-core VM): the AVX2 kernel matches OpenBLAS's Haswell kernel
// (OPENBLAS_CORETYPE=Haswell) within a few percent; OpenBLAS's default here is its
// AVX-512 SkylakeX kernel, which the AVX-512 kernel below is there to match: with the
// driver's KC = 1024 blocking, duet/OpenBLAS is 0.98-1.04 on one thread (thread CPU time,
// interleaved calls, 2048^3 and 4096^3, A/B transposed or not), both ~180 GFLOP/s against
// a measured 1-core zmm FMA peak of ~246. Software prefetch of B inside the loop (4, 8,
// 16 steps ahead) measured no different, so there is none.
// Skinny kernel (C with <= 16 columns, see gemm_duet.cpp): 16 rows per block with one
// masked zmm per row; 16, 8 or 28 rows and unrolling k by 4 all measured within 10% at
// 128 x 128 x 10 (~1.45 FMAs per cycle, the masked lanes being the waste), and copying A's
// rows into a k-major panel first was 4x slower.
#include <immintrin.h>

#include <algorithm>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/gemm.h"

// GCC 12 reports false (maybe-)uninitialized warnings from inside its own AVX-512
// intrinsic headers (the "undefined" source operand of the unmasked forms).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace duet::cpu::detail {

namespace {

// Shared store path for the AVX2 kernels: V is a vector type with the ops below.
struct PsOps {
  using V = __m256;
  using T = float;
  static constexpr int kLanes = 8;
  DUET_TARGET_AVX2 static V set1(T x) { return _mm256_set1_ps(x); }
  DUET_TARGET_AVX2 static V zero() { return _mm256_setzero_ps(); }
  DUET_TARGET_AVX2 static V loadu(const T* p) { return _mm256_loadu_ps(p); }
  DUET_TARGET_AVX2 static void storeu(T* p, V v) { _mm256_storeu_ps(p, v); }
  DUET_TARGET_AVX2 static __m256i mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  DUET_TARGET_AVX2 static V mload(const T* p, __m256i m) { return _mm256_maskload_ps(p, m); }
  DUET_TARGET_AVX2 static void mstore(T* p, __m256i m, V v) { _mm256_maskstore_ps(p, m, v); }
  DUET_TARGET_AVX2 static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  DUET_TARGET_AVX2 static V add(V a, V b) { return _mm256_add_ps(a, b); }
  DUET_TARGET_AVX2 static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  DUET_TARGET_AVX2 static V max(V a, V b) { return _mm256_max_ps(a, b); }
};

struct PdOps {
  using V = __m256d;
  using T = double;
  static constexpr int kLanes = 4;
  DUET_TARGET_AVX2 static V set1(T x) { return _mm256_set1_pd(x); }
  DUET_TARGET_AVX2 static V zero() { return _mm256_setzero_pd(); }
  DUET_TARGET_AVX2 static V loadu(const T* p) { return _mm256_loadu_pd(p); }
  DUET_TARGET_AVX2 static void storeu(T* p, V v) { _mm256_storeu_pd(p, v); }
  DUET_TARGET_AVX2 static __m256i mask(int n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
  }
  DUET_TARGET_AVX2 static V mload(const T* p, __m256i m) { return _mm256_maskload_pd(p, m); }
  DUET_TARGET_AVX2 static void mstore(T* p, __m256i m, V v) { _mm256_maskstore_pd(p, m, v); }
  DUET_TARGET_AVX2 static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  DUET_TARGET_AVX2 static V add(V a, V b) { return _mm256_add_pd(a, b); }
  DUET_TARGET_AVX2 static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  DUET_TARGET_AVX2 static V max(V a, V b) { return _mm256_max_pd(a, b); }
};

// Stores acc (6 rows x 2 vectors) into C: c = act(alpha * acc + beta * c + bias). Only
// m rows and n columns are touched; beta == 0 never reads C.
template <typename O>
DUET_TARGET_AVX2 inline void store_tile(typename O::V (&acc)[6][2], const UkernelArgs<typename O::T>& a) {
  using V = typename O::V;
  constexpr int L = O::kLanes;
  const V valpha = O::set1(a.alpha), vbeta = O::set1(a.beta), vzero = O::zero();
  const bool scale = a.alpha != typename O::T(1), read_c = a.beta != typename O::T(0);
  if (a.n == 2 * L) {
    const V bias0 = a.bias ? O::loadu(a.bias) : vzero, bias1 = a.bias ? O::loadu(a.bias + L) : vzero;
    for (int r = 0; r < a.m; ++r) {
      typename O::T* c = a.c + r * a.rsc;
      V v0 = scale ? O::mul(acc[r][0], valpha) : acc[r][0];
      V v1 = scale ? O::mul(acc[r][1], valpha) : acc[r][1];
      if (read_c) {
        v0 = O::fma(vbeta, O::loadu(c), v0);
        v1 = O::fma(vbeta, O::loadu(c + L), v1);
      }
      if (a.bias) {
        v0 = O::add(v0, bias0);
        v1 = O::add(v1, bias1);
      }
      if (a.relu) {  // eager's relu: NaN kept, -0 gives +0 (Note [Epilogue bits] in gemm.h)
        v0 = O::add(O::max(vzero, v0), vzero);
        v1 = O::add(O::max(vzero, v1), vzero);
      }
      O::storeu(c, v0);
      O::storeu(c + L, v1);
    }
    return;
  }
  const __m256i m0 = O::mask(a.n), m1 = O::mask(a.n - L);
  const V bias0 = a.bias ? O::mload(a.bias, m0) : vzero, bias1 = a.bias ? O::mload(a.bias + L, m1) : vzero;
  for (int r = 0; r < a.m; ++r) {
    typename O::T* c = a.c + r * a.rsc;
    V v0 = scale ? O::mul(acc[r][0], valpha) : acc[r][0];
    V v1 = scale ? O::mul(acc[r][1], valpha) : acc[r][1];
    if (read_c) {
      v0 = O::fma(vbeta, O::mload(c, m0), v0);
      v1 = O::fma(vbeta, O::mload(c + L, m1), v1);
    }
    if (a.bias) {
      v0 = O::add(v0, bias0);
      v1 = O::add(v1, bias1);
    }
    if (a.relu) {
      v0 = O::add(O::max(vzero, v0), vzero);
      v1 = O::add(O::max(vzero, v1), vzero);
    }
    O::mstore(c, m0, v0);
    O::mstore(c + L, m1, v1);
  }
}

}  // namespace

// The 12 accumulators are named variables (not an array) so they stay in registers.
#define DUET_UK_ROW(r, OP, BCAST)         \
  {                                       \
    const auto ar = BCAST(a + (r));       \
    c##r##0 = OP(ar, b0, c##r##0);        \
    c##r##1 = OP(ar, b1, c##r##1);        \
  }

DUET_TARGET_AVX2 void sgemm_ukernel_avx2(const UkernelArgs<float>& args) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  const float* a = args.a;
  const float* b = args.b;
  for (int r = 0; r < args.m; ++r) _mm_prefetch(reinterpret_cast<const char*>(args.c + r * args.rsc), _MM_HINT_T0);
#pragma GCC unroll 4
  for (int64_t p = 0; p < args.k; ++p) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    DUET_UK_ROW(0, _mm256_fmadd_ps, _mm256_broadcast_ss)
    DUET_UK_ROW(1, _mm256_fmadd_ps, _mm256_broadcast_ss)
    DUET_UK_ROW(2, _mm256_fmadd_ps, _mm256_broadcast_ss)
    DUET_UK_ROW(3, _mm256_fmadd_ps, _mm256_broadcast_ss)
    DUET_UK_ROW(4, _mm256_fmadd_ps, _mm256_broadcast_ss)
    DUET_UK_ROW(5, _mm256_fmadd_ps, _mm256_broadcast_ss)
    a += 6;
    b += 16;
  }
  __m256 acc[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  store_tile<PsOps>(acc, args);
}

DUET_TARGET_AVX2 void dgemm_ukernel_avx2(const UkernelArgs<double>& args) {
  __m256d c00 = _mm256_setzero_pd(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256d c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  const double* a = args.a;
  const double* b = args.b;
  for (int r = 0; r < args.m; ++r) _mm_prefetch(reinterpret_cast<const char*>(args.c + r * args.rsc), _MM_HINT_T0);
#pragma GCC unroll 4
  for (int64_t p = 0; p < args.k; ++p) {
    const __m256d b0 = _mm256_load_pd(b), b1 = _mm256_load_pd(b + 4);
    DUET_UK_ROW(0, _mm256_fmadd_pd, _mm256_broadcast_sd)
    DUET_UK_ROW(1, _mm256_fmadd_pd, _mm256_broadcast_sd)
    DUET_UK_ROW(2, _mm256_fmadd_pd, _mm256_broadcast_sd)
    DUET_UK_ROW(3, _mm256_fmadd_pd, _mm256_broadcast_sd)
    DUET_UK_ROW(4, _mm256_fmadd_pd, _mm256_broadcast_sd)
    DUET_UK_ROW(5, _mm256_fmadd_pd, _mm256_broadcast_sd)
    a += 6;
    b += 8;
  }
  __m256d acc[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  store_tile<PdOps>(acc, args);
}

#undef DUET_UK_ROW

template <typename T, int MR, int NR>
void gemm_ukernel_scalar(const UkernelArgs<T>& args) {
  T acc[MR][NR] = {};
  const T* a = args.a;
  const T* b = args.b;
  for (int64_t p = 0; p < args.k; ++p, a += MR, b += NR)
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += a[i] * b[j];
  for (int i = 0; i < args.m; ++i) {
    T* c = args.c + i * args.rsc;
    for (int j = 0; j < args.n; ++j) {
      T v = args.alpha * acc[i][j];
      if (args.beta != T(0)) v += args.beta * c[j];
      if (args.bias) v += args.bias[j];
      if (args.relu) v = relu_epilogue(v);
      c[j] = v;
    }
  }
}

template void gemm_ukernel_scalar<float, kAvx2MR, kAvx2NR<float>>(const UkernelArgs<float>&);
template void gemm_ukernel_scalar<double, kAvx2MR, kAvx2NR<double>>(const UkernelArgs<double>&);

}  // namespace duet::cpu::detail

// ---- AVX-512 kernels (Sapphire Rapids has 32 zmm registers: a 12 x 2-vector tile keeps
// 24 accumulators live, the shape OpenBLAS's and BLIS's AVX-512 kernels use). Edges use
// the AVX-512 masked loads/stores, which cost the same as plain ones.
#define DUET_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))

namespace duet::cpu::detail {
namespace {

struct ZpsOps {
  using V = __m512;
  using T = float;
  using M = __mmask16;
  static constexpr int kLanes = 16;
  DUET_TARGET_AVX512 static V set1(T x) { return _mm512_set1_ps(x); }
  DUET_TARGET_AVX512 static V zero() { return _mm512_setzero_ps(); }
  DUET_TARGET_AVX512 static V load(const T* p) { return _mm512_load_ps(p); }
  DUET_TARGET_AVX512 static M mask(int n) { return n >= 16 ? M(0xFFFF) : n <= 0 ? M(0) : M((1u << n) - 1); }
  DUET_TARGET_AVX512 static V mload(const T* p, M m) { return _mm512_maskz_loadu_ps(m, p); }
  DUET_TARGET_AVX512 static void mstore(T* p, M m, V v) { _mm512_mask_storeu_ps(p, m, v); }
  DUET_TARGET_AVX512 static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  DUET_TARGET_AVX512 static V add(V a, V b) { return _mm512_add_ps(a, b); }
  DUET_TARGET_AVX512 static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  DUET_TARGET_AVX512 static V max(V a, V b) { return _mm512_max_ps(a, b); }
};

struct ZpdOps {
  using V = __m512d;
  using T = double;
  using M = __mmask8;
  static constexpr int kLanes = 8;
  DUET_TARGET_AVX512 static V set1(T x) { return _mm512_set1_pd(x); }
  DUET_TARGET_AVX512 static V zero() { return _mm512_setzero_pd(); }
  DUET_TARGET_AVX512 static V load(const T* p) { return _mm512_load_pd(p); }
  DUET_TARGET_AVX512 static M mask(int n) { return n >= 8 ? M(0xFF) : n <= 0 ? M(0) : M((1u << n) - 1); }
  DUET_TARGET_AVX512 static V mload(const T* p, M m) { return _mm512_maskz_loadu_pd(m, p); }
  DUET_TARGET_AVX512 static void mstore(T* p, M m, V v) { _mm512_mask_storeu_pd(p, m, v); }
  DUET_TARGET_AVX512 static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  DUET_TARGET_AVX512 static V add(V a, V b) { return _mm512_add_pd(a, b); }
  DUET_TARGET_AVX512 static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  DUET_TARGET_AVX512 static V max(V a, V b) { return _mm512_max_pd(a, b); }
};

template <typename O, int MR>
DUET_TARGET_AVX512 inline void ukernel_avx512(const UkernelArgs<typename O::T>& args) {
  using V = typename O::V;
  using T = typename O::T;
  constexpr int L = O::kLanes;
  V acc[MR][2];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = O::zero();
  const T* a = args.a;
  const T* b = args.b;
  // A tile row is two cache lines; fetch both so the store at the end does not stall.
  for (int r = 0; r < args.m; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(args.c + r * args.rsc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(args.c + r * args.rsc + L * 2 - 1), _MM_HINT_T0);
  }
#pragma GCC unroll 2
  for (int64_t p = 0; p < args.k; ++p) {
    const V b0 = O::load(b), b1 = O::load(b + L);
    // With KC = 1024 a B micro-panel (128 KB) lives in L2, not L1, and so does A's block:
    // fetch both 16 steps ahead (B: 2 lines per step; A: 48 bytes per step, so a line
    // every step or so). Measured 2026-11-26, 4096^3 on 2 threads: 300-318 -> 324-331
    // GFLOP/s; the training shapes (K <= 784) unchanged within noise.
    _mm_prefetch(reinterpret_cast<const char*>(b + 32 * L), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b + 33 * L), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(a + 16 * MR), _MM_HINT_T0);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const V ai = O::set1(a[i]);
      acc[i][0] = O::fma(ai, b0, acc[i][0]);
      acc[i][1] = O::fma(ai, b1, acc[i][1]);
    }
    a += MR;
    b += 2 * L;
  }
  const V valpha = O::set1(args.alpha), vbeta = O::set1(args.beta), vzero = O::zero();
  const bool scale = args.alpha != T(1), read_c = args.beta != T(0);
  const auto m0 = O::mask(args.n), m1 = O::mask(args.n - L);
  const V bias0 = args.bias ? O::mload(args.bias, m0) : vzero;
  const V bias1 = args.bias ? O::mload(args.bias + L, m1) : vzero;
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    if (r >= args.m) break;
    T* c = args.c + r * args.rsc;
    V v0 = scale ? O::mul(acc[r][0], valpha) : acc[r][0];
    V v1 = scale ? O::mul(acc[r][1], valpha) : acc[r][1];
    if (read_c) {
      v0 = O::fma(vbeta, O::mload(c, m0), v0);
      v1 = O::fma(vbeta, O::mload(c + L, m1), v1);
    }
    if (args.bias) {
      v0 = O::add(v0, bias0);
      v1 = O::add(v1, bias1);
    }
    if (args.relu) {  // Note [Epilogue bits] in gemm.h
      v0 = O::add(O::max(vzero, v0), vzero);
      v1 = O::add(O::max(vzero, v1), vzero);
    }
    O::mstore(c, m0, v0);
    O::mstore(c + L, m1, v1);
  }
}

// R rows of a skinny product (rows <= R valid; rows past them are neither read nor written).
template <int R>
DUET_TARGET_AVX512 void skinny_rows_avx512(const SkinnyArgs& g, int64_t i0) {
  const __mmask16 nm = ZpsOps::mask(int(g.n));
  const float* a = g.a + i0 * g.rsa;
  __m512 acc[R];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t k = 0; k < g.k; ++k) {
    const __m512 b = _mm512_maskz_loadu_ps(nm, g.b + k * g.rsb);
    const float* ak = a + k * g.csa;
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(ak[r * g.rsa]), b, acc[r]);
  }
  const __m512 valpha = _mm512_set1_ps(g.alpha), vbeta = _mm512_set1_ps(g.beta), vzero = _mm512_setzero_ps();
  const __m512 bias = g.bias ? _mm512_maskz_loadu_ps(nm, g.bias) : vzero;
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    float* c = g.c + (i0 + r) * g.rsc;
    __m512 v = g.alpha != 1.0f ? _mm512_mul_ps(acc[r], valpha) : acc[r];
    if (g.beta != 0.0f) v = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(nm, c), v);
    if (g.bias) v = _mm512_add_ps(v, bias);
    if (g.relu) v = _mm512_add_ps(_mm512_max_ps(vzero, v), vzero);  // Note [Epilogue bits] in gemm.h
    _mm512_mask_storeu_ps(c, nm, v);
  }
}

}  // namespace

// Blocks of 16 rows (16 accumulators, one FMA per B load and A broadcast), then 8/4/2/1
// for the rest, so no row past m is ever touched.
DUET_TARGET_AVX512 void sgemm_skinny_avx512(const SkinnyArgs& args) {
  int64_t i = 0;
  for (; i + 16 <= args.m; i += 16) skinny_rows_avx512<16>(args, i);
  if (i + 8 <= args.m) skinny_rows_avx512<8>(args, i), i += 8;
  if (i + 4 <= args.m) skinny_rows_avx512<4>(args, i), i += 4;
  if (i + 2 <= args.m) skinny_rows_avx512<2>(args, i), i += 2;
  if (i < args.m) skinny_rows_avx512<1>(args, i);
}

DUET_TARGET_AVX512 void sgemm_ukernel_avx512(const UkernelArgs<float>& args) {
  ukernel_avx512<ZpsOps, kAvx512MR>(args);
}
DUET_TARGET_AVX512 void dgemm_ukernel_avx512(const UkernelArgs<double>& args) {
  ukernel_avx512<ZpdOps, kAvx512MR>(args);
}

}  // namespace duet::cpu::detail

// The packing (gemm_duet.cpp) and these kernels must agree on the tile shapes.
static_assert(duet::cpu::detail::kAvx2NR<float> == 16 && duet::cpu::detail::kAvx2NR<double> == 8);
static_assert(duet::cpu::detail::kAvx512NR<float> == 32 && duet::cpu::detail::kAvx512NR<double> == 16);
static_assert(duet::cpu::detail::kAvx2MR == 6 && duet::cpu::detail::kAvx512MR == 12);
