// CUDA kernels of softmax and log_softmax along one dim, with the semantics of
// kernels/cpu/softmax.cpp: the line max is subtracted before exp (logits of 1000 or -inf
// are fine); softmax = exp(x - max) * (1 / sum), log_softmax = (x - max) - log(sum); a
// line of all -inf, or one with a NaN, gives NaN everywhere. The max skips NaN (fmax)
// and the NaN then reaches every output through the sum, as on the CPU.
// Compute type: float for float32/float16/bfloat16, double for float64 (the CPU uses
// float for contiguous float32 lines and double otherwise; results agree to float
// rounding).
//
// Layouts (lines run along `dim`; the other dims, coalesced, index them):
//   rows     unit stride along dim: 1..32 lanes of a warp per line for n <= 1024 (fewer
//            lanes for short lines, so a line of 10 does not idle a whole warp), a block
//            of 256 from n = 1025 on; three passes (max, sum of exp, write), the second
//            and third finding the line in L1/L2. float4 loads and stores for float32
//            when n % 4 == 0 and every line is 16-byte aligned.
//   columns  any other stride (softmax over dim 1 of (B, C, H, W)): a thread per line,
//            adjacent threads on adjacent lines, so each pass is coalesced across the warp.
// Group sums use xor shuffles: a + b == b + a exactly, so every lane of a group holds the
// same bits and all outputs of a line use the same max and sum.
// DUET_SOFTMAX=cudnn runs cuDNN's softmax instead (cudnn_softmax.h); 0-d inputs and mixed
// in/out dtypes stay on these kernels, which cuDNN has no form for.
// Figures: not yet measured on a GPU (bench/bench_cuda_bandwidth.cpp measures both rows).
#include <cmath>

#include "kernels/cuda/cudnn_softmax.h"
#include "kernels/cuda/reduction_common.cuh"
#include "kernels/cuda/registration.h"

namespace duet::cuda {
namespace {

using red::Dims;

constexpr int kSmThreads = 256;
constexpr int kSmWarps = kSmThreads / 32;
constexpr int64_t kWarpRowMax = 1024;  // longest line a warp (or part of one) handles

struct SoftmaxArgs {
  const void* x;
  void* out;
  DType xdt, odt;
  bool log_out;
  bool vec4;       // rows: float32 in and out, n % 4 == 0, aligned lines
  int32_t lanes;   // rows in warps: threads per line (1..32)
  int64_t n;       // line length
  int64_t xs, os;  // strides along dim
  int64_t lines;
  Dims xl, ol;     // line index -> offsets of x and out
};

template <typename C> __device__ inline C exp_c(C v);
template <> __device__ inline float exp_c(float v) { return expf(v); }
template <> __device__ inline double exp_c(double v) { return exp(v); }
template <typename C> __device__ inline C log_c(C v);
template <> __device__ inline float log_c(float v) { return logf(v); }
template <> __device__ inline double log_c(double v) { return log(v); }
template <typename C> __device__ inline C max_c(C a, C b);
template <> __device__ inline float max_c(float a, float b) { return fmaxf(a, b); }
template <> __device__ inline double max_c(double a, double b) { return fmax(a, b); }

struct MaxF {
  template <typename C> __device__ C operator()(C a, C b) const { return max_c(a, b); }
};
struct SumF {
  template <typename C> __device__ C operator()(C a, C b) const { return a + b; }
};

// Butterfly over `width` lanes (a power of two <= 32): every lane gets the result. All 32
// lanes of the warp must call it.
template <typename C, typename F>
__device__ inline C warp_allreduce(C v, int width, F f) {
  for (int o = width / 2; o > 0; o >>= 1) v = f(v, __shfl_xor_sync(red::kFullMask, v, o, width));
  return v;
}

// Every thread gets the block's result (the warps' values combined in warp order, the
// same for all threads). Ends with a barrier so `smem` can be reused at once.
template <typename C, typename F>
__device__ inline C block_allreduce(C v, F f, C* smem) {
  v = warp_allreduce(v, 32, f);
  if ((threadIdx.x & 31) == 0) smem[threadIdx.x >> 5] = v;
  __syncthreads();
  C r = smem[0];
  for (int k = 1; k < int(blockDim.x >> 5); ++k) r = f(r, smem[k]);
  __syncthreads();
  return r;
}

template <typename C>
__device__ inline C neg_inf() {
  return -C(INFINITY);
}

// The three passes over one line for thread t of `lanes`; `reduce` combines across the
// group (all of the group's threads call this, `valid` or not).
template <typename C, typename R>
__device__ inline void softmax_line(const SoftmaxArgs& a, bool valid, int64_t line, int t, int lanes, R reduce) {
  const int64_t xo = valid ? a.xl.offset(line) : 0, oo = valid ? a.ol.offset(line) : 0;
  const int64_t n = a.n;
  C m = neg_inf<C>();
  C s = C(0);
  if constexpr (std::is_same_v<C, float>) {
    if (a.vec4) {
      // xo, oo multiples of 4 and both pointers 16-byte aligned (checked on the host).
      const float4* x4 = reinterpret_cast<const float4*>(static_cast<const float*>(a.x) + xo);
      float4* y4 = reinterpret_cast<float4*>(static_cast<float*>(a.out) + oo);
      const int64_t n4 = valid ? n / 4 : 0;
      for (int64_t q = t; q < n4; q += lanes) {
        const float4 v = x4[q];
        m = fmaxf(m, fmaxf(fmaxf(v.x, v.y), fmaxf(v.z, v.w)));
      }
      m = reduce(m, MaxF{});
      for (int64_t q = t; q < n4; q += lanes) {
        const float4 v = x4[q];
        s += (expf(v.x - m) + expf(v.y - m)) + (expf(v.z - m) + expf(v.w - m));
      }
      s = reduce(s, SumF{});
      if (a.log_out) {
        const float ls = logf(s);
        for (int64_t q = t; q < n4; q += lanes) {
          const float4 v = x4[q];
          y4[q] = make_float4((v.x - m) - ls, (v.y - m) - ls, (v.z - m) - ls, (v.w - m) - ls);
        }
      } else {
        const float inv = 1.0f / s;
        for (int64_t q = t; q < n4; q += lanes) {
          const float4 v = x4[q];
          y4[q] = make_float4(expf(v.x - m) * inv, expf(v.y - m) * inv, expf(v.z - m) * inv, expf(v.w - m) * inv);
        }
      }
      return;
    }
  }
  const int64_t nn = valid ? n : 0;
  for (int64_t i = t; i < nn; i += lanes) m = max_c(m, dev::load_as<C>(a.x, xo + i * a.xs, a.xdt));
  m = reduce(m, MaxF{});
  for (int64_t i = t; i < nn; i += lanes) s += exp_c(dev::load_as<C>(a.x, xo + i * a.xs, a.xdt) - m);
  s = reduce(s, SumF{});
  if (a.log_out) {
    const C ls = log_c(s);
    for (int64_t i = t; i < nn; i += lanes)
      dev::store_as(a.out, oo + i * a.os, a.odt, (dev::load_as<C>(a.x, xo + i * a.xs, a.xdt) - m) - ls);
  } else {
    const C inv = C(1) / s;
    for (int64_t i = t; i < nn; i += lanes)
      dev::store_as(a.out, oo + i * a.os, a.odt, exp_c(dev::load_as<C>(a.x, xo + i * a.xs, a.xdt) - m) * inv);
  }
}

// Rows, `lanes` threads per line, 32 / lanes lines per warp; the loop bound is the warp's
// first line, so all 32 lanes run the same iterations (shuffles with the full mask).
template <typename C>
__global__ void __launch_bounds__(kSmThreads) softmax_rows_warp_kernel(SoftmaxArgs a) {
  const int lanes = a.lanes;
  const int lane = threadIdx.x & 31;
  const int lpw = 32 / lanes;
  const int t = lane & (lanes - 1);
  const int64_t warps_total = int64_t(gridDim.x) * (blockDim.x >> 5);
  auto reduce = [lanes](C v, auto f) { return warp_allreduce(v, lanes, f); };
  for (int64_t w = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; w * lpw < a.lines; w += warps_total) {
    const int64_t line = w * lpw + lane / lanes;
    softmax_line<C>(a, line < a.lines, line, t, lanes, reduce);
  }
}

// Rows, one block per line.
template <typename C>
__global__ void __launch_bounds__(kSmThreads) softmax_rows_block_kernel(SoftmaxArgs a) {
  __shared__ C smem[kSmWarps];
  auto reduce = [&](C v, auto f) { return block_allreduce(v, f, smem); };
  for (int64_t line = blockIdx.x; line < a.lines; line += gridDim.x)
    softmax_line<C>(a, true, line, int(threadIdx.x), int(blockDim.x), reduce);
}

// Columns: a thread per line.
template <typename C>
__global__ void __launch_bounds__(kSmThreads) softmax_cols_kernel(SoftmaxArgs a) {
  auto reduce = [](C v, auto) { return v; };
  DUET_CUDA_KERNEL_LOOP(line, a.lines) softmax_line<C>(a, true, line, 0, 1, reduce);
}

void softmax_cuda_impl(const Tensor& x, const Tensor& out, const Attrs& attrs, bool log_out, const char* name) {
  if (get_softmax_backend() == SoftmaxBackend::Cudnn && x.dim() > 0 && x.dtype() == out.dtype()) {
    cudnn_softmax(x, out, wrap_dim(attrs.get<int64_t>("dim"), x.dim(), name), log_out);  // DUET_SOFTMAX=cudnn
    return;
  }
  cpu::DimList xl, ol;
  SoftmaxArgs a{};
  a.n = 1;
  a.xs = 1;
  a.os = 1;
  if (x.dim() > 0) {
    const int64_t dim = wrap_dim(attrs.get<int64_t>("dim"), x.dim(), name);
    a.n = x.size(dim);
    a.xs = x.stride(dim);
    a.os = out.stride(dim);
    for (int64_t d = 0; d < x.dim(); ++d) {
      if (d == dim) continue;
      xl.push(x.size(d), x.stride(d));
      ol.push(out.size(d), out.stride(d));
    }
  }
  a.lines = xl.numel();
  if (a.lines == 0 || a.n == 0) return;
  if (a.n == 1) a.xs = a.os = 1;  // the stride of a size-1 dim is meaningless
  xl.coalesce();
  ol.coalesce();
  a.xl = red::to_dims(xl);
  a.ol = red::to_dims(ol);
  a.x = x.data_ptr();
  a.out = out.data_ptr();
  a.xdt = x.dtype();
  a.odt = out.dtype();
  a.log_out = log_out;
  a.lanes = 1;

  DeviceGuard guard(out.device().index);
  const cudaStream_t st = current_stream();
  const bool rows = a.xs == 1;
  if (rows) {
    a.vec4 = a.xdt == DType::Float32 && a.odt == DType::Float32 && a.os == 1 && a.n % 4 == 0 &&
             reinterpret_cast<uintptr_t>(a.x) % 16 == 0 && reinterpret_cast<uintptr_t>(a.out) % 16 == 0 &&
             red::strides_multiple_of(a.xl, 4) && red::strides_multiple_of(a.ol, 4);
    const int64_t per_lane = a.vec4 ? a.n / 4 : a.n;  // elements (or float4s) to spread
    if (a.n <= kWarpRowMax) a.lanes = std::min(32, red::pow2_ceil(per_lane));
  }
  const bool block_rows = rows && a.n > kWarpRowMax;
  const bool warp_rows = rows && !block_rows;
  if (a.xdt == DType::Float64) {
    if (block_rows) softmax_rows_block_kernel<double><<<grid_for(a.lines * kSmThreads), kSmThreads, 0, st>>>(a);
    else if (warp_rows) softmax_rows_warp_kernel<double><<<grid_for((a.lines + 32 / a.lanes - 1) / (32 / a.lanes) * 32), kSmThreads, 0, st>>>(a);
    else softmax_cols_kernel<double><<<grid_for(a.lines), kSmThreads, 0, st>>>(a);
  } else {
    if (block_rows) softmax_rows_block_kernel<float><<<grid_for(a.lines * kSmThreads), kSmThreads, 0, st>>>(a);
    else if (warp_rows) softmax_rows_warp_kernel<float><<<grid_for((a.lines + 32 / a.lanes - 1) / (32 / a.lanes) * 32), kSmThreads, 0, st>>>(a);
    else softmax_cols_kernel<float><<<grid_for(a.lines), kSmThreads, 0, st>>>(a);
  }
  DUET_CUDA_CHECK_LAUNCH();
}

void softmax_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  softmax_cuda_impl(in[0], out, attrs, false, "softmax");
}
void log_softmax_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  softmax_cuda_impl(in[0], out, attrs, true, "log_softmax");
}

}  // namespace

void register_softmax_kernels() {
  register_kernel(OpKind::softmax, DeviceType::CUDA, softmax_cuda);
  register_kernel(OpKind::log_softmax, DeviceType::CUDA, log_softmax_cuda);
}

}  // namespace duet::cuda
