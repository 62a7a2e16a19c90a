// CUDA kernels of 2-D pooling (NCHW, float32/float64) and their gradients, with the
// semantics of kernels/cpu/pool.cpp:
//   max_pool2d           NaN wins and the last NaN in scan order holds it, the first
//                        maximum wins a tie, a window of only padding gives -inf
//   avg_pool2d           count_include_pad decides whether padding counts in the divisor
//   adaptive_avg_pool2d  window [floor(i * in / out), ceil((i + 1) * in / out))
// Inputs are read through their strides (nchw.cuh); results are contiguous. Sums run in
// the element type (float for float32, double for float64), as on the CPU.
//
// Kernels (v1), all one thread per result element (grid-stride):
//   forward ops     a thread per output, scanning its window.
//   backward ops    gathers: a thread per dx element loops over the outputs whose window
//                   covers it, in ascending (oh, ow) order, and writes its sum once. No
//                   atomics and no zero-fill pass; each dx element receives the CPU's
//                   terms in the CPU's order, so the sums are the CPU's bits.
//   max_pool2d_backward keeps no indices (the op is (dy, x) -> dx): for each covering
//                   window the thread finds the window's argmax again from x, with the
//                   forward's rule, and adds dy where the argmax is its own position.
//                   Cost: up to ceil(KH / SH) * ceil(KW / SW) windows of KH * KW reads
//                   per element (9 x 9 reads for a 3x3 window at stride 1).
//
// A faster version would (v2): take overlapping-free windows (stride >= kernel, the
// common 2x2/2 case) one thread per output, which then owns its window's dx elements and
// writes them directly; stage a block's input tile in shared memory so the windows of
// neighbouring outputs (and the backward's repeated argmax scans) read x once; and use
// 32-bit index math when the element count fits.
//
// Figures: not yet measured (no GPU has run these kernels; the `cuda` tests check them
// against the CPU and the float64 references when one is present). Before any GPU run,
// v1 passed the op table's conv/pool cases and test_cuda_conv's cases under a host
// emulation of its launches (threads as std::threads, __syncthreads as a barrier, a grid
// capped at 5 blocks so the grid-stride loops turn; a throwaway harness, not kept).
//
// ptxas (-Xptxas -v, CUDA 13, sm_80 and sm_90): 31-64 registers (max_pool2d_backward the
// most, 62-64); no spills, no stack frame in any of the twelve kernels.
#include "core/ops/conv_geometry.h"
#include "kernels/cuda/nchw.cuh"
#include "kernels/cuda/registration.h"

namespace duet::cuda {
namespace {

// The operands of one launch; each kernel reads the ones its op has.
template <typename T>
struct PoolArgs {
  Nchw<const T> x, dy;
  T* out;                      // contiguous
  int64_t N, C, H, W, OH, OW;  // the pooled input (N, C, H, W) and output (N, C, OH, OW)
  Window2d g;                  // unused by the adaptive ops
  bool count_pad;              // avg_pool2d: count_include_pad
};

// ---------------------------------------------------------------- max

template <typename T>
struct WindowMax {
  int64_t pos;  // h * W + w; -1 when the window is all padding
  T value;      // -inf then
};

// The maximum of window (oh, ow) of plane (n, c): kernels/cpu/pool.cpp's window_argmax.
template <typename T>
__device__ WindowMax<T> window_max(const PoolArgs<T>& a, int64_t n, int64_t c, int64_t oh, int64_t ow) {
  const Window2d& g = a.g;
  const int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  WindowMax<T> best{-1, -T(INFINITY)};
  for (int64_t i = 0; i < g.kh; ++i) {
    const int64_t h = h0 + i * g.dh;
    if (h < 0 || h >= a.H) continue;
    for (int64_t j = 0; j < g.kw; ++j) {
      const int64_t w = w0 + j * g.dw;
      if (w < 0 || w >= a.W) continue;
      const T v = a.x.at(n, c, h, w);
      if (best.pos < 0) best.pos = h * a.W + w;  // an all -inf window: its first element
      if (v > best.value || v != v) best = {h * a.W + w, v};  // after a NaN only a later NaN moves it
    }
  }
  return best;
}

template <typename T>
__global__ void __launch_bounds__(kThreads) max_pool2d_kernel(PoolArgs<T> a) {
  DUET_CUDA_KERNEL_LOOP(o, a.N * a.C * a.OH * a.OW) {
    const NchwIndex p = nchw_index(o, a.C, a.OH, a.OW);
    a.out[o] = window_max(a, p.n, p.c, p.h, p.w).value;
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads) max_pool2d_backward_kernel(PoolArgs<T> a) {
  const Window2d& g = a.g;
  DUET_CUDA_KERNEL_LOOP(e, a.N * a.C * a.H * a.W) {
    const NchwIndex p = nchw_index(e, a.C, a.H, a.W);
    const int64_t own = p.h * a.W + p.w;
    T acc = 0;
    // Tap i of output row oh reads row oh * sh - ph + i * dh; descending i is ascending oh.
    for (int64_t i = g.kh - 1; i >= 0; --i) {
      const int64_t th = p.h + g.ph - i * g.dh;
      if (th < 0 || th % g.sh != 0) continue;
      const int64_t oh = th / g.sh;
      if (oh >= a.OH) break;
      for (int64_t j = g.kw - 1; j >= 0; --j) {
        const int64_t tw = p.w + g.pw - j * g.dw;
        if (tw < 0 || tw % g.sw != 0) continue;
        const int64_t ow = tw / g.sw;
        if (ow >= a.OW) break;
        if (window_max(a, p.n, p.c, oh, ow).pos == own) acc += a.dy.at(p.n, p.c, oh, ow);
      }
    }
    a.out[e] = acc;
  }
}

// ---------------------------------------------------------------- average

// avg_pool2d's window (oh, ow): the rows and columns it averages and its divisor
// (kernels/cpu/pool.cpp's avg_window).
struct AvgWindow {
  int64_t h0, h1, w0, w1, divisor;
};
template <typename T>
__device__ AvgWindow avg_window(const PoolArgs<T>& a, int64_t oh, int64_t ow) {
  const Window2d& g = a.g;
  int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  int64_t h1 = min(h0 + g.kh, a.H + g.ph), w1 = min(w0 + g.kw, a.W + g.pw);
  const int64_t padded = (h1 - h0) * (w1 - w0);
  h0 = max(h0, int64_t(0)), w0 = max(w0, int64_t(0));
  h1 = min(h1, a.H), w1 = min(w1, a.W);
  return {h0, h1, w0, w1, a.count_pad ? padded : (h1 - h0) * (w1 - w0)};
}

template <typename T>
__global__ void __launch_bounds__(kThreads) avg_pool2d_kernel(PoolArgs<T> a) {
  DUET_CUDA_KERNEL_LOOP(o, a.N * a.C * a.OH * a.OW) {
    const NchwIndex p = nchw_index(o, a.C, a.OH, a.OW);
    const AvgWindow win = avg_window(a, p.h, p.w);
    T s = 0;
    for (int64_t h = win.h0; h < win.h1; ++h)
      for (int64_t w = win.w0; w < win.w1; ++w) s += a.x.at(p.n, p.c, h, w);
    a.out[o] = s / T(win.divisor);
  }
}

// The outputs [lo, hi] along one dim whose window [o * s - pad, o * s - pad + k) holds
// position v, clipped to [0, out).
struct Covering {
  int64_t lo, hi;
};
__device__ inline Covering covering(int64_t v, int64_t k, int64_t s, int64_t pad, int64_t out) {
  const int64_t first = v + pad - k;  // o * s must exceed it
  return {first < 0 ? 0 : first / s + 1, min((v + pad) / s, out - 1)};
}

template <typename T>
__global__ void __launch_bounds__(kThreads) avg_pool2d_backward_kernel(PoolArgs<T> a) {
  const Window2d& g = a.g;
  DUET_CUDA_KERNEL_LOOP(e, a.N * a.C * a.H * a.W) {
    const NchwIndex p = nchw_index(e, a.C, a.H, a.W);
    const Covering rows = covering(p.h, g.kh, g.sh, g.ph, a.OH), cols = covering(p.w, g.kw, g.sw, g.pw, a.OW);
    T acc = 0;
    for (int64_t oh = rows.lo; oh <= rows.hi; ++oh)
      for (int64_t ow = cols.lo; ow <= cols.hi; ++ow)
        acc += a.dy.at(p.n, p.c, oh, ow) / T(avg_window(a, oh, ow).divisor);
    a.out[e] = acc;
  }
}

// ---------------------------------------------------------------- adaptive average

__device__ inline int64_t adaptive_start(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
__device__ inline int64_t adaptive_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

template <typename T>
__global__ void __launch_bounds__(kThreads) adaptive_avg_pool2d_kernel(PoolArgs<T> a) {
  DUET_CUDA_KERNEL_LOOP(o, a.N * a.C * a.OH * a.OW) {
    const NchwIndex p = nchw_index(o, a.C, a.OH, a.OW);
    const int64_t h0 = adaptive_start(p.h, a.H, a.OH), h1 = adaptive_end(p.h, a.H, a.OH);
    const int64_t w0 = adaptive_start(p.w, a.W, a.OW), w1 = adaptive_end(p.w, a.W, a.OW);
    T s = 0;
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t w = w0; w < w1; ++w) s += a.x.at(p.n, p.c, h, w);
    a.out[o] = s / T((h1 - h0) * (w1 - w0));
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads) adaptive_avg_pool2d_backward_kernel(PoolArgs<T> a) {
  DUET_CUDA_KERNEL_LOOP(e, a.N * a.C * a.H * a.W) {
    const NchwIndex p = nchw_index(e, a.C, a.H, a.W);
    T acc = 0;
    // Windows start and end in nondecreasing order; the first that can hold row h is
    // floor(h * OH / H), and none from the first that starts past h on.
    for (int64_t oh = p.h * a.OH / a.H; oh < a.OH; ++oh) {
      const int64_t h0 = adaptive_start(oh, a.H, a.OH), h1 = adaptive_end(oh, a.H, a.OH);
      if (h0 > p.h) break;
      if (h1 <= p.h) continue;
      for (int64_t ow = p.w * a.OW / a.W; ow < a.OW; ++ow) {
        const int64_t w0 = adaptive_start(ow, a.W, a.OW), w1 = adaptive_end(ow, a.W, a.OW);
        if (w0 > p.w) break;
        if (w1 <= p.w) continue;
        acc += a.dy.at(p.n, p.c, oh, ow) / T((h1 - h0) * (w1 - w0));
      }
    }
    a.out[e] = acc;
  }
}

// ---------------------------------------------------------------- launches

// Calls launch(args) for out's dtype on out's device, args holding the pooled input's
// shape xs, the pooled output's shape ys and the window; nothing for an empty result.
template <typename Launch>
void run_pool(const Tensor& out, const Shape& xs, const Shape& ys, const Window2d& g, bool count_pad,
              const Launch& launch) {
  DUET_ASSERT(out.is_contiguous(), "pooling kernels write a contiguous result");
  if (out.numel() == 0) return;
  DeviceGuard guard(out.device().index);
  visit_conv_dtype(out.dtype(), [&]<typename T>() {
    PoolArgs<T> a{};
    a.out = out.data<T>();
    a.N = xs[0], a.C = xs[1], a.H = xs[2], a.W = xs[3], a.OH = ys[2], a.OW = ys[3];
    a.g = g;
    a.count_pad = count_pad;
    launch(a);
    DUET_CUDA_CHECK_LAUNCH();
  });
}

Shape input_shape(const Attrs& attrs) { return attrs.get<std::vector<int64_t>>("input_shape"); }
bool count_include_pad(const Attrs& attrs) { return attrs.get_or<bool>("count_include_pad", true); }

void max_pool2d_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  run_pool(out, in[0].sizes(), out.sizes(), Window2d::pool(attrs), false, [&]<typename T>(PoolArgs<T> a) {
    a.x = make_nchw<const T>(in[0]);
    max_pool2d_kernel<T><<<grid_for(out.numel()), kThreads, 0, current_stream()>>>(a);
  });
}

void max_pool2d_backward_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  run_pool(out, in[1].sizes(), in[0].sizes(), Window2d::pool(attrs), false, [&]<typename T>(PoolArgs<T> a) {
    a.dy = make_nchw<const T>(in[0]);
    a.x = make_nchw<const T>(in[1]);
    max_pool2d_backward_kernel<T><<<grid_for(out.numel()), kThreads, 0, current_stream()>>>(a);
  });
}

void avg_pool2d_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  run_pool(out, in[0].sizes(), out.sizes(), Window2d::pool(attrs), count_include_pad(attrs),
           [&]<typename T>(PoolArgs<T> a) {
             a.x = make_nchw<const T>(in[0]);
             avg_pool2d_kernel<T><<<grid_for(out.numel()), kThreads, 0, current_stream()>>>(a);
           });
}

void avg_pool2d_backward_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  run_pool(out, input_shape(attrs), in[0].sizes(), Window2d::pool(attrs), count_include_pad(attrs),
           [&]<typename T>(PoolArgs<T> a) {
             a.dy = make_nchw<const T>(in[0]);
             avg_pool2d_backward_kernel<T><<<grid_for(out.numel()), kThreads, 0, current_stream()>>>(a);
           });
}

void adaptive_avg_pool2d_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs&) {
  run_pool(out, in[0].sizes(), out.sizes(), Window2d{}, false, [&]<typename T>(PoolArgs<T> a) {
    a.x = make_nchw<const T>(in[0]);
    adaptive_avg_pool2d_kernel<T><<<grid_for(out.numel()), kThreads, 0, current_stream()>>>(a);
  });
}

void adaptive_avg_pool2d_backward_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  run_pool(out, input_shape(attrs), in[0].sizes(), Window2d{}, false, [&]<typename T>(PoolArgs<T> a) {
    a.dy = make_nchw<const T>(in[0]);
    adaptive_avg_pool2d_backward_kernel<T><<<grid_for(out.numel()), kThreads, 0, current_stream()>>>(a);
  });
}

}  // namespace

void register_pool_kernels() {
  register_kernel(OpKind::max_pool2d, DeviceType::CUDA, max_pool2d_cuda);
  register_kernel(OpKind::max_pool2d_backward, DeviceType::CUDA, max_pool2d_backward_cuda);
  register_kernel(OpKind::avg_pool2d, DeviceType::CUDA, avg_pool2d_cuda);
  register_kernel(OpKind::avg_pool2d_backward, DeviceType::CUDA, avg_pool2d_backward_cuda);
  register_kernel(OpKind::adaptive_avg_pool2d, DeviceType::CUDA, adaptive_avg_pool2d_cuda);
  register_kernel(OpKind::adaptive_avg_pool2d_backward, DeviceType::CUDA, adaptive_avg_pool2d_backward_cuda);
}

}  // namespace duet::cuda
