// CPU kernels of conv2d and its two gradients (NCHW, float32/float64; geometry in
// core/ops/conv_geometry.h, validated by core/ops/conv.cpp), on duet's GEMM:
//   forward  out[n, g]  = W[g] (OCg x Kg) @ col(x[n, g]) (Kg x OH*OW), + bias, then the
//                         store epilogue of conv.h (graph mode's batch norm and ReLU)
//   dgrad    dx[n, g]  += col2im(W[g]^T @ dy[n, g])
//   wgrad    dW[g]      = sum_n dy[n, g] @ col(x[n, g])^T
// with Kg = C/groups * KH * KW and col() the im2col unfolding (one row per (c, kh, kw),
// one column per output pixel, zeros where the window reads padding). A 1x1 convolution
// with stride 1 and no padding needs no unfolding: x[n, g] is the column matrix itself.
//
// Threads take whole samples (forward, dgrad), so a sample's result does not depend on
// the thread count; with fewer samples than threads the GEMM threads instead. The weight
// gradient sums samples in fixed chunks of kWgradChunk (partial sums run in parallel and
// are added in chunk order), so its bits do not depend on the thread count either.
//
// Versions: v1 im2col + GEMM for every shape (3.5-22% of the FMA peak on the fashion
// workloads' layers, 2-5x slower than oneDNN on the 3x3 layers). v2: the direct kernels of
// conv_direct.cpp take float32 layers larger than 1x1 when the CPU has AVX-512 (its header
// has the per-layer table against this file and oneDNN); this file keeps float64, 1x1
// layers, one-channel input gradients and small batches.
#include <algorithm>
#include <optional>
#include <type_traits>
#include <vector>

#include "core/ops/conv_geometry.h"
#include "core/parallel.h"
#include "kernels/cpu/batch_norm.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/elementwise_ops.h"
#include "kernels/cpu/conv_backend.h"
#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/kernels.h"

namespace duet::cpu {
namespace {

constexpr int64_t kWgradChunk = 8;

// One sample's (or group's) plane stack: C planes of H x W with element strides.
template <typename T>
struct Planes {
  const T* p;
  int64_t C, H, W, sc, sh, sw;
};


// col[(c * KH + i) * KW + j][oh * OW + ow] = x[c][oh * sh - ph + i * dh][ow * sw - pw + j * dw], 0 outside.
// Each column row is zeros, a run read from x, zeros: the run's bounds depend only on the
// kernel column j, so no element tests its own (a per-element bounds test made this loop
// 37% of a fashion-resnet training step); a unit-stride run is one memcpy.
template <typename T>
void im2col(const Planes<T>& x, const ConvDims& d, T* col) {
  const Window2d& g = d.g;
  const auto ceil_div = [](int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; };
  for (int64_t j = 0; j < g.kw; ++j) {
    const int64_t shift = j * g.dw - g.pw;  // iw = ow * sw + shift
    const int64_t lo = std::min(d.OW, ceil_div(-shift, g.sw));
    const int64_t hi = std::max(lo, std::min(d.OW, ceil_div(x.W - shift, g.sw)));
    const bool contiguous_run = g.sw == 1 && x.sw == 1;
    for (int64_t c = 0; c < x.C; ++c)
      for (int64_t i = 0; i < g.kh; ++i) {
        T* dst = col + ((c * g.kh + i) * g.kw + j) * d.P;
        for (int64_t oh = 0; oh < d.OH; ++oh, dst += d.OW) {
          const int64_t ih = oh * g.sh - g.ph + i * g.dh;
          if (ih < 0 || ih >= x.H) {
            std::fill(dst, dst + d.OW, T(0));
            continue;
          }
          const T* row = x.p + c * x.sc + ih * x.sh;
          std::fill(dst, dst + lo, T(0));
          if (contiguous_run) {
            std::copy(row + lo + shift, row + hi + shift, dst + lo);
          } else {
            const T* src = row + (lo * g.sw + shift) * x.sw;
            const int64_t step = g.sw * x.sw;
            for (int64_t ow = lo; ow < hi; ++ow, src += step) dst[ow] = *src;
          }
          std::fill(dst + hi, dst + d.OW, T(0));
        }
      }
  }
}

// The adjoint of im2col: adds each column entry into the input element it was read from.
// dx: C contiguous planes of H x W. As in im2col, the in-bounds outputs of a kernel column
// j are one run [lo, hi), so no element tests its own bounds.
template <typename T>
void col2im_add(const T* col, const ConvDims& d, T* dx) {
  const Window2d& g = d.g;
  const auto ceil_div = [](int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; };
  for (int64_t c = 0; c < d.Cg; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t shift = j * g.dw - g.pw;  // iw = ow * sw + shift
        const int64_t lo = std::min(d.OW, ceil_div(-shift, g.sw));
        const int64_t hi = std::max(lo, std::min(d.OW, ceil_div(d.W - shift, g.sw)));
        const T* src = col + ((c * g.kh + i) * g.kw + j) * d.P;
        T* plane = dx + c * d.H * d.W;
        for (int64_t oh = 0; oh < d.OH; ++oh, src += d.OW) {
          const int64_t ih = oh * g.sh - g.ph + i * g.dh;
          if (ih < 0 || ih >= d.H) continue;
          T* dst = plane + ih * d.W + lo * g.sw + shift;
          for (int64_t ow = lo; ow < hi; ++ow, dst += g.sw) *dst += src[ow];
        }
      }
}

// x[n] restricted to group gi's channels; x read in place with its strides.
template <typename T>
Planes<T> group_planes(const Tensor& x, int64_t n, int64_t gi, int64_t Cg) {
  const T* base = x.data<T>() + n * x.stride(0) + gi * Cg * x.stride(1);
  return {base, Cg, x.size(2), x.size(3), x.stride(1), x.stride(2), x.stride(3)};
}

// A 4-D (or 1-D) operand as the GEMM reads it: `dense` when it is already laid out as
// needed, else a row-major copy in scratch (kernels run below dispatch, so they copy by
// hand rather than through Tensor::contiguous()).
template <typename T>
struct Dense {
  const T* p = nullptr;
  int64_t s0 = 0, s1 = 0;  // strides of dims 0 and 1 in the layout p has
  std::vector<T> copy;
  Dense(const Tensor& t, bool dense) {
    if (dense) {
      p = t.data<T>();
      s0 = t.stride(0), s1 = t.dim() > 1 ? t.stride(1) : 0;
      return;
    }
    const Shape& z = t.sizes();
    copy.resize(size_t(t.numel()));
    const T* src = t.data<T>();
    T* dst = copy.data();
    if (t.dim() == 1) {
      for (int64_t i = 0; i < z[0]; ++i) *dst++ = src[i * t.stride(0)];
    } else {
      for (int64_t a = 0; a < z[0]; ++a)
        for (int64_t b = 0; b < z[1]; ++b)
          for (int64_t c = 0; c < z[2]; ++c)
            for (int64_t d = 0; d < z[3]; ++d)
              *dst++ = src[a * t.stride(0) + b * t.stride(1) + c * t.stride(2) + d * t.stride(3)];
    }
    p = copy.data();
    s0 = t.dim() > 1 ? z[1] * z[2] * z[3] : 1, s1 = t.dim() > 1 ? z[2] * z[3] : 0;
  }
};
// x[n] restricted to group gi's channels, from a Dense copy (planes contiguous).
template <typename T>
Planes<T> group_planes(const Dense<T>& x, const ConvDims& d, int64_t n, int64_t gi) {
  return {x.p + n * x.s0 + gi * d.Cg * x.s1, d.Cg, d.H, d.W, x.s1, d.W, 1};
}
// Each (H, W) plane one contiguous run, as the GEMM reads an output gradient or a 1x1 input.
bool dense_planes(const Tensor& t) {
  return (t.size(3) <= 1 || t.stride(3) == 1) && (t.size(2) <= 1 || t.stride(2) == t.size(3));
}

// Runs body(n, scratch) for every sample: in parallel over samples when there are enough
// to go round, else one after the other (the GEMM threads inside).
template <typename T, typename Body>
void for_each_sample(int64_t N, int64_t scratch, const Body& body) {
  if (N >= get_num_threads() && N > 1) {
    parallel_for(0, N, 1, [&](int64_t lo, int64_t hi) {
      std::vector<T> buf(static_cast<size_t>(scratch));
      for (int64_t n = lo; n < hi; ++n) body(n, buf.data());
    });
  } else {
    std::vector<T> buf(static_cast<size_t>(scratch));
    for (int64_t n = 0; n < N; ++n) body(n, buf.data());
  }
}

// The store epilogue of conv_forward (conv.h), prepared once per call: applied to each
// (sample, group) block of OCg output rows right after the GEMM that wrote it.
template <typename T>
class RowEpilogue {
 public:
  RowEpilogue(const ConvEpilogue& e) : relu_(e.relu) {
    if (e.bias.defined()) bias_.emplace(e.bias, e.bias.is_contiguous());
    if (e.batch_norm) {
      const ConvEpilogue::BatchNorm& bn = *e.batch_norm;
      affine_ = batch_norm_affines<T>(bn.mean, bn.var, bn.weight, bn.bias, bn.eps);
    }
  }
  // rows x P values at C, output channels oc0, oc0 + 1, ...
  void apply(T* C, int64_t oc0, int64_t rows, int64_t P) const {
    const bool bias = bias_.has_value(), bn = !affine_.empty();
    if (bias && !bn && !relu_) return run<true, false, false>(C, oc0, rows, P);  // eager's conv2d
    if (bias && bn && relu_) return run<true, true, true>(C, oc0, rows, P);
    if (bias && bn) return run<true, true, false>(C, oc0, rows, P);
    if (bias) return run<true, false, true>(C, oc0, rows, P);
    if (bn && relu_) return run<false, true, true>(C, oc0, rows, P);
    if (bn) return run<false, true, false>(C, oc0, rows, P);
    if (relu_) return run<false, false, true>(C, oc0, rows, P);
  }

 private:
  // Each element: + bias (only when there is one: adding 0 would turn a -0 sum into +0),
  // then x * scale + shift, then eager's relu (Note [One batch-norm formula]).
  template <bool kBias, bool kBatchNorm, bool kRelu>
  void run(T* C, int64_t oc0, int64_t rows, int64_t P) const {
    for (int64_t oc = 0; oc < rows; ++oc) {
      const T b = kBias ? bias_->p[oc0 + oc] : T(0);
      const BatchNormAffine<T> a = kBatchNorm ? affine_[size_t(oc0 + oc)] : BatchNormAffine<T>{T(1), T(0)};
      T* row = C + oc * P;
      for (int64_t p = 0; p < P; ++p) {
        T v = row[p];
        if constexpr (kBias) v += b;
        if constexpr (kBatchNorm) v = batch_norm_apply(v, a);
        if constexpr (kRelu) v = ew::ReluOp{}(v);
        row[p] = v;
      }
    }
  }
  std::optional<Dense<T>> bias_;
  std::vector<BatchNormAffine<T>> affine_;
  bool relu_;
};

ImageView image_view(const Tensor& t) { return {t.data<float>(), t.stride(0), t.stride(1), t.stride(2), t.stride(3)}; }

template <typename T>
void conv_forward(const Tensor& x, const Tensor& weight, const ConvEpilogue& epilogue, const Tensor& out,
                  const Attrs& attrs) {
  const ConvDims d = conv_dims(x.sizes(), weight.sizes(), attrs);
  const Dense<T> w(weight, weight.is_contiguous());
  const RowEpilogue<T> epi(epilogue);
  if constexpr (std::is_same_v<T, float>) {
    if (conv_direct_forward_applies(d)) {
      conv_direct_forward(image_view(x), w.p, out.data<float>(), d,
                          [&](float* block, int64_t oc0, int64_t rows, int64_t P) { epi.apply(block, oc0, rows, P); });
      return;
    }
  }
  std::optional<Dense<T>> xd;  // a 1x1 convolution reads x's planes as the GEMM's B
  if (d.is_pointwise()) xd.emplace(x, dense_planes(x));
  T* o = out.data<T>();
  for_each_sample<T>(d.N, d.is_pointwise() ? 0 : d.Kg * d.P, [&](int64_t n, T* col) {
    for (int64_t gi = 0; gi < d.groups; ++gi) {
      const T* B = col;
      int64_t rsb = d.P;
      if (xd) {
        const Planes<T> xs = group_planes<T>(*xd, d, n, gi);
        B = xs.p, rsb = xs.sc;
      } else {
        im2col(group_planes<T>(x, n, gi, d.Cg), d, col);
      }
      T* C = o + (n * d.OC + gi * d.OCg) * d.P;
      gemm<T>(d.OCg, d.P, d.Kg, T(1), w.p + gi * d.OCg * d.Kg, d.Kg, 1, B, rsb, 1, T(0), C, d.P, 1);
      epi.apply(C, gi * d.OCg, d.OCg, d.P);
    }
  });
}

}  // namespace

namespace {

// Note [Epilogues on a vendor backend]: when DUET_CONV selects another backend
// (conv_backend.h), eager's conv2d is that backend's call with the bias; a fused node must
// give its bits, so it makes the same call and then applies the rest of the epilogue
// (batch norm, relu) in a second pass over the output, sample by sample, with the same
// formulas. The fusion then saves the intermediate buffer but not the pass.
template <typename T>
void epilogue_pass(const ConvEpilogue& epilogue, const Tensor& out) {
  ConvEpilogue rest = epilogue;
  rest.bias = Tensor();  // the backend added it
  const RowEpilogue<T> epi(rest);
  const int64_t N = out.size(0), OC = out.size(1), P = out.size(2) * out.size(3);
  T* o = out.data<T>();
  parallel_for(0, N, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t n = lo; n < hi; ++n) epi.apply(o + n * OC * P, 0, OC, P);
  });
}

}  // namespace

void conv2d_forward_with_epilogue(const Tensor& x, const Tensor& w, const ConvEpilogue& epilogue, const Tensor& out,
                                  const Attrs& attrs) {
  const bool f64 = out.dtype() == DType::Float64;
  std::vector<Tensor> eager_inputs{x, w};
  if (epilogue.bias.defined()) eager_inputs.push_back(epilogue.bias);
  if (conv_on_selected_backend(ConvPass::Forward, eager_inputs, out, attrs)) {
    if (f64) epilogue_pass<double>(epilogue, out);
    else epilogue_pass<float>(epilogue, out);
    return;
  }
  if (f64) conv_forward<double>(x, w, epilogue, out, attrs);
  else conv_forward<float>(x, w, epilogue, out, attrs);
}

namespace {

template <typename T>
void conv_input_grad(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  const ConvDims d = conv_dims(attrs.get<std::vector<int64_t>>("input_shape"), in[1].sizes(), attrs);
  if constexpr (std::is_same_v<T, float>) {
    if (conv_direct_input_grad_applies(d)) {
      const Dense<T> w(in[1], in[1].is_contiguous());
      return conv_direct_input_grad(image_view(in[0]), w.p, out.data<float>(), d);
    }
  }
  const Dense<T> dy(in[0], dense_planes(in[0])), w(in[1], in[1].is_contiguous());
  T* dx = out.data<T>();
  for_each_sample<T>(d.N, d.is_pointwise() ? 0 : d.Kg * d.P, [&](int64_t n, T* col) {
    for (int64_t gi = 0; gi < d.groups; ++gi) {
      const T* A = w.p + gi * d.OCg * d.Kg;  // W[g]^T: element (k, oc) at A[oc * Kg + k]
      const T* B = dy.p + n * dy.s0 + gi * d.OCg * dy.s1;
      T* dxg = dx + (n * d.C + gi * d.Cg) * d.H * d.W;
      if (d.is_pointwise()) {
        gemm<T>(d.Kg, d.P, d.OCg, T(1), A, 1, d.Kg, B, dy.s1, 1, T(0), dxg, d.P, 1);
        continue;
      }
      gemm<T>(d.Kg, d.P, d.OCg, T(1), A, 1, d.Kg, B, dy.s1, 1, T(0), col, d.P, 1);
      std::fill(dxg, dxg + d.Cg * d.H * d.W, T(0));
      col2im_add(col, d, dxg);
    }
  });
}

template <typename T>
void conv_weight_grad(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  const Tensor& x = in[1];
  const ConvDims d = conv_dims(x.sizes(), attrs.get<std::vector<int64_t>>("weight_shape"), attrs);
  if constexpr (std::is_same_v<T, float>) {
    if (conv_direct_weight_grad_applies(d))
      return conv_direct_weight_grad(image_view(in[0]), image_view(x), out.data<float>(), d, kWgradChunk);
  }
  const Dense<T> dy(in[0], dense_planes(in[0]));
  std::optional<Dense<T>> xd;
  if (d.is_pointwise()) xd.emplace(x, dense_planes(x));
  T* dw = out.data<T>();
  const int64_t wsize = d.OC * d.Kg;
  if (d.N == 0) {
    std::fill(dw, dw + wsize, T(0));
    return;
  }
  const int64_t chunks = (d.N + kWgradChunk - 1) / kWgradChunk;
  std::vector<T> partial(size_t((chunks - 1) * wsize));  // chunk 0 sums straight into dw
  parallel_for(0, chunks, 1, [&](int64_t lo, int64_t hi) {
    std::vector<T> col(size_t(d.is_pointwise() ? 0 : d.Kg * d.P));
    for (int64_t c = lo; c < hi; ++c) {
      T* acc = c == 0 ? dw : partial.data() + (c - 1) * wsize;
      for (int64_t n = c * kWgradChunk; n < std::min(d.N, (c + 1) * kWgradChunk); ++n)
        for (int64_t gi = 0; gi < d.groups; ++gi) {
          const T* B = col.data();  // col^T: element (p, k) at B[k * rsb + p]
          int64_t rsb = d.P;
          if (xd) {
            const Planes<T> xs = group_planes<T>(*xd, d, n, gi);
            B = xs.p, rsb = xs.sc;
          } else {
            im2col(group_planes<T>(x, n, gi, d.Cg), d, col.data());
          }
          const T* A = dy.p + n * dy.s0 + gi * d.OCg * dy.s1;
          const T beta = n == c * kWgradChunk ? T(0) : T(1);
          gemm<T>(d.OCg, d.Kg, d.P, T(1), A, dy.s1, 1, B, 1, rsb, beta, acc + gi * d.OCg * d.Kg, d.Kg, 1);
        }
    }
  });
  for (int64_t c = 1; c < chunks; ++c) {
    const T* src = partial.data() + (c - 1) * wsize;
    for (int64_t i = 0; i < wsize; ++i) dw[i] += src[i];
  }
}

template <template <typename> class Fn>
void by_dtype(const Tensor& out, std::span<const Tensor> in, const Attrs& attrs) {
  if (out.dtype() == DType::Float64) Fn<double>::run(in, out, attrs);
  else Fn<float>::run(in, out, attrs);
}
// Eager's conv2d: the forward with the bias alone as its epilogue.
template <typename T> struct Forward {
  static void run(std::span<const Tensor> i, const Tensor& o, const Attrs& a) {
    ConvEpilogue bias_only;
    if (i.size() == 3) bias_only.bias = i[2];
    conv_forward<T>(i[0], i[1], bias_only, o, a);
  }
};
template <typename T> struct InputGrad { static void run(std::span<const Tensor> i, const Tensor& o, const Attrs& a) { conv_input_grad<T>(i, o, a); } };
template <typename T> struct WeightGrad { static void run(std::span<const Tensor> i, const Tensor& o, const Attrs& a) { conv_weight_grad<T>(i, o, a); } };

}  // namespace

// The entry kernels: the backend DUET_CONV / set_conv_backend selects (conv_backend.h),
// else duet's own.
void conv2d_kernel(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  if (conv_on_selected_backend(ConvPass::Forward, inputs, out, attrs)) return;
  by_dtype<Forward>(out, inputs, attrs);
}
void conv2d_input_grad_kernel(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  if (conv_on_selected_backend(ConvPass::InputGrad, inputs, out, attrs)) return;
  by_dtype<InputGrad>(out, inputs, attrs);
}
void conv2d_weight_grad_kernel(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  if (conv_on_selected_backend(ConvPass::WeightGrad, inputs, out, attrs)) return;
  by_dtype<WeightGrad>(out, inputs, attrs);
}

}  // namespace duet::cpu
