// Store epilogues of the CUDA kernels, shared so that a fused kernel rounds exactly as the
// ops it absorbs do when they run one by one (graph mode's results are eager's bits):
//   relu_if                  eager's relu (elementwise_unary.cu ReluOp): NaN kept, -0 -> +0
//   mul_rn, add_rn, sub_rn   a multiply, add or subtract rounded on its own (never contracted
//                            into a fused multiply-add), as the CPU's x * scale + shift
//   Channels<T>              a [C] vector with its stride, read as double (host: channels)
//   BatchNormParams<T>       batch_norm's mean, var, weight, bias and eps (host:
//                            batch_norm_params)
//   batch_norm_affine/apply  batch_norm's scale and shift for channel c from the statistics
//                            in double, then x * scale + shift, as kernels/cpu/batch_norm.h
//                            (batch_norm_value: both)
//   ConvEpilogueArgs<T>      a convolution's store: + bias, [batch norm], [relu] per output
//                            channel (conv.cu's forward kernels and its vendor-backend pass)
//
//   ConvEpilogueArgs<float> e = ...;        // host: bias / batch norm / relu as wanted
//   out[i] = e.apply(acc, oc);               // device: the stored value of channel oc
//   auto ch = e.channel(oc);                 // or the channel's operands once, then
//   out[j] = e.apply(acc_j, ch);             // each of its values
#pragma once

#include "kernels/cuda/cuda_common.cuh"

namespace duet::cuda {

__device__ inline float relu_if(float v, bool relu) { return relu && !(v > 0.f || v != v) ? 0.f : v; }
__device__ inline double relu_if(double v, bool relu) { return relu && !(v > 0.0 || v != v) ? 0.0 : v; }

__device__ inline double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ inline float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ inline double add_rn(double a, double b) { return __dadd_rn(a, b); }
__device__ inline float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ inline double sub_rn(double a, double b) { return __dsub_rn(a, b); }
__device__ inline float sub_rn(float a, float b) { return __fsub_rn(a, b); }

template <typename T>
struct Channels {  // a [C] vector with its stride
  const T* p;
  int64_t s;
  __device__ double operator[](int64_t c) const { return double(p[c * s]); }
};
template <typename T>
Channels<T> channels(const Tensor& t) {
  return {static_cast<const T*>(t.data_ptr()), t.stride(0)};
}

// batch_norm's inputs 1-4 (mean, var, weight, bias) and eps.
template <typename T>
struct BatchNormParams {
  Channels<T> mean, var, weight, bias;
  double eps;
};
template <typename T>
BatchNormParams<T> batch_norm_params(const Tensor& mean, const Tensor& var, const Tensor& weight, const Tensor& bias,
                                     double eps) {
  return {channels<T>(mean), channels<T>(var), channels<T>(weight), channels<T>(bias), eps};
}

// Channel c's scale and shift: from the statistics in double, rounded to T
// (kernels/cpu/batch_norm.h batch_norm_affine).
template <typename T>
struct BatchNormAffine {
  T scale, shift;
};
template <typename T>
__device__ inline BatchNormAffine<T> batch_norm_affine(const BatchNormParams<T>& bn, int64_t c) {
  const double sc = bn.weight[c] / sqrt(bn.var[c] + bn.eps);
  return {T(sc), T(bn.bias[c] - bn.mean[c] * sc)};
}
// x * scale + shift with two roundings (kernels/cpu/batch_norm.h batch_norm_apply).
template <typename T>
__device__ inline T batch_norm_apply(T x, const BatchNormAffine<T>& a) {
  return add_rn(mul_rn(x, a.scale), a.shift);
}
template <typename T>
__device__ inline T batch_norm_value(T x, const BatchNormParams<T>& bn, int64_t c) {
  return batch_norm_apply(x, batch_norm_affine(bn, c));
}

// What a convolution's forward kernel does to a sum before storing it, in eager's order:
// + bias (where there is one), batch_norm (where fused), relu (where fused). Eager's conv2d
// launches with the bias alone. A kernel storing several values of one output channel
// reads the channel's operands once (channel) and applies them to each (apply).
template <typename T>
struct ConvEpilogueArgs {
  const T* bias = nullptr;  // nullptr: no bias
  int64_t bias_stride = 0;
  bool batch_norm = false;
  BatchNormParams<T> bn{};
  bool relu = false;

  struct Channel {
    T bias;
    BatchNormAffine<T> affine;
  };
  __device__ Channel channel(int64_t oc) const {
    Channel c{};
    if (bias) c.bias = bias[oc * bias_stride];
    if (batch_norm) c.affine = batch_norm_affine(bn, oc);
    return c;
  }
  __device__ T apply(T v, const Channel& c) const {
    if (bias) v = add_rn(v, c.bias);
    if (batch_norm) v = batch_norm_apply(v, c.affine);
    return relu_if(v, relu);
  }
  __device__ T apply(T v, int64_t oc) const { return apply(v, channel(oc)); }
};

}  // namespace duet::cuda
