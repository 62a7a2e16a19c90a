// CUDA kernels of layer normalisation, with the semantics of kernels/cpu/layer_norm.cpp
// (ops in core/ops.def, shapes in core/ops/layer_norm.cpp): x as R rows of D values.
//   layer_norm, layer_norm_backward   one block of 256 per row (grid-stride over rows): the
//                                      row's mean, then its sum of squared deviations, in
//                                      double (block_reduce.cuh), mean and rstd rounded to
//                                      T; then each thread its elements, xhat = (x - mean)
//                                      * rstd with two roundings (__fsub_rn/__fmul_rn: no
//                                      contraction), as on the CPU
//   layer_norm_backward_affine        the rows' mean and rstd into scratch (a block per row),
//                                      then one thread per column, looping over the rows in
//                                      order (sums in double): each column's sum has one order
// Operands that are not contiguous are copied contiguous first. The reductions' orders
// differ from the CPU's lanes, so results agree with the CPU's to rounding, not bit for
// bit. Figures: not yet measured on a GPU.
#include <algorithm>
#include <cmath>

#include "core/functions.h"

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/epilogue.cuh"
#include "kernels/cuda/nchw.cuh"
#include "kernels/cuda/registration.h"

namespace duet::cuda {
namespace {

template <typename T>
struct RowArgs {
  const T *x, *dy, *w, *b;  // dy: backward only; w, b: nullptr when absent
  T* out;
  int64_t R, D;
  double eps;
};

template <typename T>
struct RowStats {
  T mean, rstd;
};

// The row's mean and rstd, in every thread of the block.
template <typename T>
__device__ RowStats<T> row_stats(const T* x, int64_t D, double eps) {
  double s = 0;
  for (int64_t i = threadIdx.x; i < D; i += blockDim.x) s += double(x[i]);
  const double mean = block_sum_all(s) / double(D);
  double q = 0;
  for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
    const double d = double(x[i]) - mean;
    q += d * d;
  }
  const double var = block_sum_all(q) / double(D);
  return {T(mean), T(1.0 / ::sqrt(var + eps))};
}

template <typename T>
__device__ inline T normalized(T x, const RowStats<T>& s) {
  return mul_rn(sub_rn(x, s.mean), s.rstd);
}

template <typename T>
__global__ void forward_kernel(RowArgs<T> a) {
  for (int64_t row = blockIdx.x; row < a.R; row += gridDim.x) {
    const T* x = a.x + row * a.D;
    T* y = a.out + row * a.D;
    const RowStats<T> s = row_stats(x, a.D, a.eps);
    for (int64_t i = threadIdx.x; i < a.D; i += blockDim.x) {
      T v = normalized(x[i], s);
      if (a.w) v = mul_rn(v, a.w[i]);
      if (a.b) v = add_rn(v, a.b[i]);
      y[i] = v;
    }
  }
}

template <typename T>
__global__ void backward_kernel(RowArgs<T> a) {
  for (int64_t row = blockIdx.x; row < a.R; row += gridDim.x) {
    const T *x = a.x + row * a.D, *dy = a.dy + row * a.D;
    T* dx = a.out + row * a.D;
    const RowStats<T> s = row_stats(x, a.D, a.eps);
    double sg = 0, sgx = 0;
    for (int64_t i = threadIdx.x; i < a.D; i += blockDim.x) {
      const double g = double(a.w ? mul_rn(dy[i], a.w[i]) : dy[i]);
      sg += g;
      sgx += g * double(normalized(x[i], s));
    }
    const double mean_g = block_sum_all(sg) / double(a.D), mean_gx = block_sum_all(sgx) / double(a.D);
    for (int64_t i = threadIdx.x; i < a.D; i += blockDim.x) {
      const double g = double(a.w ? mul_rn(dy[i], a.w[i]) : dy[i]);
      dx[i] = T(double(s.rstd) * (g - mean_g - double(normalized(x[i], s)) * mean_gx));
    }
  }
}

// Each row's mean and rstd into stats[2 * row], stats[2 * row + 1].
template <typename T>
__global__ void row_stats_kernel(RowArgs<T> a, T* stats) {
  for (int64_t row = blockIdx.x; row < a.R; row += gridDim.x) {
    const RowStats<T> s = row_stats(a.x + row * a.D, a.D, a.eps);
    if (threadIdx.x == 0) stats[2 * row] = s.mean, stats[2 * row + 1] = s.rstd;
  }
}

// Per column j: out[j] = sum over rows of dy * xhat, out[D + j] = sum of dy, the rows in
// order (the rows' statistics from row_stats_kernel).
template <typename T>
__global__ void affine_kernel(RowArgs<T> a, const T* stats) {
  DUET_CUDA_KERNEL_LOOP(j, a.D) {
    double sw = 0, sb = 0;
    for (int64_t row = 0; row < a.R; ++row) {
      const RowStats<T> st{stats[2 * row], stats[2 * row + 1]};
      const double g = double(a.dy[row * a.D + j]);
      sw += g * double(normalized(a.x[row * a.D + j], st));
      sb += g;
    }
    a.out[j] = T(sw);
    a.out[a.D + j] = T(sb);
  }
}

template <typename T>
RowArgs<T> row_args(const Tensor& x, const Tensor& out, const Attrs& attrs) {
  RowArgs<T> a{};
  const int64_t k = attrs.get<int64_t>("normalized_dims");
  a.D = 1;
  for (int64_t d = x.dim() - k; d < x.dim(); ++d) a.D *= x.size(d);
  a.R = a.D > 0 ? x.numel() / a.D : 0;
  a.eps = attrs.get_number("eps");
  a.x = static_cast<const T*>(x.data_ptr());
  a.out = static_cast<T*>(out.data_ptr());
  return a;
}

Tensor dense(const Tensor& t) { return t.is_contiguous() ? t : t.contiguous(); }

// One block per row, looping past the cap (grid_for of a block's worth per row).
int row_grid(int64_t rows) { return grid_for(rows * kThreads); }

void layer_norm_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  if (out.numel() == 0) return;
  DeviceGuard guard(out.device().index);
  const Tensor x = dense(in[0]), w = in.size() > 1 ? dense(in[1]) : Tensor(), b = in.size() > 2 ? dense(in[2]) : Tensor();
  visit_conv_dtype(out.dtype(), [&]<typename T>() {
    RowArgs<T> a = row_args<T>(x, out, attrs);
    if (w.defined()) a.w = static_cast<const T*>(w.data_ptr());
    if (b.defined()) a.b = static_cast<const T*>(b.data_ptr());
    forward_kernel<T><<<row_grid(a.R), kThreads, 0, current_stream()>>>(a);
  });
  DUET_CUDA_CHECK_LAUNCH();
}

void layer_norm_backward_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  if (out.numel() == 0) return;
  DeviceGuard guard(out.device().index);
  const Tensor dy = dense(in[0]), x = dense(in[1]), w = in.size() > 2 ? dense(in[2]) : Tensor();
  visit_conv_dtype(out.dtype(), [&]<typename T>() {
    RowArgs<T> a = row_args<T>(x, out, attrs);
    a.dy = static_cast<const T*>(dy.data_ptr());
    if (w.defined()) a.w = static_cast<const T*>(w.data_ptr());
    backward_kernel<T><<<row_grid(a.R), kThreads, 0, current_stream()>>>(a);
  });
  DUET_CUDA_CHECK_LAUNCH();
}

void layer_norm_backward_affine_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  if (out.numel() == 0) return;
  DeviceGuard guard(out.device().index);
  const Tensor dy = dense(in[0]), x = dense(in[1]);
  visit_conv_dtype(out.dtype(), [&]<typename T>() {
    RowArgs<T> a = row_args<T>(x, out, attrs);
    a.dy = static_cast<const T*>(dy.data_ptr());
    const Tensor stats = empty({std::max<int64_t>(1, 2 * a.R)}, {out.dtype(), out.device()});
    T* st = static_cast<T*>(stats.data_ptr());
    row_stats_kernel<T><<<row_grid(a.R), kThreads, 0, current_stream()>>>(a, st);
    affine_kernel<T><<<grid_for(a.D), kThreads, 0, current_stream()>>>(a, st);
  });
  DUET_CUDA_CHECK_LAUNCH();
}

}  // namespace

void register_layer_norm_kernels() {
  register_kernel(OpKind::layer_norm, DeviceType::CUDA, layer_norm_cuda);
  register_kernel(OpKind::layer_norm_backward, DeviceType::CUDA, layer_norm_backward_cuda);
  register_kernel(OpKind::layer_norm_backward_affine, DeviceType::CUDA, layer_norm_backward_affine_cuda);
}

}  // namespace duet::cuda
