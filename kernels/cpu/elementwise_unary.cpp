// CPU kernels of the elementwise unary ops (neg ... silu, logical_not, clamp, cast, copy).
// Each op is a functor run by ew::run_unary (elementwise_common.h); float32 ops that
// matter for training have an AVX2 body (elementwise_simd.h for exp/log/tanh/sigmoid/gelu).
// The functors of the ops graph fusion also runs are in elementwise_ops.h, shared with the
// graph's tile interpreter.
// Float ops on integer inputs (exp of int32 gives float32) convert the input first.
// Scalar paths use std:: (PyTorch's formulas); the AVX2 ones agree to a few ulp.
// sign keeps 0/-0/NaN as they are (NumPy's convention).
// exp also has an AVX-512 body (vec512, run by ew::run_unary where the CPU has AVX-512;
// bit-identical to the AVX2 one): see elementwise_simd.h for its versions and figures.
// Figures (tests/test_elementwise.cpp "throughput", --no-skip; 4M contiguous float32,
// 2 threads, 2-core shared VM under heavy load from parallel builds, so lower bounds):
// add 4.3-4.7 GB/s (~11 ms), exp 2.4-2.6 GB/s (~13 ms), tanh 2.0, gelu 1.8 GB/s (v1 exp).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/dispatch.h"
#include "core/ops/gelu_approximation.h"
#include "kernels/cpu/elementwise_common.h"
#include "kernels/cpu/elementwise_ops.h"
#include "kernels/cpu/elementwise_simd.h"
#include "kernels/cpu/kernels.h"

// GCC 12 reports false (maybe-)uninitialized warnings from inside its own AVX-512
// intrinsic headers (the "undefined" source operand of the unmasked forms).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace duet::cpu {
namespace ew {

void convert_into(const Tensor& src, const Tensor& dst) {
  visit_dtype(dst.dtype(), [&]<typename Out>() {
    visit_dtype(src.dtype(), [&]<typename In>() { run_unary<In, Out>(src, dst, Identity{}); });
  });
}

Tensor as_dtype(const Tensor& t, DType dt) {
  if (t.dtype() == dt) return t;
  Tensor r = empty_like_meta({t.sizes(), dt, t.device()}, "cast");
  if (r.numel() > 0) convert_into(t, r);
  return r;
}

namespace {

constexpr float kSqrt1_2 = 0.707106781186547524f;

// ---- ops on every numeric dtype (neg, abs, square, relu, clamp and the float ops that
// graph fusion also runs are in elementwise_ops.h)
struct SignOp {
  template <typename C> C operator()(C x) const { return x > C(0) ? C(1) : x < C(0) ? C(-1) : x; }
};
struct FloorOp {
  template <typename C> C operator()(C x) const {
    if constexpr (std::is_integral_v<C>) return x;
    else return std::floor(x);
  }
};
struct CeilOp {
  template <typename C> C operator()(C x) const {
    if constexpr (std::is_integral_v<C>) return x;
    else return std::ceil(x);
  }
};
struct RoundOp {  // half to even, like PyTorch
  template <typename C> C operator()(C x) const {
    if constexpr (std::is_integral_v<C>) return x;
    else return std::nearbyint(x);
  }
};

// ---- float-only ops (C is float or double)
struct Expm1Op {
  template <typename C> C operator()(C x) const { return std::expm1(x); }
};
struct Log1pOp {
  template <typename C> C operator()(C x) const { return std::log1p(x); }
};
struct SinOp {
  template <typename C> C operator()(C x) const { return std::sin(x); }
};
struct CosOp {
  template <typename C> C operator()(C x) const { return std::cos(x); }
};
template <typename Op>
void numeric_unary(std::span<const Tensor> in, const Tensor& out, const Op& op) {
  Tensor x = as_dtype(in[0], out.dtype());
  visit_numeric(out.dtype(), [&]<typename T>() { run_unary<T, T>(x, out, op); });
}

template <typename Op>
void float_unary(std::span<const Tensor> in, const Tensor& out, const Op& op) {
  Tensor x = as_dtype(in[0], out.dtype());
  visit_float_types(out.dtype(), [&]<typename T>() { run_unary<T, T>(x, out, op); });
}

}  // namespace
}  // namespace ew

#define DUET_UNARY_KERNEL(name, family, op)                                                      \
  void name##_kernel(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) { \
    ew::family(inputs, out, ew::op{});                                                          \
  }

DUET_UNARY_KERNEL(neg, numeric_unary, NegOp)
DUET_UNARY_KERNEL(abs, numeric_unary, AbsOp)
DUET_UNARY_KERNEL(sign, numeric_unary, SignOp)
DUET_UNARY_KERNEL(square, numeric_unary, SquareOp)
DUET_UNARY_KERNEL(floor, numeric_unary, FloorOp)
DUET_UNARY_KERNEL(ceil, numeric_unary, CeilOp)
DUET_UNARY_KERNEL(round, numeric_unary, RoundOp)
DUET_UNARY_KERNEL(relu, numeric_unary, ReluOp)
DUET_UNARY_KERNEL(exp, float_unary, ExpOp)
DUET_UNARY_KERNEL(expm1, float_unary, Expm1Op)
DUET_UNARY_KERNEL(log, float_unary, LogOp)
DUET_UNARY_KERNEL(log1p, float_unary, Log1pOp)
DUET_UNARY_KERNEL(sqrt, float_unary, SqrtOp)
DUET_UNARY_KERNEL(rsqrt, float_unary, RsqrtOp)
DUET_UNARY_KERNEL(reciprocal, float_unary, ReciprocalOp)
DUET_UNARY_KERNEL(sin, float_unary, SinOp)
DUET_UNARY_KERNEL(cos, float_unary, CosOp)
DUET_UNARY_KERNEL(tanh, float_unary, TanhOp)
DUET_UNARY_KERNEL(sigmoid, float_unary, SigmoidOp)
DUET_UNARY_KERNEL(erf, float_unary, ErfOp)
DUET_UNARY_KERNEL(silu, float_unary, SiluOp)
#undef DUET_UNARY_KERNEL

void gelu_kernel(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  if (gelu_uses_tanh(attrs)) ew::float_unary(inputs, out, ew::GeluTanhOp{});
  else ew::float_unary(inputs, out, ew::GeluErfOp{});
}

void logical_not_kernel(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  DUET_ASSERT(out.dtype() == DType::Bool, "logical_not writes bool");
  visit_dtype(inputs[0].dtype(), [&]<typename T>() { ew::run_unary<T, bool>(inputs[0], out, ew::LogicalNotOp{}); });
}

void clamp_kernel(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  Tensor x = ew::as_dtype(inputs[0], out.dtype());
  ew::visit_numeric(out.dtype(), [&]<typename T>() {
    using C = compute_t<T>;
    ew::ClampOp<C> op{ew::clamp_bound<C>(attrs, "min", false), ew::clamp_bound<C>(attrs, "max", true)};
    ew::run_unary<T, T>(x, out, op);
  });
}

// The output's dtype is the target; inputs of any dtype broadcast to out's shape.
void cast_kernel(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  ew::convert_into(inputs[0], out);
}

void copy_kernel(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  ew::convert_into(inputs[0], out);
}

}  // namespace duet::cpu
