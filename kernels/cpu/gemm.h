// duet's GEMM interface: C = act(alpha * op(A) * op(B) + beta * C + bias), row-major
// convention (like cblas RowMajor), for float and double.
//
//   cpu::sgemm(false, true, M, N, K, 1.f, A, lda, B, ldb, 0.f, C, ldc);   // C = A * B^T
//   cpu::GemmEpilogueT<float> epi{bias, cpu::Activation::Relu};
//   cpu::gemm<float>(M, N, K, 1.f, A, rsa, csa, B, rsb, csb, 0.f, C, N, 1, &epi);
//
// The strided form takes any (row, column) element strides for A, B and C, so a transposed
// operand is just (rs, cs) = (1, ld) and nothing is materialised. beta == 0 never reads C
// (C may be uninitialised). K == 0 gives C = beta * C (+ epilogue).
//
// Backends: duet's own BLIS-style GEMM (gemm_duet.cpp) is the default; OpenBLAS and Eigen
// are selectable reference backends (gemm_backends.cpp) through set_gemm_backend() or the
// environment variable DUET_GEMM=duet|openblas|eigen, read once on first use. Asking for an
// unknown or unavailable backend throws duet::Error; there is no silent fallback.
// DUET_GEMM=cublas selects cuBLAS for CUDA tensors and leaves the CPU on duet's GEMM (the
// table is in kernels/cuda/gemm_backend.h); set_gemm_backend("cublas") is an error here.
#pragma once

#include <cstdint>
#include <string_view>

namespace duet::cpu {

// Relu is applied in the micro-kernels' stores. Gelu (exact, erf) and GeluTanh (the tanh
// approximation) are eager's gelu functors (kernels/cpu/elementwise_ops.h), applied to
// each finished block of C right after its last micro-kernel call while the block is in
// cache (Note [GELU epilogue] in gemm_activation.cpp), so a fused matmul + bias + gelu
// gives the bits of eager's matmul, add, gelu.
enum class Activation : uint8_t { None, Relu, Gelu, GeluTanh };

// Applied to each C element as it is stored, after alpha/beta: c = act(c + bias[col]).
template <typename T>
struct GemmEpilogueT {
  const T* bias = nullptr;  // length N, one value per column of C; null for none
  Activation act = Activation::None;
};
using GemmEpilogue = GemmEpilogueT<float>;
using DGemmEpilogue = GemmEpilogueT<double>;

enum class GemmBackend : uint8_t { Duet, OpenBLAS, Eigen };

// Throws duet::Error when the backend was not compiled in (names the available ones).
void set_gemm_backend(GemmBackend backend);
// "duet", "openblas" or "eigen"; anything else throws duet::Error naming the choices.
void set_gemm_backend(std::string_view name);
GemmBackend get_gemm_backend();
const char* gemm_backend_name(GemmBackend backend);
bool gemm_backend_available(GemmBackend backend);

// General-stride GEMM on the current backend. op(A) is M x K with element (i, k) at
// A[i * rsa + k * csa]; B is K x N at B[k * rsb + j * csb]; C is M x N at C[i * rsc + j * csc].
template <typename T>
void gemm(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t rsa, int64_t csa, const T* B,
          int64_t rsb, int64_t csb, T beta, T* C, int64_t rsc, int64_t csc,
          const GemmEpilogueT<T>* epi = nullptr);
extern template void gemm<float>(int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t,
                                 const float*, int64_t, int64_t, float, float*, int64_t, int64_t,
                                 const GemmEpilogueT<float>*);
extern template void gemm<double>(int64_t, int64_t, int64_t, double, const double*, int64_t, int64_t,
                                  const double*, int64_t, int64_t, double, double*, int64_t, int64_t,
                                  const GemmEpilogueT<double>*);

// BLAS-style (row-major, leading dimensions): op(A) = trans_a ? A^T : A, with A stored as
// M x K (lda >= K) or, transposed, K x M (lda >= M); likewise B.
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
           const GemmEpilogue* epi = nullptr);
void dgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
           int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc,
           const DGemmEpilogue* epi = nullptr);

// The individual backends, whatever the current selection (used by gemm() and benchmarks).
// duet_gemm threads with parallel_for when the problem is large enough.
template <typename T>
void duet_gemm(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t rsa, int64_t csa, const T* B,
               int64_t rsb, int64_t csb, T beta, T* C, int64_t rsc, int64_t csc, const GemmEpilogueT<T>* epi);

namespace detail {
// Forgets the CPU's and the CUDA device's backend selections, so the next
// get_gemm_backend() reads DUET_GEMM again (tests of the variable's parsing).
void reset_gemm_backends_for_testing();
// Scalar C = act(C + bias) over an M x N block (used by backends that lack an epilogue).
template <typename T>
void apply_epilogue(int64_t M, int64_t N, T* C, int64_t rsc, int64_t csc, const GemmEpilogueT<T>* epi);
}  // namespace detail

}  // namespace duet::cpu

// ---- internals shared by gemm_duet.cpp and gemm_ukernel.cpp
namespace duet::cpu::detail {

// Register tiles (rows x columns of C per micro-kernel call). The scalar fallback uses the
// AVX2 shapes.
constexpr int kAvx2MR = 6;
template <typename T>
constexpr int kAvx2NR = 64 / int(sizeof(T));  // two ymm vectors
constexpr int kAvx512MR = 12;
template <typename T>
constexpr int kAvx512NR = 128 / int(sizeof(T));  // two zmm vectors

// Note [Epilogue bits]: a fused matmul + bias (+ relu) must give the bits of eager's
// matmul, then add, then relu (graph/fusion_kernel.cpp). So every store path adds the
// bias only when there is one (adding 0 would turn a -0 product, e.g. sums of underflowed
// negative products, into +0, and -0 + bias(-0) then differs from +0 + bias(-0)), and the
// ReLU is eager's relu (kernels/cpu/elementwise_ops.h ReluOp): NaN kept, -0 gives +0.
// The vector forms compute it as max(0, v) + 0: max_ps returns its second operand for a
// NaN or a tie of zeros, and + 0 turns the remaining -0 into +0 and changes nothing else.
// Measured before (tests/test_graph_fused_bits.cpp, operands built to make -0 sums and
// -0 biases): 1694-4234 of 113402 elements of fused results differed from eager's.
template <typename T>
inline T relu_epilogue(T v) {
  return (v > T(0) || v != v) ? v : T(0);
}

// Which micro-kernel family duet's GEMM may use: the best the CPU has, capped by
// set_gemm_isa_limit (tests run every family this machine supports).
enum class GemmIsa : uint8_t { Scalar, Avx2, Avx512 };
GemmIsa gemm_isa();                  // the family in use now
void set_gemm_isa_limit(GemmIsa isa);  // cap (default: Avx512, i.e. no cap)

// One micro-kernel call: C[0:m, 0:n] (row stride rsc, unit column stride) =
// act(alpha * Apanel * Bpanel + beta * C + bias[0:n]).
template <typename T>
struct UkernelArgs {
  int64_t k;
  const T* a;  // packed, MR values per step, 64-byte aligned
  const T* b;  // packed, NR values per step, 64-byte aligned
  T* c;
  int64_t rsc;
  T alpha, beta;
  const T* bias;  // null for none; else the tile's first column's bias
  bool relu;
  int m, n;  // valid rows/cols of the tile (<= MR, NR)
};

void sgemm_ukernel_avx2(const UkernelArgs<float>& args);
void dgemm_ukernel_avx2(const UkernelArgs<double>& args);
void sgemm_ukernel_avx512(const UkernelArgs<float>& args);
void dgemm_ukernel_avx512(const UkernelArgs<double>& args);
template <typename T, int MR, int NR>
void gemm_ukernel_scalar(const UkernelArgs<T>& args);

// Skinny float GEMM (AVX-512), for C with at most 16 columns: C[0:m, 0:n] =
// act(alpha * A B + beta * C + bias), with A's element (i, k) at a[i * rsa + k * csa] read
// in place, B's row k as n contiguous values at b + k * rsb, C's rows at c + i * rsc with
// unit column stride. One zmm column of C per row, no packing of A (gemm_ukernel.cpp).
struct SkinnyArgs {
  int64_t m, n, k;
  const float* a;
  int64_t rsa, csa;
  const float* b;
  int64_t rsb;
  float* c;
  int64_t rsc;
  float alpha, beta;
  const float* bias;  // n values or null
  bool relu;
};
void sgemm_skinny_avx512(const SkinnyArgs& args);

// AVX-512 packers for full float panels stored transposed to their packed order
// (gemm_pack.cpp): 12 rows of a row-major A (row stride rs), and 32 columns of a
// column-major B (column stride cs); kc steps each, dst 64-byte aligned.
// act (Gelu or GeluTanh; anything else is a no-op) over C[0:m, 0:n] in place, each
// element exactly as eager's gelu computes it (gemm_activation.cpp).
template <typename T>
void apply_activation(Activation act, int64_t m, int64_t n, T* C, int64_t rsc, int64_t csc);
// Whether act is applied by apply_activation after the stores (not in the micro-kernels).
inline bool activation_after_store(Activation act) { return act == Activation::Gelu || act == Activation::GeluTanh; }

void pack_a_rowmajor_12_avx512(int64_t kc, const float* A, int64_t rs, float* dst);
void pack_b_colmajor_32_avx512(int64_t kc, const float* B, int64_t cs, float* dst);

}  // namespace duet::cpu::detail
