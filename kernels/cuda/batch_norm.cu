// CUDA kernels of batch normalisation, with the semantics of kernels/cpu/batch_norm.cpp
// (ops in core/ops.def, shapes in core/ops/batch_norm.cpp). An (N, C), (N, C, L) or
// (N, C, H, W) input is read through its strides as (N, C, H, W) (nchw.cuh), size-1 dims
// added; per-channel vectors are read through their stride.
//   batch_norm_stats            one block of 256 per channel: sum in double over its
//                               N * H * W values, the mean, then the sum of squared
//                               deviations (two passes, as on the CPU)
//   batch_norm_backward_reduce  one block per channel: sum dy, sum dy * xhat in double
//   batch_norm, _backward       one thread per element (grid-stride); per-channel scale and
//                               shift in double, then x * scale + shift rounded as on the
//                               CPU (no fused multiply-add, so the bits match the CPU's;
//                               epilogue.cuh batch_norm_value, shared with the fused convs)
//   batch_norm_relu             batch_norm rectifying as it stores (graph mode's fused
//                               batch norm + ReLU, fused_kernels.h)
// Block sums combine lanes with xor shuffles and warps in warp order: a fixed order, so two
// runs give the same bits. Figures: not yet measured on a GPU.
#include <cmath>

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/epilogue.cuh"
#include "kernels/cuda/fused_kernels.h"
#include "kernels/cuda/nchw.cuh"
#include "kernels/cuda/registration.h"

namespace duet::cuda {
namespace {

// (N, C, ...) with up to 2 trailing dims as (N, C, H, W): missing dims have size 1.
template <typename T>
Nchw<T> as_nchw(const Tensor& t) {
  Nchw<T> r{};
  r.p = t.numel() > 0 ? static_cast<T*>(t.data_ptr()) : nullptr;
  r.n = t.size(0), r.c = t.size(1), r.h = 1, r.w = 1;
  r.sn = t.stride(0), r.sc = t.stride(1);
  if (t.dim() == 3) r.w = t.size(2), r.sw = t.stride(2);
  if (t.dim() == 4) r.h = t.size(2), r.w = t.size(3), r.sh = t.stride(2), r.sw = t.stride(3);
  return r;
}

// Element k of channel c (k < N * H * W, in (n, h, w) order).
template <typename T>
__device__ double channel_value(const Nchw<const T>& x, int64_t c, int64_t k) {
  const int64_t hw = x.h * x.w, n = k / hw, r = k - n * hw, h = r / x.w;
  return double(x.at(n, c, h, r - h * x.w));
}

template <typename T>
__global__ void stats_kernel(Nchw<const T> x, T* out) {
  const int64_t c = blockIdx.x, M = x.n * x.h * x.w;
  double s = 0;
  for (int64_t k = threadIdx.x; k < M; k += blockDim.x) s += channel_value(x, c, k);
  __shared__ double mean;
  const double total = block_sum_all(s);
  if (threadIdx.x == 0) mean = total / double(M);
  __syncthreads();
  double sq = 0;
  for (int64_t k = threadIdx.x; k < M; k += blockDim.x) {
    const double d = channel_value(x, c, k) - mean;
    sq += d * d;
  }
  const double sq_total = block_sum_all(sq);
  if (threadIdx.x == 0) {
    out[c] = T(mean);
    out[x.c + c] = T(sq_total / double(M));
  }
}

template <typename T>
__global__ void backward_reduce_kernel(Nchw<const T> dy, Nchw<const T> x, Channels<T> mean, Channels<T> var, double eps,
                                       T* out) {
  const int64_t c = blockIdx.x, M = x.n * x.h * x.w;
  const double m = mean[c], invstd = 1.0 / sqrt(var[c] + eps);
  double s = 0, sx = 0;
  for (int64_t k = threadIdx.x; k < M; k += blockDim.x) {
    const double g = channel_value(dy, c, k);
    s += g;
    sx += g * (channel_value(x, c, k) - m) * invstd;
  }
  const double sum_dy = block_sum_all(s), sum_dy_xhat = block_sum_all(sx);
  if (threadIdx.x == 0) {
    out[c] = T(sum_dy);
    out[x.c + c] = T(sum_dy_xhat);
  }
}

template <typename T>
struct NormalizeArgs {
  Nchw<const T> x;
  BatchNormParams<T> bn;
  bool relu;  // graph mode's batch norm + ReLU (kernels/cuda/fused_kernels.h)
  T* y;
};

template <typename T>
__global__ void normalize_kernel(NormalizeArgs<T> a) {
  const int64_t total = a.x.n * a.x.c * a.x.h * a.x.w;
  DUET_CUDA_KERNEL_LOOP(e, total) {
    const NchwIndex i = nchw_index(e, a.x.c, a.x.h, a.x.w);
    a.y[e] = relu_if(batch_norm_value(a.x.at(i.n, i.c, i.h, i.w), a.bn, i.c), a.relu);
  }
}

template <typename T>
struct BackwardArgs {
  Nchw<const T> dy, x;
  Channels<T> mean, var, weight, sum_dy, sum_dy_xhat;
  double eps;
  bool training;
  T* dx;
};

template <typename T>
__global__ void backward_kernel(BackwardArgs<T> a) {
  const int64_t total = a.x.n * a.x.c * a.x.h * a.x.w;
  const double M = double(a.x.n * a.x.h * a.x.w);
  DUET_CUDA_KERNEL_LOOP(e, total) {
    const NchwIndex i = nchw_index(e, a.x.c, a.x.h, a.x.w);
    const double invstd = 1.0 / sqrt(a.var[i.c] + a.eps), scale = a.weight[i.c] * invstd;
    const double g = double(a.dy.at(i.n, i.c, i.h, i.w));
    if (!a.training) {
      a.dx[e] = T(g * scale);
      continue;
    }
    const double xhat = (double(a.x.at(i.n, i.c, i.h, i.w)) - a.mean[i.c]) * invstd;
    a.dx[e] = T(scale * (g - a.sum_dy[i.c] / M - xhat * a.sum_dy_xhat[i.c] / M));
  }
}

void batch_norm_stats_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs&) {
  DeviceGuard guard(out.device().index);
  visit_conv_dtype(out.dtype(), [&]<typename T>() {
    stats_kernel<T><<<int(in[0].size(1)), kThreads, 0, current_stream()>>>(as_nchw<const T>(in[0]),
                                                                            static_cast<T*>(out.data_ptr()));
  });
  DUET_CUDA_CHECK_LAUNCH();
}

// batch_norm (inputs x, mean, var, weight, bias), rectified as stored when `relu`.
void normalize(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs, bool relu) {
  DeviceGuard guard(out.device().index);
  visit_conv_dtype(out.dtype(), [&]<typename T>() {
    NormalizeArgs<T> a{as_nchw<const T>(in[0]), batch_norm_params<T>(in[1], in[2], in[3], in[4], attrs.get_number("eps")),
                       relu, static_cast<T*>(out.data_ptr())};
    normalize_kernel<T><<<grid_for(out.numel()), kThreads, 0, current_stream()>>>(a);
  });
  DUET_CUDA_CHECK_LAUNCH();
}

void batch_norm_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  normalize(in, out, attrs, /*relu=*/false);
}

void batch_norm_backward_reduce_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  DeviceGuard guard(out.device().index);
  visit_conv_dtype(out.dtype(), [&]<typename T>() {
    backward_reduce_kernel<T><<<int(in[1].size(1)), kThreads, 0, current_stream()>>>(
        as_nchw<const T>(in[0]), as_nchw<const T>(in[1]), channels<T>(in[2]), channels<T>(in[3]),
        attrs.get_number("eps"), static_cast<T*>(out.data_ptr()));
  });
  DUET_CUDA_CHECK_LAUNCH();
}

void batch_norm_backward_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  DeviceGuard guard(out.device().index);
  visit_conv_dtype(out.dtype(), [&]<typename T>() {
    const Tensor& sums = in[5];
    const T* s = static_cast<const T*>(sums.data_ptr());
    BackwardArgs<T> a{as_nchw<const T>(in[0]), as_nchw<const T>(in[1]), channels<T>(in[2]), channels<T>(in[3]),
                      channels<T>(in[4]), {s, sums.stride(1)}, {s + sums.stride(0), sums.stride(1)},
                      attrs.get_number("eps"), attrs.get<bool>("training"), static_cast<T*>(out.data_ptr())};
    backward_kernel<T><<<grid_for(out.numel()), kThreads, 0, current_stream()>>>(a);
  });
  DUET_CUDA_CHECK_LAUNCH();
}

}  // namespace

void batch_norm_relu(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  normalize(inputs, out, attrs, /*relu=*/true);
}

void register_batch_norm_kernels() {
  register_kernel(OpKind::batch_norm_stats, DeviceType::CUDA, batch_norm_stats_cuda);
  register_kernel(OpKind::batch_norm, DeviceType::CUDA, batch_norm_cuda);
  register_kernel(OpKind::batch_norm_backward_reduce, DeviceType::CUDA, batch_norm_backward_reduce_cuda);
  register_kernel(OpKind::batch_norm_backward, DeviceType::CUDA, batch_norm_backward_cuda);
}

}  // namespace duet::cuda
