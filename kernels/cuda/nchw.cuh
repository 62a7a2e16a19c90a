// A 4-D (N, C, H, W) tensor as a kernel argument of the convolution and pooling kernels
// (conv.cu, pool.cu): the pointer to element (0, 0, 0, 0) and the four strides in
// elements, so transposed or sliced inputs are read where they lie, without a copy.
//
//   Nchw<const float> x = make_nchw<const float>(in[0]);
//   float v = x.at(n, c, h, w);                       // on the device
//   NchwIndex i = nchw_index(e, C, H, W);             // a result's element e as (n, c, h, w)
//
// These ops take float32 and float64 only (core/ops/conv.cpp refuses other dtypes), so
// visit_conv_dtype runs its body for float or double.
#pragma once

#include "kernels/cuda/cuda_common.cuh"

namespace duet::cuda {

template <typename T>
struct Nchw {
  T* p;  // element (0, 0, 0, 0); nullptr for an empty tensor (never read then)
  int64_t n, c, h, w;      // sizes
  int64_t sn, sc, sh, sw;  // strides, in elements

  __host__ __device__ int64_t offset(int64_t in, int64_t ic, int64_t ih, int64_t iw) const {
    return in * sn + ic * sc + ih * sh + iw * sw;
  }
  __device__ T at(int64_t in, int64_t ic, int64_t ih, int64_t iw) const { return p[offset(in, ic, ih, iw)]; }
};

// (n, c, h, w) of row-major position e of an (N, C, H, W) tensor: three 64-bit divisions,
// the remainders found by multiplying back.
struct NchwIndex {
  int64_t n, c, h, w;
};
__device__ inline NchwIndex nchw_index(int64_t e, int64_t C, int64_t H, int64_t W) {
  const int64_t nch = e / W, nc = nch / H, n = nc / C;
  return {n, nc - n * C, nch - nc * H, e - nch * W};
}

// T is the element type, const for an input: make_nchw<const float>(x).
template <typename T>
Nchw<T> make_nchw(const Tensor& t) {
  DUET_ASSERT(t.dim() == 4, "expected an (N, C, H, W) tensor, got ", t.dim(), " dims");
  DUET_ASSERT(dtype_v<std::remove_const_t<T>> == t.dtype(), "an (N, C, H, W) tensor of another dtype");
  Nchw<T> r{};
  r.p = t.numel() > 0 ? static_cast<T*>(t.data_ptr()) : nullptr;
  r.n = t.size(0), r.c = t.size(1), r.h = t.size(2), r.w = t.size(3);
  r.sn = t.stride(0), r.sc = t.stride(1), r.sh = t.stride(2), r.sw = t.stride(3);
  return r;
}

// f.template operator()<T>() with T = double for float64 and float for float32.
template <typename F>
void visit_conv_dtype(DType dt, F&& f) {
  DUET_ASSERT(dt == DType::Float32 || dt == DType::Float64, "convolution and pooling kernels take float32 or ",
              "float64, got ", dtype_name(dt));
  if (dt == DType::Float64) f.template operator()<double>();
  else f.template operator()<float>();
}

}  // namespace duet::cuda
