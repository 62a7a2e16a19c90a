// The functors of the elementwise ops that graph fusion also runs (graph/fusion.cpp
// fusable_elementwise_op): each op's scalar formula (any dtype) and, for float32, its AVX2
// body. The eager kernels (elementwise_unary.cpp, elementwise_binary.cpp) run them through
// ew::run_unary / ew::run_binary; the graph's tile interpreter (graph/fusion_kernel.cpp)
// runs the very same functors over its tiles, the vector body when the CPU has AVX2/FMA and
// the scalar formula otherwise, exactly as eager picks them, so a fused op gives eager's
// bits by construction (Note [Fused ops are eager's functors] in fusion_kernel.cpp).
// The other ops' functors (sign, floor, pow, ...) stay in their kernel files.
#pragma once

#include <cmath>
#include <limits>
#include <type_traits>

#include "core/attrs.h"
#include "kernels/clamp_bounds.h"
#include "kernels/cpu/elementwise_common.h"
#include "kernels/cpu/elementwise_simd.h"

namespace duet::cpu::ew {

// ---- unary ops on every numeric dtype
struct NegOp {  // a sign flip for floats, as PyTorch (-0 for +0, so neg(neg(x)) is x); integers wrap
  template <typename C> C operator()(C x) const {
    if constexpr (std::is_integral_v<C>) return wrap_sub(C(0), x);
    else return -x;
  }
  static constexpr bool kVec = true;
  DUET_TARGET_AVX2 __m256 vec(__m256 x) const { return _mm256_xor_ps(x, set1(-0.0f)); }
};
struct AbsOp {
  template <typename C> C operator()(C x) const {
    if constexpr (std::is_integral_v<C>) return x < 0 ? wrap_sub(C(0), x) : x;
    else return std::abs(x);
  }
  static constexpr bool kVec = true;
  DUET_TARGET_AVX2 __m256 vec(__m256 x) const { return abs256(x); }
};
struct SquareOp {
  template <typename C> C operator()(C x) const { return wrap_mul(x, x); }
  static constexpr bool kVec = true;
  DUET_TARGET_AVX2 __m256 vec(__m256 x) const { return _mm256_mul_ps(x, x); }
};
struct ReluOp {  // NaN propagates; -0 becomes 0
  template <typename C> C operator()(C x) const { return (x > C(0) || x != x) ? x : C(0); }
  static constexpr bool kVec = true;
  DUET_TARGET_AVX2 __m256 vec(__m256 x) const {
    return _mm256_and_ps(x, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_NLE_UQ));
  }
};
template <typename C>
struct ClampOp {
  C lo, hi;
  C operator()(C x) const {
    if (x != x) return x;
    return x < lo ? lo : (x > hi ? hi : x);
  }
  static constexpr bool kVec = std::is_same_v<C, float>;
  DUET_TARGET_AVX2 __m256 vec(__m256 x) const {
    return _mm256_min_ps(set1(hi), _mm256_max_ps(set1(lo), x));  // NaN x comes out
  }
};
// Clamp bounds in T's compute type; integer tensors clamp to the integers inside [min, max].
template <typename C>
C clamp_bound(const Attrs& attrs, const char* key, bool upper) {
  const double v = clamp_bound_value(attrs, key, upper, std::is_integral_v<C>);
  if constexpr (std::is_integral_v<C>) return convert<C>(v);
  else return C(v);
}
struct LogicalNotOp {
  template <typename C> bool operator()(C x) const { return !(x != C(0)); }
};

// ---- unary float-only ops (C is float or double)
struct ExpOp {
  template <typename C> C operator()(C x) const { return std::exp(x); }
  static constexpr bool kVec = true;
  DUET_TARGET_AVX2 __m256 vec(__m256 x) const { return exp256(x); }
  static constexpr bool kVec512 = true;
  DUET_TARGET_AVX512 __m512 vec512(__m512 x) const { return exp512(x); }
};
struct LogOp {
  template <typename C> C operator()(C x) const { return std::log(x); }
  static constexpr bool kVec = true;
  DUET_TARGET_AVX2 __m256 vec(__m256 x) const { return log256(x); }
};
struct SqrtOp {
  template <typename C> C operator()(C x) const { return std::sqrt(x); }
  static constexpr bool kVec = true;
  DUET_TARGET_AVX2 __m256 vec(__m256 x) const { return _mm256_sqrt_ps(x); }
};
struct RsqrtOp {
  template <typename C> C operator()(C x) const { return C(1) / std::sqrt(x); }
  static constexpr bool kVec = true;
  DUET_TARGET_AVX2 __m256 vec(__m256 x) const { return _mm256_div_ps(set1(1.0f), _mm256_sqrt_ps(x)); }
};
struct ReciprocalOp {
  template <typename C> C operator()(C x) const { return C(1) / x; }
  static constexpr bool kVec = true;
  DUET_TARGET_AVX2 __m256 vec(__m256 x) const { return _mm256_div_ps(set1(1.0f), x); }
};
struct TanhOp {
  template <typename C> C operator()(C x) const { return std::tanh(x); }
  static constexpr bool kVec = true;
  DUET_TARGET_AVX2 __m256 vec(__m256 x) const { return tanh256(x); }
};
template <typename C>
C sigmoid_scalar(C x) {
  C t = std::exp(-std::abs(x));
  C r = C(1) / (C(1) + t);
  return x >= C(0) ? r : t * r;
}
struct SigmoidOp {
  template <typename C> C operator()(C x) const { return sigmoid_scalar(x); }
  static constexpr bool kVec = true;
  DUET_TARGET_AVX2 __m256 vec(__m256 x) const { return sigmoid256(x); }
};
struct SiluOp {
  template <typename C> C operator()(C x) const { return x * sigmoid_scalar(x); }
  static constexpr bool kVec = true;
  DUET_TARGET_AVX2 __m256 vec(__m256 x) const { return _mm256_mul_ps(x, sigmoid256(x)); }
};

struct ErfOp {
  template <typename C> C operator()(C x) const { return std::erf(x); }
  static constexpr bool kVec = true;
  DUET_TARGET_AVX2 __m256 vec(__m256 x) const { return erf256(x); }
};
struct GeluErfOp {  // 0.5 x (1 + erf(x / sqrt 2))
  template <typename C> C operator()(C x) const { return C(0.5) * x * (C(1) + std::erf(x * C(M_SQRT1_2))); }
  static constexpr bool kVec = true;
  DUET_TARGET_AVX2 __m256 vec(__m256 x) const { return gelu_erf256(x); }
};
struct GeluTanhOp {  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  static constexpr double kBeta = 0.797884560802865355;
  static constexpr double kKappa = 0.044715;
  template <typename C> C operator()(C x) const {
    C inner = C(kBeta) * (x + C(kKappa) * x * x * x);
    return C(0.5) * x * (C(1) + std::tanh(inner));
  }
  static constexpr bool kVec = true;
  DUET_TARGET_AVX2 __m256 vec(__m256 x) const {
    __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
    __m256 inner = _mm256_mul_ps(set1(float(kBeta)), _mm256_fmadd_ps(set1(float(kKappa)), x3, x));
    return _mm256_mul_ps(_mm256_mul_ps(set1(0.5f), x), _mm256_add_ps(set1(1.0f), tanh256(inner)));
  }
};

// ---- binary ops
struct AddOp {
  template <typename C> C operator()(C a, C b) const { return wrap_add(a, b); }
  static constexpr bool kVec = true;
  DUET_TARGET_AVX2 __m256 vec(__m256 a, __m256 b) const { return _mm256_add_ps(a, b); }
};
struct SubOp {
  template <typename C> C operator()(C a, C b) const { return wrap_sub(a, b); }
  static constexpr bool kVec = true;
  DUET_TARGET_AVX2 __m256 vec(__m256 a, __m256 b) const { return _mm256_sub_ps(a, b); }
};
struct MulOp {
  template <typename C> C operator()(C a, C b) const { return wrap_mul(a, b); }
  static constexpr bool kVec = true;
  DUET_TARGET_AVX2 __m256 vec(__m256 a, __m256 b) const { return _mm256_mul_ps(a, b); }
};
struct DivOp {  // only ever floating: integer inputs were converted to the float output dtype
  template <typename C> C operator()(C a, C b) const { return a / b; }
  static constexpr bool kVec = true;
  DUET_TARGET_AVX2 __m256 vec(__m256 a, __m256 b) const { return _mm256_div_ps(a, b); }
};
// NaN-propagating, like torch.maximum; of two equal values (0 and -0) the second. max_ps
// returns its second operand when either is NaN, which covers a NaN b; a NaN a is blended
// back in.
struct MaximumOp {
  template <typename C> C operator()(C a, C b) const {
    if constexpr (std::is_floating_point_v<C>) {
      if (a != a) return a;
      if (b != b) return b;
    }
    return a > b ? a : b;
  }
  static constexpr bool kVec = true;
  DUET_TARGET_AVX2 __m256 vec(__m256 a, __m256 b) const {
    return _mm256_blendv_ps(_mm256_max_ps(a, b), a, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
  }
};
struct MinimumOp {
  template <typename C> C operator()(C a, C b) const {
    if constexpr (std::is_floating_point_v<C>) {
      if (a != a) return a;
      if (b != b) return b;
    }
    return a < b ? a : b;
  }
  static constexpr bool kVec = true;
  DUET_TARGET_AVX2 __m256 vec(__m256 a, __m256 b) const {
    return _mm256_blendv_ps(_mm256_min_ps(a, b), a, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
  }
};

#define DUET_COMPARE_OP(Name, expr) \
  struct Name {                     \
    template <typename C>           \
    bool operator()(C a, C b) const { return expr; } \
  };
DUET_COMPARE_OP(EqOp, a == b)
DUET_COMPARE_OP(NeOp, a != b)
DUET_COMPARE_OP(LtOp, a < b)
DUET_COMPARE_OP(LeOp, a <= b)
DUET_COMPARE_OP(GtOp, a > b)
DUET_COMPARE_OP(GeOp, a >= b)
DUET_COMPARE_OP(LogicalAndOp, a != C(0) && b != C(0))
DUET_COMPARE_OP(LogicalOrOp, a != C(0) || b != C(0))
#undef DUET_COMPARE_OP

}  // namespace duet::cpu::ew
