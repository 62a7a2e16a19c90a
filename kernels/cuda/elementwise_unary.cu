// CUDA kernels of the elementwise unary ops: neg ... silu, logical_not and clamp, with the
// semantics of kernels/cpu/elementwise_unary.cpp (integer negation and squares wrap, round
// is half to even, sign keeps 0/-0/NaN, relu keeps NaN, clamp keeps NaN and clamps
// integers to the integers inside [min, max], gelu exact is 0.5 x (1 + erf(x / sqrt 2)),
// float ops on integer inputs compute in float32). cast and copy are in copy.cu.
//
// Versions (see elementwise.cuh):
//   v1 naive     one element per thread per grid-stride step; operand dtypes read at run
//                time; offsets by div/mod over coalesced dims (32-bit when they fit)
//   v2 linear    contiguous operands skip the offset arithmetic
//   v3 float4    float32, contiguous and 16-byte aligned: 16-byte loads and stores
// Figures: not yet measured on a GPU (this backend was written and compiled on a machine
// without one; scripts/gpu_check.sh runs the tests and benchmarks where a GPU exists).
#include <cmath>

#include "core/ops/gelu_approximation.h"
#include "kernels/clamp_bounds.h"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/registration.h"

namespace duet::cuda {
namespace {

template <typename C>
__device__ inline C wrap_sub(C a, C b) {
  if constexpr (std::is_integral_v<C>) return C(std::make_unsigned_t<C>(a) - std::make_unsigned_t<C>(b));
  else return a - b;
}
template <typename C>
__device__ inline C wrap_mul(C a, C b) {
  if constexpr (std::is_integral_v<C>) return C(std::make_unsigned_t<C>(a) * std::make_unsigned_t<C>(b));
  else return a * b;
}

// Float and double overloads of the math library, so functors read like the CPU's.
__device__ inline float m_exp(float x) { return expf(x); }
__device__ inline double m_exp(double x) { return exp(x); }
__device__ inline float m_expm1(float x) { return expm1f(x); }
__device__ inline double m_expm1(double x) { return expm1(x); }
__device__ inline float m_log(float x) { return logf(x); }
__device__ inline double m_log(double x) { return log(x); }
__device__ inline float m_log1p(float x) { return log1pf(x); }
__device__ inline double m_log1p(double x) { return log1p(x); }
__device__ inline float m_sqrt(float x) { return sqrtf(x); }
__device__ inline double m_sqrt(double x) { return sqrt(x); }
__device__ inline float m_sin(float x) { return sinf(x); }
__device__ inline double m_sin(double x) { return sin(x); }
__device__ inline float m_cos(float x) { return cosf(x); }
__device__ inline double m_cos(double x) { return cos(x); }
__device__ inline float m_tanh(float x) { return tanhf(x); }
__device__ inline double m_tanh(double x) { return tanh(x); }
__device__ inline float m_erf(float x) { return erff(x); }
__device__ inline double m_erf(double x) { return erf(x); }
__device__ inline float m_fabs(float x) { return fabsf(x); }
__device__ inline double m_fabs(double x) { return fabs(x); }
__device__ inline float m_floor(float x) { return floorf(x); }
__device__ inline double m_floor(double x) { return floor(x); }
__device__ inline float m_ceil(float x) { return ceilf(x); }
__device__ inline double m_ceil(double x) { return ceil(x); }
__device__ inline float m_rint(float x) { return rintf(x); }
__device__ inline double m_rint(double x) { return rint(x); }

// ---- ops on every numeric dtype
struct NegOp {  // a sign flip for floats, as PyTorch and the CPU; integers wrap
  template <typename C> __device__ C operator()(C x) const {
    if constexpr (std::is_integral_v<C>) return wrap_sub(C(0), x);
    else return -x;
  }
};
struct AbsOp {
  template <typename C> __device__ C operator()(C x) const {
    if constexpr (std::is_integral_v<C>) return x < 0 ? wrap_sub(C(0), x) : x;
    else return m_fabs(x);
  }
};
struct SignOp {
  template <typename C> __device__ C operator()(C x) const { return x > C(0) ? C(1) : x < C(0) ? C(-1) : x; }
};
struct SquareOp {
  template <typename C> __device__ C operator()(C x) const { return wrap_mul(x, x); }
};
struct FloorOp {
  template <typename C> __device__ C operator()(C x) const {
    if constexpr (std::is_integral_v<C>) return x;
    else return m_floor(x);
  }
};
struct CeilOp {
  template <typename C> __device__ C operator()(C x) const {
    if constexpr (std::is_integral_v<C>) return x;
    else return m_ceil(x);
  }
};
struct RoundOp {  // half to even
  template <typename C> __device__ C operator()(C x) const {
    if constexpr (std::is_integral_v<C>) return x;
    else return m_rint(x);
  }
};
struct ReluOp {  // NaN propagates; -0 becomes 0
  template <typename C> __device__ C operator()(C x) const { return (x > C(0) || x != x) ? x : C(0); }
};
template <typename C>
struct ClampOp {
  C lo, hi;
  __device__ C operator()(C x) const {
    if (x != x) return x;
    return x < lo ? lo : (x > hi ? hi : x);
  }
};

// ---- float-only ops (C is float or double)
struct ExpOp {
  template <typename C> __device__ C operator()(C x) const { return m_exp(x); }
};
struct Expm1Op {
  template <typename C> __device__ C operator()(C x) const { return m_expm1(x); }
};
struct LogOp {
  template <typename C> __device__ C operator()(C x) const { return m_log(x); }
};
struct Log1pOp {
  template <typename C> __device__ C operator()(C x) const { return m_log1p(x); }
};
struct SqrtOp {
  template <typename C> __device__ C operator()(C x) const { return m_sqrt(x); }
};
struct RsqrtOp {  // 1 / sqrt(x), not the approximate rsqrt instruction
  template <typename C> __device__ C operator()(C x) const { return C(1) / m_sqrt(x); }
};
struct ReciprocalOp {
  template <typename C> __device__ C operator()(C x) const { return C(1) / x; }
};
struct SinOp {
  template <typename C> __device__ C operator()(C x) const { return m_sin(x); }
};
struct CosOp {
  template <typename C> __device__ C operator()(C x) const { return m_cos(x); }
};
struct TanhOp {
  template <typename C> __device__ C operator()(C x) const { return m_tanh(x); }
};
template <typename C>
__device__ inline C sigmoid_of(C x) {  // never exponentiates a positive number
  C t = m_exp(-m_fabs(x));
  C r = C(1) / (C(1) + t);
  return x >= C(0) ? r : t * r;
}
struct SigmoidOp {
  template <typename C> __device__ C operator()(C x) const { return sigmoid_of(x); }
};
struct ErfOp {
  template <typename C> __device__ C operator()(C x) const { return m_erf(x); }
};
struct GeluErfOp {  // 0.5 x (1 + erf(x / sqrt 2))
  template <typename C> __device__ C operator()(C x) const {
    return C(0.5) * x * (C(1) + m_erf(x * C(0.70710678118654752440)));
  }
};
struct GeluTanhOp {  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  template <typename C> __device__ C operator()(C x) const {
    C inner = C(0.797884560802865355) * (x + C(0.044715) * x * x * x);
    return C(0.5) * x * (C(1) + m_tanh(inner));
  }
};
struct SiluOp {
  template <typename C> __device__ C operator()(C x) const { return x * sigmoid_of(x); }
};
struct LogicalNotOp {
  template <typename C> __device__ bool operator()(C x) const { return !(x != C(0)); }
};

// out[i] = op(C(in[i])), with in rounded through the stage dtype first.
template <typename Op, typename C>
struct UnaryFn {
  Op op;
  __device__ void operator()(const ew::ElementwiseArgs<2>& a, const int64_t (&off)[2]) const {
    const C x = ew::load_input<C>(a, 1, off[1]);
    dev::store_as(a.data[0], off[0], a.dtype[0], op(x));
  }
};

template <typename Op, typename C>
void launch_unary(const ew::ElementwiseArgs<2>& a, const Op& op) {
  if constexpr (std::is_same_v<C, float>) {
    if (ew::f32x4_eligible(a)) return ew::launch_unary_f32x4(a, op);
  }
  ew::launch_elementwise(a, UnaryFn<Op, C>{op});
}

// Ops whose output has the input's dtype (any but bool); inputs arrive in that dtype.
template <typename Op>
void numeric_unary(std::span<const Tensor> in, const Tensor& out, const Op& op) {
  DeviceGuard guard(out.device().index);
  auto a = ew::make_args<2>(out, in, out.dtype());
  visit_compute_type(out.dtype(), [&]<typename C>() { launch_unary<Op, C>(a, op); });
}

// Float ops: the output is floating (float32 for integer inputs, which are converted).
template <typename Op>
void float_unary(std::span<const Tensor> in, const Tensor& out, const Op& op) {
  DeviceGuard guard(out.device().index);
  auto a = ew::make_args<2>(out, in, out.dtype());
  ew::visit_float_compute(out.dtype(), [&]<typename C>() { launch_unary<Op, C>(a, op); });
}

// Clamp bounds in the compute type C (kernels/clamp_bounds.h), as on the CPU.
template <typename C>
C clamp_bound(const Attrs& attrs, const char* key, bool upper) {
  const double v = clamp_bound_value(attrs, key, upper, std::is_integral_v<C>);
  if constexpr (std::is_integral_v<C>) return dev::convert<C>(v);
  else return C(v);
}

#define DUET_CUDA_UNARY(name, family, op)                                                   \
  void name##_cuda(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) { \
    family(inputs, out, op{});                                                              \
  }
DUET_CUDA_UNARY(neg, numeric_unary, NegOp)
DUET_CUDA_UNARY(abs, numeric_unary, AbsOp)
DUET_CUDA_UNARY(sign, numeric_unary, SignOp)
DUET_CUDA_UNARY(square, numeric_unary, SquareOp)
DUET_CUDA_UNARY(floor, numeric_unary, FloorOp)
DUET_CUDA_UNARY(ceil, numeric_unary, CeilOp)
DUET_CUDA_UNARY(round, numeric_unary, RoundOp)
DUET_CUDA_UNARY(relu, numeric_unary, ReluOp)
DUET_CUDA_UNARY(exp, float_unary, ExpOp)
DUET_CUDA_UNARY(expm1, float_unary, Expm1Op)
DUET_CUDA_UNARY(log, float_unary, LogOp)
DUET_CUDA_UNARY(log1p, float_unary, Log1pOp)
DUET_CUDA_UNARY(sqrt, float_unary, SqrtOp)
DUET_CUDA_UNARY(rsqrt, float_unary, RsqrtOp)
DUET_CUDA_UNARY(reciprocal, float_unary, ReciprocalOp)
DUET_CUDA_UNARY(sin, float_unary, SinOp)
DUET_CUDA_UNARY(cos, float_unary, CosOp)
DUET_CUDA_UNARY(tanh, float_unary, TanhOp)
DUET_CUDA_UNARY(sigmoid, float_unary, SigmoidOp)
DUET_CUDA_UNARY(erf, float_unary, ErfOp)
DUET_CUDA_UNARY(silu, float_unary, SiluOp)
#undef DUET_CUDA_UNARY

void gelu_cuda(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  if (gelu_uses_tanh(attrs)) float_unary(inputs, out, GeluTanhOp{});
  else float_unary(inputs, out, GeluErfOp{});
}

// Computes in the input's own type (no conversion), writes bool.
void logical_not_cuda(std::span<const Tensor> inputs, const Tensor& out, const Attrs&) {
  DUET_ASSERT(out.dtype() == DType::Bool, "logical_not writes bool");
  DeviceGuard guard(out.device().index);
  auto a = ew::make_args<2>(out, inputs, inputs[0].dtype());
  visit_compute_type(inputs[0].dtype(), [&]<typename C>() { ew::launch_elementwise(a, UnaryFn<LogicalNotOp, C>{}); });
}

void clamp_cuda(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  DeviceGuard guard(out.device().index);
  auto a = ew::make_args<2>(out, inputs, out.dtype());
  visit_compute_type(out.dtype(), [&]<typename C>() {
    ClampOp<C> op{clamp_bound<C>(attrs, "min", false), clamp_bound<C>(attrs, "max", true)};
    launch_unary<ClampOp<C>, C>(a, op);
  });
}

}  // namespace

void register_elementwise_unary_kernels() {
  const std::pair<OpKind, KernelFn> table[] = {
      {OpKind::neg, neg_cuda},         {OpKind::abs, abs_cuda},       {OpKind::sign, sign_cuda},
      {OpKind::square, square_cuda},   {OpKind::floor, floor_cuda},   {OpKind::ceil, ceil_cuda},
      {OpKind::round, round_cuda},     {OpKind::relu, relu_cuda},     {OpKind::exp, exp_cuda},
      {OpKind::expm1, expm1_cuda},     {OpKind::log, log_cuda},       {OpKind::log1p, log1p_cuda},
      {OpKind::sqrt, sqrt_cuda},       {OpKind::rsqrt, rsqrt_cuda},   {OpKind::reciprocal, reciprocal_cuda},
      {OpKind::sin, sin_cuda},         {OpKind::cos, cos_cuda},       {OpKind::tanh, tanh_cuda},
      {OpKind::sigmoid, sigmoid_cuda}, {OpKind::erf, erf_cuda},       {OpKind::gelu, gelu_cuda},
      {OpKind::silu, silu_cuda},       {OpKind::logical_not, logical_not_cuda}, {OpKind::clamp, clamp_cuda},
  };
  for (const auto& [op, fn] : table) register_kernel(op, DeviceType::CUDA, fn);
}

}  // namespace duet::cuda
