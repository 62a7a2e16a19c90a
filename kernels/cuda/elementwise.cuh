// Launch machinery of the elementwise CUDA kernels (elementwise_unary.cu,
// elementwise_binary.cu, copy.cu): the CUDA counterpart of kernels/cpu/strided_loop.h and
// elementwise_common.h.
//
// ElementwiseArgs<N> carries the output (operand 0) and N-1 inputs broadcast to the
// output's shape, with dims coalesced on the host (size-1 dims dropped, neighbours merged
// where every operand's strides allow), so a contiguous tensor is one dim and a bias add
// [B, N] + [N] is two. One kernel template per op family and compute type walks it:
//
//   linear path    every operand contiguous or a single broadcast value: offsets are i or 0
//   strided path   offsets from the linear index by div/mod over the coalesced dims, in
//                  32-bit arithmetic when every offset fits (much cheaper on the GPU)
//   float4 path    float32 operands, contiguous (or one broadcast value) and 16-byte
//                  aligned: 16-byte loads and stores, separate kernels
//
// Operand dtypes are read at run time (dev::load_as/store_as; the switch is uniform
// across a warp), so each op is instantiated once per compute type (float, double,
// int32_t, int64_t), not once per dtype combination: this keeps nvcc's time and the
// binary small. Inputs whose dtype differs from `stage` (the dtype the CPU kernels first
// convert them to, e.g. float16 for int64 + float16) are rounded through it, so mixed-dtype
// ops agree with the CPU bit for bit before the op itself runs.
#pragma once

#include <span>

#include "kernels/cuda/cuda_common.cuh"

namespace duet::cuda::ew {

template <int N>
struct ElementwiseArgs {
  void* data[N];        // operand 0 is the output
  DType dtype[N];
  DType stage;          // inputs are rounded through this dtype before the op
  int32_t ndim;         // after coalescing, >= 1
  bool linear;          // every operand contiguous or a single value: offset i or 0
  bool index32;         // numel and every operand's largest offset fit in int32
  uint32_t scalar_mask; // bit k: operand k is a single value (stride 0 in every dim)
  int64_t numel;
  int64_t sizes[kMaxDims];       // innermost dim first
  int64_t strides[N][kMaxDims];  // in elements, innermost dim first
};

// Drops the size-1 dims of `shape` and merges neighbours where all N stride sets `st`
// allow it, writing sizes and strides innermost dim first; returns the dim count, >= 1 (a
// single element is one dim of size 1, stride 0). Row-major order is kept, so linear
// position i still walks the original shape in order.
template <int N>
int coalesce_dims(const Shape& shape, const Shape* st, int64_t (&sizes)[kMaxDims], int64_t (&strides)[N][kMaxDims]) {
  int n = 0;
  for (int d = int(shape.size()) - 1; d >= 0; --d) {
    const int64_t size = shape[size_t(d)];
    if (size == 1) continue;
    bool merge = n > 0;
    for (int k = 0; k < N && merge; ++k) merge = st[k][size_t(d)] == strides[k][n - 1] * sizes[n - 1];
    if (merge) {
      sizes[n - 1] *= size;
    } else {
      sizes[n] = size;
      for (int k = 0; k < N; ++k) strides[k][n] = st[k][size_t(d)];
      ++n;
    }
  }
  if (n == 0) {  // one element
    sizes[0] = 1;
    for (int k = 0; k < N; ++k) strides[k][0] = 0;
    n = 1;
  }
  return n;
}

// Operand k of `a` (k >= 1) broadcast to the output: a fresh view of the metadata.
template <int N>
ElementwiseArgs<N> make_args(const Tensor& out, std::span<const Tensor> inputs, DType stage) {
  DUET_ASSERT(int(inputs.size()) == N - 1, "elementwise: ", inputs.size(), " inputs for ", N - 1, " slots");
  ElementwiseArgs<N> a{};
  const Shape& shape = out.sizes();
  Shape st[N];
  st[0] = out.strides();
  a.data[0] = out.data_ptr();
  a.dtype[0] = out.dtype();
  for (int k = 1; k < N; ++k) {
    const Tensor& in = inputs[size_t(k - 1)];
    st[k] = broadcast_strides(in.sizes(), in.strides(), shape);
    a.data[k] = const_cast<void*>(in.data_ptr());
    a.dtype[k] = in.dtype();
  }
  a.stage = stage;
  a.numel = out.numel();
  const int n = coalesce_dims<N>(shape, st, a.sizes, a.strides);
  a.ndim = n;
  a.linear = true;
  a.index32 = a.numel <= INT32_MAX;
  for (int k = 0; k < N; ++k) {
    bool scalar = true;
    int64_t extent = 0;
    for (int j = 0; j < n; ++j) {
      scalar = scalar && a.strides[k][j] == 0;
      extent += (a.sizes[j] - 1) * a.strides[k][j];
    }
    if (scalar) a.scalar_mask |= 1u << k;
    a.linear = a.linear && (scalar || (n == 1 && a.strides[k][0] == 1));
    a.index32 = a.index32 && extent <= INT32_MAX;
  }
  return a;
}

// Offsets of linear position `linear` in a coalesced walk (sizes innermost first) for each
// of K operands, accumulated in Acc: I itself when every offset fits in it (elementwise's
// index32), int64_t when only the positions do (the indexing kernels' walks).
template <typename Acc, typename I, int K>
__host__ __device__ inline void coalesced_offsets(int32_t ndim, const int64_t (&sizes)[kMaxDims],
                                                  const int64_t (&strides)[K][kMaxDims], I linear, int64_t (&off)[K]) {
  Acc o[K];
  DUET_UNROLL
  for (int k = 0; k < K; ++k) o[k] = 0;
  DUET_UNROLL
  for (int j = 0; j < kMaxDims; ++j) {
    if (j < ndim) {
      I idx = linear;
      if (j < ndim - 1) {
        const I size = I(sizes[j]);
        idx = linear % size;
        linear = linear / size;
      }
      DUET_UNROLL
      for (int k = 0; k < K; ++k) o[k] += Acc(idx) * Acc(strides[k][j]);
    }
  }
  DUET_UNROLL
  for (int k = 0; k < K; ++k) off[k] = int64_t(o[k]);
}

template <int N, typename I>
__device__ inline void strided_offsets(const ElementwiseArgs<N>& a, I linear, int64_t (&off)[N]) {
  coalesced_offsets<I>(a.ndim, a.sizes, a.strides, linear, off);
}

// f(a, off) handles the element at offsets off[0..N) of the operands.
template <int N, typename F>
__global__ void elementwise_kernel(ElementwiseArgs<N> a, F f) {
  const int64_t step = int64_t(blockDim.x) * gridDim.x;
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  int64_t off[N];
  if (a.linear) {
    for (; i < a.numel; i += step) {
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] = ((a.scalar_mask >> k) & 1u) ? 0 : i;
      f(a, off);
    }
  } else if (a.index32) {
    for (; i < a.numel; i += step) {
      strided_offsets<N, uint32_t>(a, uint32_t(i), off);
      f(a, off);
    }
  } else {
    for (; i < a.numel; i += step) {
      strided_offsets<N, int64_t>(a, i, off);
      f(a, off);
    }
  }
}

template <int N, typename F>
void launch_elementwise(const ElementwiseArgs<N>& a, const F& f) {
  elementwise_kernel<N, F><<<grid_for(a.numel), kThreads, 0, current_stream()>>>(a, f);
  DUET_CUDA_CHECK_LAUNCH();
}

// v, already converted to C, after the round trip through `stage` that the CPU's
// as_dtype(input, stage) makes (only 16-bit stages lose anything beyond the conversion).
template <typename C>
__device__ inline C round_through(C v, DType stage) {
  if constexpr (std::is_same_v<C, float>) {
    if (stage == DType::Float16) return dev::half_bits_to_float(dev::float_to_half_bits(v));
    if (stage == DType::BFloat16) return dev::bf16_bits_to_float(dev::float_to_bf16_bits(v));
  }
  return v;
}

template <typename C, int N>
__device__ inline C load_input(const ElementwiseArgs<N>& a, int k, int64_t off) {
  C v = dev::load_as<C>(a.data[k], off, a.dtype[k]);
  return a.dtype[k] == a.stage ? v : round_through(v, a.stage);
}

// ---- the float4 path

template <int N>
bool f32x4_eligible(const ElementwiseArgs<N>& a) {
  if (!a.linear || (a.scalar_mask & 1u)) return false;
  for (int k = 0; k < N; ++k) {
    if (a.dtype[k] != DType::Float32) return false;
    if (!((a.scalar_mask >> k) & 1u) && reinterpret_cast<uintptr_t>(a.data[k]) % 16 != 0) return false;
  }
  return true;
}

template <typename Op>
__global__ void unary_f32x4_kernel(float* out, const float* in, int64_t n, Op op) {
  const int64_t step = int64_t(blockDim.x) * gridDim.x;
  const int64_t tid = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t n4 = n / 4;
  for (int64_t i = tid; i < n4; i += step) {
    float4 v = reinterpret_cast<const float4*>(in)[i];
    v.x = op(v.x);
    v.y = op(v.y);
    v.z = op(v.z);
    v.w = op(v.w);
    reinterpret_cast<float4*>(out)[i] = v;
  }
  for (int64_t i = n4 * 4 + tid; i < n; i += step) out[i] = op(in[i]);
}

// scalar_a/scalar_b: that input is one value broadcast over the output.
template <typename Op>
__global__ void binary_f32x4_kernel(float* out, const float* a, const float* b, int64_t n, bool scalar_a,
                                    bool scalar_b, Op op) {
  const int64_t step = int64_t(blockDim.x) * gridDim.x;
  const int64_t tid = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t n4 = n / 4;
  const float a0 = scalar_a ? a[0] : 0.0f, b0 = scalar_b ? b[0] : 0.0f;
  for (int64_t i = tid; i < n4; i += step) {
    float4 x = scalar_a ? make_float4(a0, a0, a0, a0) : reinterpret_cast<const float4*>(a)[i];
    float4 y = scalar_b ? make_float4(b0, b0, b0, b0) : reinterpret_cast<const float4*>(b)[i];
    reinterpret_cast<float4*>(out)[i] = make_float4(op(x.x, y.x), op(x.y, y.y), op(x.z, y.z), op(x.w, y.w));
  }
  for (int64_t i = n4 * 4 + tid; i < n; i += step) out[i] = op(scalar_a ? a0 : a[i], scalar_b ? b0 : b[i]);
}

template <typename Op>
void launch_unary_f32x4(const ElementwiseArgs<2>& a, const Op& op) {
  const int64_t n = a.numel;
  unary_f32x4_kernel<Op><<<grid_for((n + 3) / 4), kThreads, 0, current_stream()>>>(
      static_cast<float*>(a.data[0]), static_cast<const float*>(a.data[1]), n, op);
  DUET_CUDA_CHECK_LAUNCH();
}

template <typename Op>
void launch_binary_f32x4(const ElementwiseArgs<3>& a, const Op& op) {
  const int64_t n = a.numel;
  binary_f32x4_kernel<Op><<<grid_for((n + 3) / 4), kThreads, 0, current_stream()>>>(
      static_cast<float*>(a.data[0]), static_cast<const float*>(a.data[1]), static_cast<const float*>(a.data[2]),
      n, (a.scalar_mask & 2u) != 0, (a.scalar_mask & 4u) != 0, op);
  DUET_CUDA_CHECK_LAUNCH();
}

// Compute types of the floating dtypes only (float ops), as visit_compute_type does for all.
template <typename F>
void visit_float_compute(DType t, F&& f) {
  switch (t) {
    case DType::Float32:
    case DType::Float16:
    case DType::BFloat16: return f.template operator()<float>();
    case DType::Float64: return f.template operator()<double>();
    default: DUET_ASSERT(false, "expected a floating dtype, got ", dtype_name(t));
  }
}

}  // namespace duet::cuda::ew
