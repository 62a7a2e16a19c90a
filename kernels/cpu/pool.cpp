// CPU kernels of 2-D pooling (NCHW, float32/float64) and their gradients, one (n, c)
// plane per task: max_pool2d (NaN wins and the last NaN holds the gradient, the first
// maximum wins a tie, as in PyTorch), avg_pool2d (count_include_pad decides whether padding counts in the
// divisor) and adaptive_avg_pool2d (window [floor(i * in / out), ceil((i + 1) * in / out))).
// max_pool2d_backward finds each window's maximum again from x instead of keeping
// indices, so the op stays one tensor in and one out; the gradient goes to that element.
// Inputs are read with their strides; results are contiguous.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/ops/conv_geometry.h"
#include "core/parallel.h"
#include "kernels/cpu/kernels.h"

namespace duet::cpu {
namespace {

// A strided (N, C, H, W) tensor's plane (n, c).
template <typename T>
struct Plane {
  const T* p;
  int64_t sh, sw;
  T at(int64_t h, int64_t w) const { return p[h * sh + w * sw]; }
};
template <typename T>
Plane<T> plane(const Tensor& t, int64_t nc) {
  const int64_t n = nc / t.size(1), c = nc % t.size(1);
  return {t.data<T>() + n * t.stride(0) + c * t.stride(1), t.stride(2), t.stride(3)};
}

// Calls fn(nc) for each of the N * C planes, in parallel.
template <typename Fn>
void for_each_plane(int64_t planes, int64_t plane_work, const Fn& fn) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, plane_work));
  parallel_for(0, planes, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t nc = lo; nc < hi; ++nc) fn(nc);
  });
}

// The position (h * W + w) of the maximum of window (oh, ow) of plane x.
template <typename T>
int64_t window_argmax(const Plane<T>& x, int64_t H, int64_t W, const Window2d& g, int64_t oh, int64_t ow) {
  const int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  int64_t best = -1;
  T best_v = -std::numeric_limits<T>::infinity();
  for (int64_t i = 0; i < g.kh; ++i) {
    const int64_t h = h0 + i * g.dh;
    if (h < 0 || h >= H) continue;
    for (int64_t j = 0; j < g.kw; ++j) {
      const int64_t w = w0 + j * g.dw;
      if (w < 0 || w >= W) continue;
      const T v = x.at(h, w);
      if (best < 0) best = h * W + w;  // an all -inf window: its first element
      if (v > best_v || std::isnan(v)) {  // after a NaN only a later NaN moves it, as in PyTorch
        best_v = v;
        best = h * W + w;
      }
    }
  }
  return best;
}

template <typename T>
void max_pool(const Tensor& x, const Tensor& out, const Window2d& g) {
  const int64_t H = x.size(2), W = x.size(3), OH = out.size(2), OW = out.size(3);
  T* o = out.data<T>();
  for_each_plane(out.size(0) * out.size(1), OH * OW * g.kh * g.kw, [&](int64_t nc) {
    const Plane<T> xp = plane<T>(x, nc);
    T* dst = o + nc * OH * OW;
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t k = window_argmax(xp, H, W, g, oh, ow);  // -1: the window is all padding
        dst[oh * OW + ow] = k < 0 ? -std::numeric_limits<T>::infinity() : xp.at(k / W, k % W);
      }
  });
}

template <typename T>
void max_pool_backward(const Tensor& dy, const Tensor& x, const Tensor& out, const Window2d& g) {
  const int64_t H = x.size(2), W = x.size(3), OH = dy.size(2), OW = dy.size(3);
  T* dx = out.data<T>();
  for_each_plane(out.size(0) * out.size(1), OH * OW * g.kh * g.kw, [&](int64_t nc) {
    const Plane<T> xp = plane<T>(x, nc), gp = plane<T>(dy, nc);
    T* dst = dx + nc * H * W;
    std::fill(dst, dst + H * W, T(0));
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow)
        if (const int64_t k = window_argmax(xp, H, W, g, oh, ow); k >= 0) dst[k] += gp.at(oh, ow);
  });
}

// avg_pool2d's window (oh, ow): the rows and columns it averages and its divisor.
struct AvgWindow {
  int64_t h0, h1, w0, w1, divisor;
};
AvgWindow avg_window(const Window2d& g, bool count_pad, int64_t H, int64_t W, int64_t oh, int64_t ow) {
  int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  int64_t h1 = std::min(h0 + g.kh, H + g.ph), w1 = std::min(w0 + g.kw, W + g.pw);
  const int64_t padded = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0), w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, H), w1 = std::min(w1, W);
  return {h0, h1, w0, w1, count_pad ? padded : (h1 - h0) * (w1 - w0)};
}

template <typename T>
void avg_pool(const Tensor& x, const Tensor& out, const Window2d& g, bool count_pad) {
  const int64_t H = x.size(2), W = x.size(3), OH = out.size(2), OW = out.size(3);
  T* o = out.data<T>();
  for_each_plane(out.size(0) * out.size(1), OH * OW * g.kh * g.kw, [&](int64_t nc) {
    const Plane<T> xp = plane<T>(x, nc);
    T* dst = o + nc * OH * OW;
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        const AvgWindow a = avg_window(g, count_pad, H, W, oh, ow);
        T s = 0;
        for (int64_t h = a.h0; h < a.h1; ++h)
          for (int64_t w = a.w0; w < a.w1; ++w) s += xp.at(h, w);
        dst[oh * OW + ow] = s / T(a.divisor);
      }
  });
}

template <typename T>
void avg_pool_backward(const Tensor& dy, const Tensor& out, const Window2d& g, bool count_pad) {
  const int64_t H = out.size(2), W = out.size(3), OH = dy.size(2), OW = dy.size(3);
  T* dx = out.data<T>();
  for_each_plane(out.size(0) * out.size(1), OH * OW * g.kh * g.kw, [&](int64_t nc) {
    const Plane<T> gp = plane<T>(dy, nc);
    T* dst = dx + nc * H * W;
    std::fill(dst, dst + H * W, T(0));
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        const AvgWindow a = avg_window(g, count_pad, H, W, oh, ow);
        const T v = gp.at(oh, ow) / T(a.divisor);
        for (int64_t h = a.h0; h < a.h1; ++h)
          for (int64_t w = a.w0; w < a.w1; ++w) dst[h * W + w] += v;
      }
  });
}

int64_t adaptive_start(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
int64_t adaptive_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

template <typename T>
void adaptive_avg_pool(const Tensor& x, const Tensor& out) {
  const int64_t H = x.size(2), W = x.size(3), OH = out.size(2), OW = out.size(3);
  T* o = out.data<T>();
  for_each_plane(out.size(0) * out.size(1), H * W, [&](int64_t nc) {
    const Plane<T> xp = plane<T>(x, nc);
    T* dst = o + nc * OH * OW;
    for (int64_t oh = 0; oh < OH; ++oh) {
      const int64_t h0 = adaptive_start(oh, H, OH), h1 = adaptive_end(oh, H, OH);
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t w0 = adaptive_start(ow, W, OW), w1 = adaptive_end(ow, W, OW);
        T s = 0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) s += xp.at(h, w);
        dst[oh * OW + ow] = s / T((h1 - h0) * (w1 - w0));
      }
    }
  });
}

template <typename T>
void adaptive_avg_pool_backward(const Tensor& dy, const Tensor& out) {
  const int64_t H = out.size(2), W = out.size(3), OH = dy.size(2), OW = dy.size(3);
  T* dx = out.data<T>();
  for_each_plane(out.size(0) * out.size(1), H * W, [&](int64_t nc) {
    const Plane<T> gp = plane<T>(dy, nc);
    T* dst = dx + nc * H * W;
    std::fill(dst, dst + H * W, T(0));
    for (int64_t oh = 0; oh < OH; ++oh) {
      const int64_t h0 = adaptive_start(oh, H, OH), h1 = adaptive_end(oh, H, OH);
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t w0 = adaptive_start(ow, W, OW), w1 = adaptive_end(ow, W, OW);
        const T v = gp.at(oh, ow) / T((h1 - h0) * (w1 - w0));
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) dst[h * W + w] += v;
      }
    }
  });
}

template <typename Body>
void float_types(const Tensor& out, const Body& body) {
  if (out.dtype() == DType::Float64) body(double{});
  else body(float{});
}

}  // namespace

void max_pool2d_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  float_types(out, [&]<typename T>(T) { max_pool<T>(in[0], out, Window2d::pool(attrs)); });
}
void max_pool2d_backward_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  float_types(out, [&]<typename T>(T) { max_pool_backward<T>(in[0], in[1], out, Window2d::pool(attrs)); });
}
void avg_pool2d_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  const bool count_pad = attrs.get_or<bool>("count_include_pad", true);
  float_types(out, [&]<typename T>(T) { avg_pool<T>(in[0], out, Window2d::pool(attrs), count_pad); });
}
void avg_pool2d_backward_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  const bool count_pad = attrs.get_or<bool>("count_include_pad", true);
  float_types(out, [&]<typename T>(T) { avg_pool_backward<T>(in[0], out, Window2d::pool(attrs), count_pad); });
}
void adaptive_avg_pool2d_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs&) {
  float_types(out, [&]<typename T>(T) { adaptive_avg_pool<T>(in[0], out); });
}
void adaptive_avg_pool2d_backward_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs&) {
  float_types(out, [&]<typename T>(T) { adaptive_avg_pool_backward<T>(in[0], out); });
}

}  // namespace duet::cpu
