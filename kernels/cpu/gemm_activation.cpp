// The GEMM epilogue's activations that run after the stores (gemm.h Activation::Gelu and
// GeluTanh): eager's gelu functors applied to a block of C in place.
//
// Note [GELU epilogue]: a graph's matmul + bias + gelu (graph/fusion.cpp, matmul
// epilogues) must give the bits of eager's matmul, then add, then gelu. The bias is added
// in the micro-kernels' stores as before (Note [Epilogue bits] in gemm.h); the GELU is not
// written into the micro-kernels (three ISA families, several store paths, and an erf
// polynomial that would crowd the accumulators out of registers) but applied by the
// driver to each finished MC x NR block of C right after its last micro-kernel call,
// while the block is still in L1/L2 (gemm_duet.cpp run_slice), and by the other paths
// (one-row, skinny, the BLAS backends) to what they stored. Either way each element goes
// through ew::GeluErfOp / GeluTanhOp exactly as eager's gelu kernel runs them: the AVX2
// body, 8 lanes with a masked tail, when the CPU has AVX2/FMA, the scalar formula
// otherwise (double always), and the AVX2 body's lanes are independent, so where a block
// starts or ends changes no bit. A column-strided C is gathered into a buffer and
// scattered back, as eager treats a strided run (Note [Strided vector ops]).
#include "kernels/cpu/elementwise_ops.h"
#include "kernels/cpu/gemm.h"

namespace duet::cpu::detail {
namespace {

template <typename T, typename Op>
void activation_row(const Op& op, T* c, int64_t n, int64_t csc) {
  if constexpr (std::is_same_v<T, float>) {
    if (has_avx2_fma()) {
      if (csc == 1) return ew::unary_avx2(op, c, c, n);
      return ew::unary_avx2_strided(op, c, csc, c, csc, n);
    }
  }
  for (int64_t j = 0; j < n; ++j) c[j * csc] = op(c[j * csc]);
}

template <typename T, typename Op>
void activation_block(const Op& op, int64_t m, int64_t n, T* C, int64_t rsc, int64_t csc) {
  // Walk along the unit stride when C has one (a column-major C: the swapped product).
  if (csc != 1 && rsc == 1) {
    for (int64_t j = 0; j < n; ++j) activation_row(op, C + j * csc, m, 1);
    return;
  }
  for (int64_t i = 0; i < m; ++i) activation_row(op, C + i * rsc, n, csc);
}

}  // namespace

template <typename T>
void apply_activation(Activation act, int64_t m, int64_t n, T* C, int64_t rsc, int64_t csc) {
  if (m <= 0 || n <= 0) return;
  if (act == Activation::Gelu) activation_block(ew::GeluErfOp{}, m, n, C, rsc, csc);
  else if (act == Activation::GeluTanh) activation_block(ew::GeluTanhOp{}, m, n, C, rsc, csc);
}

template void apply_activation<float>(Activation, int64_t, int64_t, float*, int64_t, int64_t);
template void apply_activation<double>(Activation, int64_t, int64_t, double*, int64_t, int64_t);

}  // namespace duet::cpu::detail
