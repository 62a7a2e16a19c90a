// Pieces shared by the CUDA reduction and softmax kernels (reduction.cu, softmax.cu):
// a dim list as a kernel argument (the device side of kernels/cpu/reduction_plan.h's
// DimList), warp shuffles of any trivially copyable accumulator, and the power-of-two
// helpers the launch planning uses.
//
// Shuffles always run with the full mask: every caller keeps all 32 lanes of a warp in
// the loop that shuffles (lanes without work carry an identity value), so no shuffle is
// ever executed by part of a warp.
#pragma once

#include <cstring>

#include "kernels/cpu/reduction_plan.h"
#include "kernels/cuda/cuda_common.cuh"

namespace duet::cuda::red {

inline constexpr unsigned kFullMask = 0xffffffffu;

// A DimList (sizes and strides, innermost last) as a POD kernel argument.
struct Dims {
  int32_t n;
  int64_t size[kMaxDims];
  int64_t stride[kMaxDims];

  // Element offset of row-major flat index i. One dim (the common case after coalescing)
  // is a multiply; the general case divides, innermost dim first.
  __host__ __device__ int64_t offset(int64_t i) const {
    if (n == 1) return i * stride[0];
    int64_t off = 0;
    DUET_UNROLL
    for (int d = kMaxDims - 1; d >= 0; --d) {
      if (d < n) {
        off += (i % size[d]) * stride[d];
        i /= size[d];
      }
    }
    return off;
  }
};

inline Dims to_dims(const cpu::DimList& dl) {
  Dims d{};
  d.n = dl.n;
  for (int k = 0; k < dl.n; ++k) {
    d.size[k] = dl.size[size_t(k)];
    d.stride[k] = dl.stride[size_t(k)];
  }
  return d;
}

// Whether every stride of `d` is a multiple of `m` (offsets built from them are then too).
inline bool strides_multiple_of(const Dims& d, int64_t m) {
  for (int k = 0; k < d.n; ++k)
    if (d.stride[k] % m != 0) return false;
  return true;
}

inline int pow2_ceil(int64_t v) {
  int p = 1;
  while (p < v && p < (1 << 30)) p <<= 1;
  return p;
}

// __shfl_down_sync of any trivially copyable value, 32 bits at a time (a double or an
// int64 takes two shuffles either way; structs such as {value, index} take more).
template <typename T>
__device__ inline T shfl_down_any(T v, unsigned delta, int width) {
  static_assert(sizeof(T) % 4 == 0, "shuffled values must be a whole number of 32-bit words");
  constexpr int kWords = int(sizeof(T) / 4);
  uint32_t w[kWords];
  memcpy(w, &v, sizeof(T));
#pragma unroll
  for (int k = 0; k < kWords; ++k) w[k] = __shfl_down_sync(kFullMask, w[k], delta, width);
  memcpy(&v, w, sizeof(T));
  return v;
}

}  // namespace duet::cuda::red
