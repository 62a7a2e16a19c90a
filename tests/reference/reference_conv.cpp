// Reference convolution and pooling (see reference_conv.h): one loop nest per definition.
#include "tests/reference/reference_conv.h"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace duet::ref {
namespace {

double at4(const RefTensor& t, int64_t a, int64_t b, int64_t c, int64_t d) {
  return t.v[size_t(((a * t.shape[1] + b) * t.shape[2] + c) * t.shape[3] + d)];
}
size_t idx4(const Shape& s, int64_t a, int64_t b, int64_t c, int64_t d) {
  return size_t(((a * s[1] + b) * s[2] + c) * s[3] + d);
}

// The input row/column that output position o and kernel tap k read.
int64_t tap(int64_t o, int64_t k, int64_t s, int64_t p, int64_t d) { return o * s - p + k * d; }

// The (h, w) of the first maximum of a pooling window (the last NaN wins, as in PyTorch);
// {-1, -1} if it is empty.
std::pair<int64_t, int64_t> window_max(const RefTensor& x, int64_t n, int64_t c, int64_t oh, int64_t ow,
                                       const PoolGeom& g) {
  std::pair<int64_t, int64_t> best{-1, -1};
  double bv = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < g.kh; ++i)
    for (int64_t j = 0; j < g.kw; ++j) {
      const int64_t h = tap(oh, i, g.sh, g.ph, g.dh), w = tap(ow, j, g.sw, g.pw, g.dw);
      if (h < 0 || h >= x.shape[2] || w < 0 || w >= x.shape[3]) continue;
      const double v = at4(x, n, c, h, w);
      if (best.first < 0) best = {h, w};
      if (v > bv || std::isnan(v)) bv = v, best = {h, w};
    }
  return best;
}

}  // namespace

int64_t window_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  const double span = double(in + 2 * p - d * (k - 1) - 1);
  int64_t out = int64_t(ceil_mode ? std::ceil(span / double(s)) : std::floor(span / double(s))) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

RefTensor conv2d(const RefTensor& x, const RefTensor& w, const RefTensor* bias, const ConvGeom& g) {
  const int64_t N = x.shape[0], C = x.shape[1], OC = w.shape[0], KH = w.shape[2], KW = w.shape[3];
  const int64_t Cg = C / g.groups, OCg = OC / g.groups;
  const int64_t OH = window_out(x.shape[2], KH, g.sh, g.ph, g.dh, false);
  const int64_t OW = window_out(x.shape[3], KW, g.sw, g.pw, g.dw, false);
  RefTensor y = zeros_with_scale({N, OC, OH, OW}, x.dtype);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oc = 0; oc < OC; ++oc)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = bias ? bias->v[size_t(oc)] : 0.0, mag = std::abs(acc);
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t i = 0; i < KH; ++i)
              for (int64_t j = 0; j < KW; ++j) {
                const int64_t h = tap(oh, i, g.sh, g.ph, g.dh), ww = tap(ow, j, g.sw, g.pw, g.dw);
                if (h < 0 || h >= x.shape[2] || ww < 0 || ww >= x.shape[3]) continue;
                const double t = at4(x, n, (oc / OCg) * Cg + c, h, ww) * at4(w, oc, c, i, j);
                acc += t;
                mag += std::abs(t);
              }
          y.v[idx4(y.shape, n, oc, oh, ow)] = acc;
          y.scale[idx4(y.shape, n, oc, oh, ow)] = mag;
        }
  return y;
}

RefTensor conv2d_input_grad(const RefTensor& dy, const RefTensor& w, const Shape& xs, const ConvGeom& g) {
  const int64_t OC = w.shape[0], KH = w.shape[2], KW = w.shape[3], OH = dy.shape[2], OW = dy.shape[3];
  const int64_t Cg = xs[1] / g.groups, OCg = OC / g.groups;
  RefTensor dx = zeros_with_scale(xs, dy.dtype);
  for (int64_t n = 0; n < xs[0]; ++n)
    for (int64_t ci = 0; ci < xs[1]; ++ci)
      for (int64_t h = 0; h < xs[2]; ++h)
        for (int64_t ww = 0; ww < xs[3]; ++ww) {
          double acc = 0, mag = 0;
          const int64_t grp = ci / Cg;
          for (int64_t oc = grp * OCg; oc < (grp + 1) * OCg; ++oc)
            for (int64_t i = 0; i < KH; ++i)
              for (int64_t j = 0; j < KW; ++j) {
                const int64_t th = h + g.ph - i * g.dh, tw = ww + g.pw - j * g.dw;  // = oh * sh
                if (th < 0 || tw < 0 || th % g.sh || tw % g.sw || th / g.sh >= OH || tw / g.sw >= OW) continue;
                const double t = at4(dy, n, oc, th / g.sh, tw / g.sw) * at4(w, oc, ci - grp * Cg, i, j);
                acc += t;
                mag += std::abs(t);
              }
          dx.v[idx4(xs, n, ci, h, ww)] = acc;
          dx.scale[idx4(xs, n, ci, h, ww)] = mag;
        }
  return dx;
}

RefTensor conv2d_weight_grad(const RefTensor& dy, const RefTensor& x, const Shape& ws, const ConvGeom& g) {
  const int64_t OCg = ws[0] / g.groups, Cg = ws[1];
  RefTensor dw = zeros_with_scale(ws, dy.dtype);
  for (int64_t oc = 0; oc < ws[0]; ++oc)
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t i = 0; i < ws[2]; ++i)
        for (int64_t j = 0; j < ws[3]; ++j) {
          double acc = 0, mag = 0;
          for (int64_t n = 0; n < x.shape[0]; ++n)
            for (int64_t oh = 0; oh < dy.shape[2]; ++oh)
              for (int64_t ow = 0; ow < dy.shape[3]; ++ow) {
                const int64_t h = tap(oh, i, g.sh, g.ph, g.dh), ww = tap(ow, j, g.sw, g.pw, g.dw);
                if (h < 0 || h >= x.shape[2] || ww < 0 || ww >= x.shape[3]) continue;
                const double t = at4(dy, n, oc, oh, ow) * at4(x, n, (oc / OCg) * Cg + c, h, ww);
                acc += t;
                mag += std::abs(t);
              }
          dw.v[idx4(ws, oc, c, i, j)] = acc;
          dw.scale[idx4(ws, oc, c, i, j)] = mag;
        }
  return dw;
}

RefTensor max_pool2d(const RefTensor& x, const PoolGeom& g) {
  const int64_t OH = window_out(x.shape[2], g.kh, g.sh, g.ph, g.dh, g.ceil_mode);
  const int64_t OW = window_out(x.shape[3], g.kw, g.sw, g.pw, g.dw, g.ceil_mode);
  RefTensor y = zeros_with_scale({x.shape[0], x.shape[1], OH, OW}, x.dtype);
  y.scale.clear();
  for (int64_t n = 0; n < x.shape[0]; ++n)
    for (int64_t c = 0; c < x.shape[1]; ++c)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          auto [h, w] = window_max(x, n, c, oh, ow, g);
          y.v[idx4(y.shape, n, c, oh, ow)] = h < 0 ? -std::numeric_limits<double>::infinity() : at4(x, n, c, h, w);
        }
  return y;
}

RefTensor max_pool2d_backward(const RefTensor& dy, const RefTensor& x, const PoolGeom& g) {
  RefTensor dx = zeros_with_scale(x.shape, dy.dtype);
  for (int64_t n = 0; n < x.shape[0]; ++n)
    for (int64_t c = 0; c < x.shape[1]; ++c)
      for (int64_t oh = 0; oh < dy.shape[2]; ++oh)
        for (int64_t ow = 0; ow < dy.shape[3]; ++ow) {
          auto [h, w] = window_max(x, n, c, oh, ow, g);
          if (h < 0) continue;
          const double t = at4(dy, n, c, oh, ow);
          dx.v[idx4(x.shape, n, c, h, w)] += t;
          dx.scale[idx4(x.shape, n, c, h, w)] += std::abs(t);
        }
  return dx;
}

namespace {
// avg_pool2d's divisor for window (oh, ow) and whether (h, w) is inside it.
struct AvgWin {
  int64_t h0, h1, w0, w1;
  double div;
};
AvgWin avg_win(const PoolGeom& g, int64_t H, int64_t W, int64_t oh, int64_t ow) {
  int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  int64_t h1 = std::min(h0 + g.kh, H + g.ph), w1 = std::min(w0 + g.kw, W + g.pw);
  const double padded = double((h1 - h0) * (w1 - w0));
  h0 = std::max<int64_t>(0, h0), w0 = std::max<int64_t>(0, w0), h1 = std::min(h1, H), w1 = std::min(w1, W);
  return {h0, h1, w0, w1, g.count_include_pad ? padded : double((h1 - h0) * (w1 - w0))};
}
}  // namespace

RefTensor avg_pool2d(const RefTensor& x, const PoolGeom& g) {
  const int64_t H = x.shape[2], W = x.shape[3];
  const int64_t OH = window_out(H, g.kh, g.sh, g.ph, 1, g.ceil_mode), OW = window_out(W, g.kw, g.sw, g.pw, 1, g.ceil_mode);
  RefTensor y = zeros_with_scale({x.shape[0], x.shape[1], OH, OW}, x.dtype);
  for (int64_t n = 0; n < x.shape[0]; ++n)
    for (int64_t c = 0; c < x.shape[1]; ++c)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const AvgWin a = avg_win(g, H, W, oh, ow);
          double s = 0, m = 0;
          for (int64_t h = a.h0; h < a.h1; ++h)
            for (int64_t w = a.w0; w < a.w1; ++w) s += at4(x, n, c, h, w), m += std::abs(at4(x, n, c, h, w));
          y.v[idx4(y.shape, n, c, oh, ow)] = s / a.div;
          y.scale[idx4(y.shape, n, c, oh, ow)] = m / a.div;
        }
  return y;
}

RefTensor avg_pool2d_backward(const RefTensor& dy, const Shape& xs, const PoolGeom& g) {
  RefTensor dx = zeros_with_scale(xs, dy.dtype);
  for (int64_t n = 0; n < xs[0]; ++n)
    for (int64_t c = 0; c < xs[1]; ++c)
      for (int64_t oh = 0; oh < dy.shape[2]; ++oh)
        for (int64_t ow = 0; ow < dy.shape[3]; ++ow) {
          const AvgWin a = avg_win(g, xs[2], xs[3], oh, ow);
          const double t = at4(dy, n, c, oh, ow) / a.div;
          for (int64_t h = a.h0; h < a.h1; ++h)
            for (int64_t w = a.w0; w < a.w1; ++w) dx.v[idx4(xs, n, c, h, w)] += t, dx.scale[idx4(xs, n, c, h, w)] += std::abs(t);
        }
  return dx;
}

namespace {
int64_t a_start(int64_t i, int64_t in, int64_t out) { return int64_t(std::floor(double(i * in) / double(out))); }
int64_t a_end(int64_t i, int64_t in, int64_t out) { return int64_t(std::ceil(double((i + 1) * in) / double(out))); }
}  // namespace

RefTensor adaptive_avg_pool2d(const RefTensor& x, int64_t OH, int64_t OW) {
  const int64_t H = x.shape[2], W = x.shape[3];
  RefTensor y = zeros_with_scale({x.shape[0], x.shape[1], OH, OW}, x.dtype);
  for (int64_t n = 0; n < x.shape[0]; ++n)
    for (int64_t c = 0; c < x.shape[1]; ++c)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double s = 0, m = 0, cnt = 0;
          for (int64_t h = a_start(oh, H, OH); h < a_end(oh, H, OH); ++h)
            for (int64_t w = a_start(ow, W, OW); w < a_end(ow, W, OW); ++w)
              s += at4(x, n, c, h, w), m += std::abs(at4(x, n, c, h, w)), cnt += 1;
          y.v[idx4(y.shape, n, c, oh, ow)] = s / cnt;
          y.scale[idx4(y.shape, n, c, oh, ow)] = m / cnt;
        }
  return y;
}

RefTensor adaptive_avg_pool2d_backward(const RefTensor& dy, const Shape& xs) {
  const int64_t H = xs[2], W = xs[3], OH = dy.shape[2], OW = dy.shape[3];
  RefTensor dx = zeros_with_scale(xs, dy.dtype);
  for (int64_t n = 0; n < xs[0]; ++n)
    for (int64_t c = 0; c < xs[1]; ++c)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t h0 = a_start(oh, H, OH), h1 = a_end(oh, H, OH), w0 = a_start(ow, W, OW), w1 = a_end(ow, W, OW);
          const double t = at4(dy, n, c, oh, ow) / double((h1 - h0) * (w1 - w0));
          for (int64_t h = h0; h < h1; ++h)
            for (int64_t w = w0; w < w1; ++w) dx.v[idx4(xs, n, c, h, w)] += t, dx.scale[idx4(xs, n, c, h, w)] += std::abs(t);
        }
  return dx;
}

}  // namespace duet::ref
