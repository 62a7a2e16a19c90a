// The geometry of 2-D convolution and pooling (NCHW), read from an op's attrs once and
// shared by the shape functions (core/ops/conv.cpp, which validate it), the public
// functions and the kernels of every device:
//   stride, padding, dilation: [h, w] each; groups (conv2d); kernel (pooling, [h, w]);
//   ceil_mode (pooling), count_include_pad (avg_pool2d);
//   input_shape / weight_shape: what a backward op's result is the gradient of.
// Output sizes follow PyTorch: floor((in + 2 pad - dilation (k - 1) - 1) / stride) + 1, and
// with ceil_mode the division rounds up unless the last window would start in the right
// padding.
#pragma once

#include <cstdint>
#include <vector>

#include "core/attrs.h"

namespace duet {

struct Window2d {
  int64_t kh = 1, kw = 1;  // kernel
  int64_t sh = 1, sw = 1;  // stride
  int64_t ph = 0, pw = 0;  // padding on each side
  int64_t dh = 1, dw = 1;  // dilation
  bool ceil_mode = false;

  static Window2d conv(const Attrs& attrs, int64_t kh, int64_t kw) {
    Window2d w = common(attrs);
    w.kh = kh;
    w.kw = kw;
    return w;
  }
  static Window2d pool(const Attrs& attrs) {
    Window2d w = common(attrs);
    const auto k = attrs.get<std::vector<int64_t>>("kernel");
    w.kh = k.at(0);
    w.kw = k.at(1);
    w.ceil_mode = attrs.get_or<bool>("ceil_mode", false);
    return w;
  }
  static int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
    const int64_t span = in + 2 * p - d * (k - 1) - 1;
    if (span < 0) return 0;
    int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (out - 1) * s >= in + p) --out;  // the last window must start inside
    return out;
  }
  int64_t out_h(int64_t h) const { return out_size(h, kh, sh, ph, dh, ceil_mode); }
  int64_t out_w(int64_t w) const { return out_size(w, kw, sw, pw, dw, ceil_mode); }

 private:
  static Window2d common(const Attrs& attrs) {
    Window2d w;
    const auto pair = [&](const char* key, int64_t& h, int64_t& v) {
      if (!attrs.has(key)) return;
      const auto x = attrs.get<std::vector<int64_t>>(key);
      h = x.at(0);
      v = x.at(1);
    };
    pair("stride", w.sh, w.sw);
    pair("padding", w.ph, w.pw);
    pair("dilation", w.dh, w.dw);
    return w;
  }
};

}  // namespace duet
