// Shared machinery of the CUDA kernels (kernels/cuda/*.cu). Keep this API stable: every
// kernel family builds on it.
//
//   DUET_CUDA_CHECK(expr), DUET_CUDA_CHECK_LAUNCH()   cuda_check.h; DUET_CUBLAS_CHECK and
//                                                    DUET_NVRTC_CHECK are in cuda_lib_check.h
//   DeviceGuard, stream(i), current_stream()         runtime.h (one stream per device)
//   TensorRef make_ref(t)                            a tensor as a kernel argument (POD):
//                                                    data (element 0), dtype, ndim, numel,
//                                                    sizes[8], strides[8] in elements;
//                                                    ref.offset(i) maps a row-major linear
//                                                    index to an element offset on the device
//   grid_for(n), DUET_CUDA_KERNEL_LOOP(i, n)         grid-stride launches (grid capped per SM)
//   visit_cuda_dtype(dt, f)                          host: f.template operator()<T>() with T in
//                                                    float, double, __half, __nv_bfloat16,
//                                                    int32_t, int64_t, bool; cuda_compute_t<T>
//                                                    is float for the 16-bit floats
//   dev::load_as<C>, dev::store_as, dev::copy_convert  device: read/write any dtype through a
//                                                    run-time DType, with the CPU kernels'
//                                                    conversion rules (kernels/cpu/
//                                                    elementwise_common.h: float -> int
//                                                    truncates and saturates, NaN -> 0;
//                                                    anything -> bool is v != 0; 16-bit
//                                                    floats round to nearest even and NaNs
//                                                    get the CPU's bit patterns)
//
// A kernel launch, from a KernelFn:
//
//   DeviceGuard guard(out.device().index);
//   TensorRef o = make_ref(out);
//   my_kernel<<<grid_for(o.numel), kThreads, 0, current_stream()>>>(o, ...);
//   DUET_CUDA_CHECK_LAUNCH();
//
// Math in kernels uses CUDA's libdevice functions with nvcc's defaults (IEEE division and
// square root, no flush to zero, FMA contraction on): results agree with the CPU kernels
// to a few ulp, not bitwise. Factories are the exception: kernels/factory_math.h gives
// both backends the same bits.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "core/tensor.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/runtime.h"

namespace duet::cuda {

// ---- launch helpers

// `#pragma unroll` for __host__ __device__ code (the host compiler would warn about it).
#if defined(__CUDA_ARCH__)
#define DUET_UNROLL _Pragma("unroll")
#else
#define DUET_UNROLL
#endif

inline constexpr int kThreads = 256;
// Grid-stride kernels get at most this many blocks per multiprocessor: 32 x 256 threads is
// four times what one holds at once, enough waves to even out the tail, while very large
// tensors loop inside each thread instead of launching millions of blocks.
inline constexpr int kBlocksPerSm = 32;

// Blocks for `n` elements at `threads` per block on the current device (at least 1).
inline int grid_for(int64_t n, int threads = kThreads) {
  int64_t blocks = (n + threads - 1) / threads;
  int64_t cap = int64_t(device_properties(current_device()).multiProcessorCount) * kBlocksPerSm;
  return int(std::max<int64_t>(1, std::min(blocks, cap)));
}

#define DUET_CUDA_KERNEL_LOOP(i, n)                                                            \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < int64_t(n); \
       i += int64_t(blockDim.x) * gridDim.x)

// ---- tensors as kernel arguments

struct TensorRef {
  void* data;       // element 0 (the storage offset is applied)
  DType dtype;
  int32_t ndim;
  int64_t numel;
  int64_t sizes[kMaxDims];
  int64_t strides[kMaxDims];  // in elements

  // Element offset of row-major linear index `linear`. The loop is unrolled over
  // kMaxDims so sizes/strides are read with constant indices (no local-memory copy).
  __host__ __device__ int64_t offset(int64_t linear) const {
    int64_t off = 0;
    DUET_UNROLL
    for (int d = kMaxDims - 1; d >= 0; --d) {
      if (d < ndim) {
        int64_t s = sizes[d];
        off += (linear % s) * strides[d];
        linear /= s;
      }
    }
    return off;
  }
  template <typename T>
  __host__ __device__ T* ptr() const { return static_cast<T*>(data); }
};

// `t` as a kernel argument; with `shape`, viewed broadcast to it (stride 0 where expanded).
inline TensorRef make_ref(const Tensor& t) {
  DUET_ASSERT(t.dim() <= kMaxDims, "tensor of ", t.dim(), " dims");
  TensorRef r{};
  r.data = t.numel() > 0 ? t.data_ptr() : nullptr;
  r.dtype = t.dtype();
  r.ndim = int32_t(t.dim());
  r.numel = t.numel();
  for (int d = 0; d < r.ndim; ++d) {
    r.sizes[d] = t.size(d);
    r.strides[d] = t.stride(d);
  }
  return r;
}
inline TensorRef make_ref(const Tensor& t, const Shape& shape) {
  DUET_ASSERT(int64_t(shape.size()) <= kMaxDims, "shape of ", shape.size(), " dims");
  Shape strides = broadcast_strides(t.sizes(), t.strides(), shape);
  TensorRef r{};
  r.data = t.numel() > 0 ? t.data_ptr() : nullptr;
  r.dtype = t.dtype();
  r.ndim = int32_t(shape.size());
  r.numel = numel_of(shape);
  for (int d = 0; d < r.ndim; ++d) {
    r.sizes[d] = shape[size_t(d)];
    r.strides[d] = strides[size_t(d)];
  }
  return r;
}

// ---- element types

template <typename F>
decltype(auto) visit_cuda_dtype(DType t, F&& f) {
  switch (t) {
    case DType::Float32: return f.template operator()<float>();
    case DType::Float64: return f.template operator()<double>();
    case DType::Float16: return f.template operator()<__half>();
    case DType::BFloat16: return f.template operator()<__nv_bfloat16>();
    case DType::Int32: return f.template operator()<int32_t>();
    case DType::Int64: return f.template operator()<int64_t>();
    case DType::Bool: return f.template operator()<bool>();
  }
  DUET_ASSERT(false, "unknown dtype ", int(t));
}

template <typename T> struct CudaCompute { using type = T; };
template <> struct CudaCompute<__half> { using type = float; };
template <> struct CudaCompute<__nv_bfloat16> { using type = float; };
// The type kernels compute T in: float for the 16-bit floats, T otherwise.
template <typename T>
using cuda_compute_t = typename CudaCompute<T>::type;

// The compute type of a dtype as a value type kernels are instantiated for: float, double,
// int32_t or int64_t (bool computes as int32_t: comparisons and truth tests of 0/1 agree).
template <typename F>
decltype(auto) visit_compute_type(DType t, F&& f) {
  switch (t) {
    case DType::Float32:
    case DType::Float16:
    case DType::BFloat16: return f.template operator()<float>();
    case DType::Float64: return f.template operator()<double>();
    case DType::Int32:
    case DType::Bool: return f.template operator()<int32_t>();
    case DType::Int64: return f.template operator()<int64_t>();
  }
  DUET_ASSERT(false, "unknown dtype ", int(t));
}

namespace dev {

// ---- 16-bit floats as raw bits, converted exactly as core/dtype.h does on the host

__device__ inline float half_bits_to_float(uint16_t h) { return __half2float(__ushort_as_half(h)); }
// Round to nearest even (the hardware conversion); NaNs become sign | 0x7e00 as Half::from_float.
__device__ inline uint16_t float_to_half_bits(float f) {
  if (f != f) return uint16_t(((__float_as_uint(f) >> 16) & 0x8000u) | 0x7e00u);
  return __half_as_ushort(__float2half_rn(f));
}
__device__ inline float bf16_bits_to_float(uint16_t b) { return __uint_as_float(uint32_t(b) << 16); }
// BFloat16::from_float, bit for bit.
__device__ inline uint16_t float_to_bf16_bits(float f) {
  uint32_t u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

__device__ inline float to_compute(__half v) { return half_bits_to_float(__half_as_ushort(v)); }
__device__ inline float to_compute(__nv_bfloat16 v) { return bf16_bits_to_float(__bfloat16_as_ushort(v)); }
template <typename T>
__device__ inline T to_compute(T v) { return v; }

// ---- value conversion between bool, int32_t, int64_t, float and double (the CPU's ew::convert)

template <typename To, typename From>
__host__ __device__ inline To convert(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    using U = std::make_unsigned_t<To>;
    constexpr To kMin = To(U(1) << (sizeof(To) * 8 - 1));
    constexpr To kMax = To(~U(kMin));
    constexpr From kLow = From(kMin);  // -2^(bits-1), exact
    if (!(v == v)) return To(0);
    if (v <= kLow) return kMin;
    if (v >= -kLow) return kMax;
    return To(v);
  } else {
    return To(v);
  }
}

// A computed value back to storage type To (16-bit floats through float, as on the host).
template <typename To, typename From>
__device__ inline To from_compute(From v) {
  if constexpr (std::is_same_v<To, __half>) return __ushort_as_half(float_to_half_bits(float(v)));
  else if constexpr (std::is_same_v<To, __nv_bfloat16>) return __ushort_as_bfloat16(float_to_bf16_bits(float(v)));
  else return convert<To>(v);
}

// ---- run-time dtype access (the dtype is the same for every thread: the switch does not diverge)

// Element `off` of `base` (of dtype `dt`) as C.
template <typename C>
__device__ inline C load_as(const void* base, int64_t off, DType dt) {
  switch (dt) {
    case DType::Float32: return convert<C>(static_cast<const float*>(base)[off]);
    case DType::Float64: return convert<C>(static_cast<const double*>(base)[off]);
    case DType::Float16: return convert<C>(half_bits_to_float(static_cast<const uint16_t*>(base)[off]));
    case DType::BFloat16: return convert<C>(bf16_bits_to_float(static_cast<const uint16_t*>(base)[off]));
    case DType::Int32: return convert<C>(static_cast<const int32_t*>(base)[off]);
    case DType::Int64: return convert<C>(static_cast<const int64_t*>(base)[off]);
    case DType::Bool: return convert<C>(static_cast<const uint8_t*>(base)[off] != 0);
  }
  return C(0);
}

// Writes v, converted to `dt`, to element `off` of `base`. 16-bit floats go through float
// first (so double -> float16 rounds twice, exactly as the CPU's Half(float(v))).
template <typename V>
__device__ inline void store_as(void* base, int64_t off, DType dt, V v) {
  switch (dt) {
    case DType::Float32: static_cast<float*>(base)[off] = convert<float>(v); return;
    case DType::Float64: static_cast<double*>(base)[off] = convert<double>(v); return;
    case DType::Float16: static_cast<uint16_t*>(base)[off] = float_to_half_bits(convert<float>(v)); return;
    case DType::BFloat16: static_cast<uint16_t*>(base)[off] = float_to_bf16_bits(convert<float>(v)); return;
    case DType::Int32: static_cast<int32_t*>(base)[off] = convert<int32_t>(v); return;
    case DType::Int64: static_cast<int64_t*>(base)[off] = convert<int64_t>(v); return;
    case DType::Bool: static_cast<uint8_t*>(base)[off] = convert<bool>(v) ? 1 : 0; return;
  }
}

__host__ __device__ inline int dtype_bytes(DType dt) {
  switch (dt) {
    case DType::Float64:
    case DType::Int64: return 8;
    case DType::Float32:
    case DType::Int32: return 4;
    case DType::Float16:
    case DType::BFloat16: return 2;
    case DType::Bool: return 1;
  }
  return 1;
}

// dst[doff] = src[soff] converted from `sdt` to `ddt` (the CPU's cast/copy): the same dtype
// copies the bits (NaN payloads survive); otherwise the value goes through its natural type.
__device__ inline void copy_convert(void* dst, int64_t doff, DType ddt, const void* src, int64_t soff, DType sdt) {
  if (ddt == sdt) {
    switch (dtype_bytes(sdt)) {
      case 8: static_cast<uint64_t*>(dst)[doff] = static_cast<const uint64_t*>(src)[soff]; return;
      case 4: static_cast<uint32_t*>(dst)[doff] = static_cast<const uint32_t*>(src)[soff]; return;
      case 2: static_cast<uint16_t*>(dst)[doff] = static_cast<const uint16_t*>(src)[soff]; return;
      default: static_cast<uint8_t*>(dst)[doff] = static_cast<const uint8_t*>(src)[soff]; return;
    }
  }
  switch (sdt) {
    case DType::Float32:
    case DType::Float16:
    case DType::BFloat16: store_as(dst, doff, ddt, load_as<float>(src, soff, sdt)); return;
    case DType::Float64: store_as(dst, doff, ddt, load_as<double>(src, soff, sdt)); return;
    case DType::Int32: store_as(dst, doff, ddt, load_as<int32_t>(src, soff, sdt)); return;
    case DType::Int64: store_as(dst, doff, ddt, load_as<int64_t>(src, soff, sdt)); return;
    case DType::Bool: store_as(dst, doff, ddt, load_as<bool>(src, soff, sdt)); return;
  }
}

}  // namespace dev
}  // namespace duet::cuda
