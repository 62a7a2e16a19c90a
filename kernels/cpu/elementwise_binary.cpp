// CPU kernels of the elementwise binary ops (add ... logical_or) and where(cond, a, b),
// with NumPy broadcasting. Operands are first brought to the dtype the op computes in
// (result_type(a, b); float32 for true division of integers) — only operands whose dtype
// differs are converted, into a temporary of their own (unbroadcast) size. Each op is a
// functor run by ew::run_binary (elementwise_common.h); float32 add/sub/mul/div/maximum/
// minimum have AVX2 bodies for contiguous operands and for a broadcast scalar operand.
// Every functor but pow's is in elementwise_ops.h, shared with the graph's tile interpreter.
// Integer arithmetic wraps on overflow (two's complement, as PyTorch); integer pow with a
// negative exponent is an error, "integers to negative integer powers are not allowed"
// (PyTorch's message for a scalar exponent; duet refuses a negative value in an integer
// exponent tensor too): the values are only known here, so pow_kernel scans the exponent
// before writing anything, as the indexing kernels do with index values.
#include <atomic>
#include <cmath>

#include "core/type_promotion.h"
#include "kernels/cpu/elementwise_common.h"
#include "kernels/cpu/elementwise_ops.h"
#include "kernels/cpu/elementwise_simd.h"
#include "kernels/cpu/kernels.h"

namespace duet::cpu {
namespace ew {
namespace {

struct PowOp {
  template <typename C> C operator()(C a, C b) const {
    if constexpr (std::is_integral_v<C>) {
      if (b < 0) return 0;  // unreachable: pow_kernel refuses negative integer exponents
      C result = 1;
      for (; b > 0; b >>= 1) {  // square-and-multiply, wrapping like PyTorch's int pow
        if (b & 1) result = wrap_mul(result, a);
        a = wrap_mul(a, a);
      }
      return result;
    } else {
      return std::pow(a, b);
    }
  }
};

// Arithmetic: computes in out's dtype (result_type, or float32 for integer division).
template <typename Op>
void arith_binary(std::span<const Tensor> in, const Tensor& out, const Op& op) {
  Tensor a = as_dtype(in[0], out.dtype()), b = as_dtype(in[1], out.dtype());
  visit_numeric(out.dtype(), [&]<typename T>() { run_binary<T, T>(a, b, out, op); });
}

// Comparisons and logical ops: compute in result_type(a, b), write bool.
template <typename Op>
void compare_binary(std::span<const Tensor> in, const Tensor& out, const Op& op) {
  DUET_ASSERT(out.dtype() == DType::Bool, "comparisons write bool");
  DType ct = result_type(in[0], in[1]);
  Tensor a = as_dtype(in[0], ct), b = as_dtype(in[1], ct);
  visit_dtype(ct, [&]<typename T>() { run_binary<T, bool>(a, b, out, op); });
}

// The smallest value of an integer tensor (0 when it has none below 0 or is empty).
template <typename T>
int64_t min_negative(const Tensor& t) {
  std::atomic<int64_t> lowest{0};
  StridedLoop loop(t, {});
  loop.run(kGrain, [&](char** p, const int64_t* s, int64_t n) {
    int64_t m = 0;
    for (int64_t i = 0; i < n; ++i) m = std::min<int64_t>(m, *reinterpret_cast<const T*>(p[0] + i * s[0]));
    for (int64_t cur = lowest.load(); m < cur && !lowest.compare_exchange_weak(cur, m);) {
    }
  });
  return lowest.load();
}

template <typename T>
void run_where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  const Tensor ins[3] = {cond, a, b};
  StridedLoop loop(out, ins);
  loop.run(kGrain, [&](char** p, const int64_t* s, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      bool c = *reinterpret_cast<const bool*>(p[1] + i * s[1]);
      std::memcpy(p[0] + i * s[0], c ? p[2] + i * s[2] : p[3] + i * s[3], sizeof(T));
    }
  });
}

}  // namespace
}  // namespace ew

#define DUET_BINARY_KERNEL(name, family, op)                                                     \
  void name##_kernel(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) { \
    ew::family(inputs, out, ew::op{});                                                          \
  }

DUET_BINARY_KERNEL(add, arith_binary, AddOp)
DUET_BINARY_KERNEL(sub, arith_binary, SubOp)
DUET_BINARY_KERNEL(mul, arith_binary, MulOp)
DUET_BINARY_KERNEL(maximum, arith_binary, MaximumOp)
DUET_BINARY_KERNEL(minimum, arith_binary, MinimumOp)
DUET_BINARY_KERNEL(eq, compare_binary, EqOp)
DUET_BINARY_KERNEL(ne, compare_binary, NeOp)
DUET_BINARY_KERNEL(lt, compare_binary, LtOp)
DUET_BINARY_KERNEL(le, compare_binary, LeOp)
DUET_BINARY_KERNEL(gt, compare_binary, GtOp)
DUET_BINARY_KERNEL(ge, compare_binary, GeOp)
DUET_BINARY_KERNEL(logical_and, compare_binary, LogicalAndOp)
DUET_BINARY_KERNEL(logical_or, compare_binary, LogicalOrOp)
#undef DUET_BINARY_KERNEL

void pow_kernel(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  const Tensor& e = inputs[1];
  if (is_integral(out.dtype()) && e.dtype() != DType::Bool) {
    const int64_t lowest = visit_dtype(e.dtype(), [&]<typename T>() -> int64_t {
      if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) return ew::min_negative<T>(e);
      return 0;
    });
    DUET_CHECK(lowest >= 0, "pow: integers to negative integer powers are not allowed (the exponent ",
               dtype_name(e.dtype()), shape_str(e.sizes()), " holds ", lowest, ")");
  }
  ew::arith_binary(inputs, out, ew::PowOp{});
}

void div_kernel(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  DUET_ASSERT(is_floating(out.dtype()), "div writes a floating dtype");
  Tensor a = ew::as_dtype(inputs[0], out.dtype()), b = ew::as_dtype(inputs[1], out.dtype());
  ew::visit_float_types(out.dtype(), [&]<typename T>() { ew::run_binary<T, T>(a, b, out, ew::DivOp{}); });
}

void where_kernel(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  Tensor a = ew::as_dtype(inputs[1], out.dtype()), b = ew::as_dtype(inputs[2], out.dtype());
  visit_dtype(out.dtype(), [&]<typename T>() { ew::run_where<T>(inputs[0], a, b, out); });
}

}  // namespace duet::cpu
