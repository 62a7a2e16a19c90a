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

// A convolution's sizes, for its kernels on every device and backend: input (N, C, H, W),
// weight (OC, C / groups, KH, KW), output (N, OC, OH, OW); per group Cg input and OCg
// output channels, Kg = Cg * KH * KW terms per output and P = OH * OW pixels per plane.
struct ConvDims {
  int64_t N, C, H, W, OC, KH, KW, OH, OW, groups, Cg, OCg, Kg, P;
  Window2d g;
  bool is_pointwise() const {  // 1x1, stride 1, no padding: the unfolded input is the input
    return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
  }
};

// x and w are the input's and the weight's shapes (a backward op's input_shape /
// weight_shape attr for the one it computes).
inline ConvDims conv_dims(const std::vector<int64_t>& x, const std::vector<int64_t>& w, const Attrs& attrs) {
  ConvDims d{};
  d.N = x[0], d.C = x[1], d.H = x[2], d.W = x[3];
  d.OC = w[0], d.KH = w[2], d.KW = w[3];
  d.groups = attrs.get_or<int64_t>("groups", 1);
  d.g = Window2d::conv(attrs, d.KH, d.KW);
  d.OH = d.g.out_h(d.H), d.OW = d.g.out_w(d.W);
  d.Cg = d.C / d.groups, d.OCg = d.OC / d.groups;
  d.Kg = d.Cg * d.KH * d.KW;
  d.P = d.OH * d.OW;
  return d;
}

}  // namespace duet
