// Batch normalisation's per-element formula with given statistics, shared by the eager
// batch_norm kernel (batch_norm.cpp) and the graph-mode epilogues that apply it as they
// store: the convolution's (conv.h, a conv2d followed by an eval-mode batch_norm) and the
// batch norm's own ReLU epilogue (batch_norm_relu_kernel).
//
//   scale = weight / sqrt(var + eps), shift = bias - mean * scale   (per channel, in double,
//   then rounded to T)                  y = x * scale + shift       (in T)
//
// Note [One batch-norm formula]: graph mode's fused results are eager's bits. Folding an
// eval-mode batch norm into the convolution's weights (w' = w * scale) would round
// differently from normalising the convolution's output; so the fused kernels call these
// functions, the same ones the eager kernel calls, on the same T values in the same order
// (conv output, + conv bias, then x * scale + shift, then relu), and the bits are equal by
// construction. The build turns off FMA contraction (-ffp-contract=off,
// cmake/DuetCompileFlags.cmake), so x * scale + shift rounds twice in every caller.
#pragma once

#include <cmath>
#include <span>
#include <vector>

#include "core/attrs.h"
#include "core/tensor.h"

namespace duet::cpu {

template <typename T>
struct BatchNormAffine {
  T scale, shift;
};

// One channel's scale and shift from its statistics and parameters (as doubles).
template <typename T>
inline BatchNormAffine<T> batch_norm_affine(double mean, double var, double weight, double bias, double eps) {
  const double sc = weight / std::sqrt(var + eps);
  return {T(sc), T(bias - mean * sc)};
}

template <typename T>
inline T batch_norm_apply(T x, const BatchNormAffine<T>& a) {
  return x * a.scale + a.shift;
}

// Every channel's scale and shift from batch_norm's inputs 1-4 (mean, var, weight, bias:
// [C] tensors of T with any stride).
template <typename T>
std::vector<BatchNormAffine<T>> batch_norm_affines(const Tensor& mean, const Tensor& var, const Tensor& weight,
                                                   const Tensor& bias, double eps) {
  auto at = [](const Tensor& t, int64_t c) { return double(t.data<T>()[c * t.stride(0)]); };
  std::vector<BatchNormAffine<T>> a(size_t(mean.size(0)));
  for (int64_t c = 0; c < mean.size(0); ++c)
    a[size_t(c)] = batch_norm_affine<T>(at(mean, c), at(var, c), at(weight, c), at(bias, c), eps);
  return a;
}

// batch_norm (inputs x, mean, var, weight, bias; attr eps) followed by relu, as one
// pass: each element is normalised and rectified as it is stored. Gives the bits of
// batch_norm_kernel then eager's relu (graph/fusion.h's batch-norm + ReLU groups).
void batch_norm_relu_kernel(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs);

}  // namespace duet::cpu
