// CUDA kernels of the elementwise binary ops (add ... logical_or) with NumPy broadcasting
// and the semantics of kernels/cpu/elementwise_binary.cpp: arithmetic computes in the
// output's dtype (result_type; float32 for true division of integers) after converting
// each operand to it; comparisons and logical ops compute in result_type(a, b) and write
// bool; integer arithmetic wraps; integer pow squares and multiplies (wrapping), and a
// negative integer exponent is the CPU's error: pow_cuda first finds the exponent's
// smallest value with a small kernel and reads it back (one host synchronisation, as the
// indexing kernels' index checks, kernels/cuda/indexing.cu), before writing anything;
// maximum/minimum propagate NaN. where(cond, a, b) is in copy.cu.
//
// Versions (see elementwise.cuh): v1 naive strided (32-bit offsets when they fit),
// v2 linear for contiguous operands, v3 float4 for float32 add/sub/mul/div/pow/maximum/
// minimum with contiguous, 16-byte aligned operands or a broadcast scalar operand.
// Figures: not yet measured on a GPU.
#include "core/storage.h"
#include "core/type_promotion.h"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/registration.h"

namespace duet::cuda {
namespace {

template <typename C>
__device__ inline C wrap_add(C a, C b) {
  if constexpr (std::is_integral_v<C>) return C(std::make_unsigned_t<C>(a) + std::make_unsigned_t<C>(b));
  else return a + b;
}
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

struct AddOp {
  template <typename C> __device__ C operator()(C a, C b) const { return wrap_add(a, b); }
};
struct SubOp {
  template <typename C> __device__ C operator()(C a, C b) const { return wrap_sub(a, b); }
};
struct MulOp {
  template <typename C> __device__ C operator()(C a, C b) const { return wrap_mul(a, b); }
};
struct DivOp {  // floating only
  template <typename C> __device__ C operator()(C a, C b) const { return a / b; }
};
struct PowOp {
  template <typename C> __device__ C operator()(C a, C b) const {
    if constexpr (std::is_integral_v<C>) {
      if (b < 0) return 0;  // unreachable: pow_cuda refuses negative integer exponents
      C result = 1;
      for (; b > 0; b >>= 1) {
        if (b & 1) result = wrap_mul(result, a);
        a = wrap_mul(a, a);
      }
      return result;
    } else if constexpr (std::is_same_v<C, float>) {
      return powf(a, b);
    } else {
      return pow(a, b);
    }
  }
};
struct MaximumOp {
  template <typename C> __device__ C operator()(C a, C b) const {
    if constexpr (std::is_floating_point_v<C>) {
      if (a != a) return a;
      if (b != b) return b;
    }
    return a > b ? a : b;
  }
};
struct MinimumOp {
  template <typename C> __device__ C operator()(C a, C b) const {
    if constexpr (std::is_floating_point_v<C>) {
      if (a != a) return a;
      if (b != b) return b;
    }
    return a < b ? a : b;
  }
};

#define DUET_CUDA_COMPARE_OP(Name, expr)                           \
  struct Name {                                                   \
    template <typename C> __device__ bool operator()(C a, C b) const { return expr; } \
  };
DUET_CUDA_COMPARE_OP(EqOp, a == b)
DUET_CUDA_COMPARE_OP(NeOp, a != b)
DUET_CUDA_COMPARE_OP(LtOp, a < b)
DUET_CUDA_COMPARE_OP(LeOp, a <= b)
DUET_CUDA_COMPARE_OP(GtOp, a > b)
DUET_CUDA_COMPARE_OP(GeOp, a >= b)
DUET_CUDA_COMPARE_OP(LogicalAndOp, a != C(0) && b != C(0))
DUET_CUDA_COMPARE_OP(LogicalOrOp, a != C(0) || b != C(0))
#undef DUET_CUDA_COMPARE_OP

// *lowest = min(*lowest, e[i]) over an integer tensor (*lowest starts at 0).
template <typename T>
__global__ void min_negative_kernel(TensorRef e, long long* lowest) {
  DUET_CUDA_KERNEL_LOOP(i, e.numel) {
    const long long v = static_cast<long long>(e.ptr<const T>()[e.offset(i)]);
    if (v < 0) atomicMin(lowest, v);
  }
}

// The smallest value of the int32/int64 tensor `e` if it is negative, else 0. Synchronises
// the stream: the answer must reach the host before the op may write.
int64_t min_negative(const Tensor& e) {
  if (e.numel() == 0) return 0;
  Storage scratch(sizeof(long long), e.device());
  auto* lowest = static_cast<long long*>(scratch.data());
  cudaStream_t s = current_stream();
  DUET_CUDA_CHECK(cudaMemsetAsync(lowest, 0, sizeof(long long), s));
  const TensorRef ref = make_ref(e);
  if (e.dtype() == DType::Int64) min_negative_kernel<int64_t><<<grid_for(ref.numel), kThreads, 0, s>>>(ref, lowest);
  else min_negative_kernel<int32_t><<<grid_for(ref.numel), kThreads, 0, s>>>(ref, lowest);
  DUET_CUDA_CHECK_LAUNCH();
  long long v = 0;
  DUET_CUDA_CHECK(cudaMemcpyAsync(&v, lowest, sizeof(v), cudaMemcpyDeviceToHost, s));
  DUET_CUDA_CHECK(cudaStreamSynchronize(s));  // host read of the check's result
  return int64_t(v);
}

// out[i] = op(C(a[i]), C(b[i])), operands rounded through the stage dtype first.
template <typename Op, typename C>
struct BinaryFn {
  Op op;
  __device__ void operator()(const ew::ElementwiseArgs<3>& a, const int64_t (&off)[3]) const {
    const C x = ew::load_input<C>(a, 1, off[1]);
    const C y = ew::load_input<C>(a, 2, off[2]);
    dev::store_as(a.data[0], off[0], a.dtype[0], op(x, y));
  }
};

template <typename Op, typename C>
void launch_binary(const ew::ElementwiseArgs<3>& a, const Op& op) {
  if constexpr (std::is_same_v<C, float>) {
    if (ew::f32x4_eligible(a)) return ew::launch_binary_f32x4(a, op);
  }
  ew::launch_elementwise(a, BinaryFn<Op, C>{op});
}

// Arithmetic: computes in out's dtype.
template <typename Op>
void arith_binary(std::span<const Tensor> in, const Tensor& out, const Op& op) {
  DeviceGuard guard(out.device().index);
  auto a = ew::make_args<3>(out, in, out.dtype());
  visit_compute_type(out.dtype(), [&]<typename C>() { launch_binary<Op, C>(a, op); });
}

// Comparisons and logical ops: compute in result_type(a, b), write bool.
template <typename Op>
void compare_binary(std::span<const Tensor> in, const Tensor& out, const Op& op) {
  DUET_ASSERT(out.dtype() == DType::Bool, "comparisons write bool");
  DeviceGuard guard(out.device().index);
  const DType ct = result_type(in[0], in[1]);
  auto a = ew::make_args<3>(out, in, ct);
  visit_compute_type(ct, [&]<typename C>() { ew::launch_elementwise(a, BinaryFn<Op, C>{op}); });
}

void div_cuda(std::span<const Tensor> inputs, const Tensor& out, const Attrs&) {
  DUET_ASSERT(is_floating(out.dtype()), "div writes a floating dtype");
  DeviceGuard guard(out.device().index);
  auto a = ew::make_args<3>(out, inputs, out.dtype());
  ew::visit_float_compute(out.dtype(), [&]<typename C>() { launch_binary<DivOp, C>(a, DivOp{}); });
}

#define DUET_CUDA_BINARY(name, family, op)                                                  \
  void name##_cuda(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) { \
    family(inputs, out, op{});                                                              \
  }
DUET_CUDA_BINARY(add, arith_binary, AddOp)
DUET_CUDA_BINARY(sub, arith_binary, SubOp)
DUET_CUDA_BINARY(mul, arith_binary, MulOp)
DUET_CUDA_BINARY(maximum, arith_binary, MaximumOp)
DUET_CUDA_BINARY(minimum, arith_binary, MinimumOp)
DUET_CUDA_BINARY(eq, compare_binary, EqOp)
DUET_CUDA_BINARY(ne, compare_binary, NeOp)
DUET_CUDA_BINARY(lt, compare_binary, LtOp)
DUET_CUDA_BINARY(le, compare_binary, LeOp)
DUET_CUDA_BINARY(gt, compare_binary, GtOp)
DUET_CUDA_BINARY(ge, compare_binary, GeOp)
DUET_CUDA_BINARY(logical_and, compare_binary, LogicalAndOp)
DUET_CUDA_BINARY(logical_or, compare_binary, LogicalOrOp)
#undef DUET_CUDA_BINARY

// The CPU's check and message (kernels/cpu/elementwise_binary.cpp, pow_kernel).
void pow_cuda(std::span<const Tensor> inputs, const Tensor& out, const Attrs&) {
  const Tensor& e = inputs[1];
  if (is_integral(out.dtype()) && (e.dtype() == DType::Int32 || e.dtype() == DType::Int64)) {
    DeviceGuard guard(out.device().index);
    const int64_t lowest = min_negative(e);
    DUET_CHECK(lowest >= 0, "pow: integers to negative integer powers are not allowed (the exponent ",
               dtype_name(e.dtype()), shape_str(e.sizes()), " holds ", lowest, ")");
  }
  arith_binary(inputs, out, PowOp{});
}

}  // namespace

void register_elementwise_binary_kernels() {
  const std::pair<OpKind, KernelFn> table[] = {
      {OpKind::add, add_cuda},     {OpKind::sub, sub_cuda},         {OpKind::mul, mul_cuda},
      {OpKind::div, div_cuda},     {OpKind::pow, pow_cuda},         {OpKind::maximum, maximum_cuda},
      {OpKind::minimum, minimum_cuda}, {OpKind::eq, eq_cuda},       {OpKind::ne, ne_cuda},
      {OpKind::lt, lt_cuda},       {OpKind::le, le_cuda},           {OpKind::gt, gt_cuda},
      {OpKind::ge, ge_cuda},       {OpKind::logical_and, logical_and_cuda}, {OpKind::logical_or, logical_or_cuda},
  };
  for (const auto& [op, fn] : table) register_kernel(op, DeviceType::CUDA, fn);
}

}  // namespace duet::cuda
