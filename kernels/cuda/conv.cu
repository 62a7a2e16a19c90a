// CUDA kernels of conv2d and its two gradients (NCHW, float32/float64), with the
// semantics of kernels/cpu/conv.cpp (geometry in core/ops/conv_geometry.h, validated by
// core/ops/conv.cpp). Inputs are read through their strides (nchw.cuh); results are
// contiguous. Per group g, with Kg = C/groups * KH * KW and col() the im2col matrix:
//   forward  out[g] (OCg x N*OH*OW) = W[g] (OCg x Kg) @ col(x)[g] (Kg x N*OH*OW), + bias
//   dgrad    dx[n, c, h, w] = sum over the taps (oc, i, j) whose output reads (h, w)
//   wgrad    dW[oc, c, i, j] = sum over n, oh, ow of dy[n, oc, oh, ow] * x[n, c, ih, iw]
// DUET_CONV=cudnn (kernels/cpu/conv_backend.h) sends the three entry points to cuDNN
// instead (cudnn_conv.h). The forward kernels store through a ConvEpilogueArgs
// (epilogue.cuh): eager's conv2d adds the bias there, graph mode's fused conv nodes
// (fused_kernels.h conv2d_forward_with_epilogue) also an eval-mode batch norm and a ReLU.
// Accumulation: float for float32 (as the CPU's GEMM), double for float64. Every output
// element is summed by one thread (or one fixed-shape block) in a fixed order: no atomics,
// so results do not depend on scheduling, and two runs give the same bits.
//
// Kernels (v1):
//   conv2d_tiled_kernel       implicit GEMM for OCg >= 32: 64 output channels x 64 output
//                             pixels per block of 256 threads, 4 x 4 outputs per thread,
//                             K in steps of 16 through shared memory. col(x) is never
//                             formed: each step's 16 (c, i, j) taps are decoded once into
//                             a small shared table of offsets, and each thread gathers its
//                             pixel's column from x (zeros in the padding).
//   conv2d_direct_kernel      OCg < 32 (depthwise, small grouped convs), where a 64-row
//                             tile would idle most of its threads: one thread per output,
//                             a loop over (c, i, j) of its group.
//   conv2d_input_grad_kernel  a gather: one thread per dx element, looping over the taps
//                             (i, j) that land on it with a whole stride and, for each, the
//                             group's output channels. Nothing is scattered.
//   conv2d_weight_grad_kernel one block of 256 per weight element, its threads striding
//                             over N*OH*OW, then a warp-shuffle + shared-memory sum in a
//                             fixed order. 32-bit index math when N*OH*OW fits.
//
// A faster version would (v2): double-buffer the tiles and load float4 runs when x's rows
// are contiguous; give the dgrad the forward's implicit GEMM over W[g]^T with stride-phase
// decomposition (one GEMM per (h % sh, w % sw) class, so no tap is tested and skipped);
// and compute the wgrad as the GEMM dy[g] (OCg x N*OH*OW) @ col(x)[g]^T split over
// N*OH*OW into a fixed number of chunks whose partial sums a second kernel adds in chunk
// order (deterministic like this one, but reading each x element once per tile instead of
// once per weight element). Tensor cores (TF32) are left out on purpose: the CPU does not
// round to TF32, and results must agree with it.
//
// Figures: not yet measured (no GPU has run these kernels; the `cuda` tests check them
// against the CPU and the float64 references when one is present). Before any GPU run,
// v1 passed the op table's conv/pool cases and test_cuda_conv's cases under a host
// emulation of its launches (threads as std::threads, __syncthreads as a barrier, a grid
// capped at 5 blocks so the grid-stride loops turn; a throwaway harness, not kept).
//
// ptxas (-Xptxas -v, CUDA 13), float / double: tiled 124 / 126 registers (sm_80), 128 / 128
// (sm_90), 8768 / 17024 bytes shared memory; direct 79 / 80 (sm_80), 71 / 80 (sm_90); the
// vendor backend's epilogue pass 36-38; dgrad 47-48; wgrad 38-42 and 32 / 64 bytes shared
// memory; no spills, no stack frame in any of the twelve kernels. (The store epilogue with
// its batch norm took the tiled kernel from 93 / 128 and 98 / 128 registers; at 256
// threads a block and <= 128 registers, its blocks per SM stay 2.)
#include <climits>

#include "core/ops/conv_geometry.h"
#include "kernels/cuda/cudnn_conv.h"
#include "kernels/cuda/epilogue.cuh"
#include "kernels/cuda/fused_kernels.h"
#include "kernels/cuda/nchw.cuh"
#include "kernels/cuda/registration.h"

namespace duet::cuda {
namespace {

constexpr int kTileM = 64;                 // output channels per tile
constexpr int kTileP = 64;                 // output pixels (over N * OH * OW) per tile
constexpr int kTileK = 16;                 // taps (c, i, j) per step
constexpr int kTileThreads = 256;          // 16 x 16 threads, 4 x 4 outputs each
constexpr int64_t kTiledMinChannels = 32;  // output channels per group for the tiled kernel
static_assert(kTileM == 4 * 16 && kTileP == 4 * 16 && kTileThreads == kTileM * kTileK / 4 &&
                  kTileThreads == kTileP * kTileK / 4,
              "each thread loads 4 weights and 4 column entries per step and computes 4 x 4 outputs");


// The operands of one launch; each kernel reads the ones its op has.
template <typename T>
struct ConvArgs {
  ConvDims d;
  Nchw<const T> x, w, dy;
  ConvEpilogueArgs<T> epi;  // forward: + bias, and graph mode's fused batch norm / relu
  T* out;  // contiguous
};

// ---------------------------------------------------------------- forward

template <typename T>
__global__ void __launch_bounds__(kTileThreads) conv2d_tiled_kernel(ConvArgs<T> a) {
  __shared__ T w_tile[kTileK][kTileM + 1];  // W[g] rows m0.. as (k, m); +1 spreads the transposed stores
  __shared__ T col_tile[kTileK][kTileP];    // col(x) as (k, pixel)
  // The step's taps k0 + kk = (c, i, j): offsets into x and w, and the row and column shifts.
  __shared__ int64_t tap_x[kTileK], tap_w[kTileK], tap_dh[kTileK], tap_dw[kTileK];
  const ConvDims& d = a.d;
  const Window2d& g = d.g;
  const int t = threadIdx.x, tx = t % 16, ty = t / 16;
  const int64_t P = d.OH * d.OW, NP = d.N * P, khw = g.kh * g.kw;
  const int64_t m_tiles = (d.OCg + kTileM - 1) / kTileM, p_tiles = (NP + kTileP - 1) / kTileP;
  for (int64_t pt = blockIdx.x; pt < p_tiles; pt += gridDim.x) {
    // The pixel whose column this thread loads, the same at every step: (n, oh, ow).
    const int64_t p = pt * kTileP + t % kTileP;
    const bool p_valid = p < NP;
    const int64_t n = p_valid ? p / P : 0, q = p_valid ? p % P : 0;
    const int64_t ih0 = (q / d.OW) * g.sh - g.ph, iw0 = (q % d.OW) * g.sw - g.pw;
    for (int64_t mt = blockIdx.y; mt < d.groups * m_tiles; mt += gridDim.y) {
      const int64_t gi = mt / m_tiles, m0 = (mt % m_tiles) * kTileM;
      // Where tap (0, 0, 0) of this pixel would read: x[n, gi * Cg, ih0, iw0] (maybe padding).
      const int64_t x_base = a.x.offset(n, gi * d.Cg, ih0, iw0);
      T acc[4][4] = {};
      for (int64_t k0 = 0; k0 < d.Kg; k0 += kTileK) {
        const int64_t k_count = d.Kg - k0 < kTileK ? d.Kg - k0 : kTileK;
        if (t < k_count) {
          const int64_t k = k0 + t, c = k / khw, i = (k % khw) / g.kw, j = k % g.kw;
          tap_dh[t] = i * g.dh;
          tap_dw[t] = j * g.dw;
          tap_x[t] = c * a.x.sc + i * g.dh * a.x.sh + j * g.dw * a.x.sw;
          tap_w[t] = c * a.w.sc + i * a.w.sh + j * a.w.sw;
        }
        __syncthreads();
        {
          const int kk = t % kTileK;
          for (int r = 0; r < 4; ++r) {
            const int m = t / kTileK + 16 * r;
            const bool valid = kk < k_count && m0 + m < d.OCg;
            w_tile[kk][m] = valid ? a.w.p[(gi * d.OCg + m0 + m) * a.w.sn + tap_w[kk]] : T(0);
          }
        }
        for (int r = 0; r < 4; ++r) {
          const int kk = t / kTileP + 4 * r;
          T v = 0;
          if (p_valid && kk < k_count) {
            const int64_t ih = ih0 + tap_dh[kk], iw = iw0 + tap_dw[kk];
            if (ih >= 0 && ih < d.H && iw >= 0 && iw < d.W) v = a.x.p[x_base + tap_x[kk]];
          }
          col_tile[kk][t % kTileP] = v;
        }
        __syncthreads();
        DUET_UNROLL
        for (int kk = 0; kk < kTileK; ++kk) {  // taps past k_count are zero in both tiles
          T wv[4], cv[4];
          DUET_UNROLL
          for (int r = 0; r < 4; ++r) wv[r] = w_tile[kk][ty + 16 * r], cv[r] = col_tile[kk][tx + 16 * r];
          DUET_UNROLL
          for (int r = 0; r < 4; ++r) {
            DUET_UNROLL
            for (int s = 0; s < 4; ++s) acc[r][s] += wv[r] * cv[s];
          }
        }
        __syncthreads();  // the tiles and taps are rewritten by the next step
      }
      for (int r = 0; r < 4; ++r) {
        const int64_t m = m0 + ty + 16 * r;
        if (m >= d.OCg) continue;
        const int64_t oc = gi * d.OCg + m;
        const auto channel = a.epi.channel(oc);
        for (int s = 0; s < 4; ++s) {
          const int64_t po = pt * kTileP + tx + 16 * s;
          if (po >= NP) continue;
          a.out[((po / P) * d.OC + oc) * P + po % P] = a.epi.apply(acc[r][s], channel);
        }
      }
    }
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads) conv2d_direct_kernel(ConvArgs<T> a) {
  const ConvDims& d = a.d;
  const Window2d& g = d.g;
  DUET_CUDA_KERNEL_LOOP(o, d.N * d.OC * d.OH * d.OW) {
    const NchwIndex p = nchw_index(o, d.OC, d.OH, d.OW);  // (n, oc, oh, ow)
    const int64_t n = p.n, oc = p.c, c0 = (oc / d.OCg) * d.Cg;
    const int64_t ih0 = p.h * g.sh - g.ph, iw0 = p.w * g.sw - g.pw;
    // Offsets of tap (c, i, j) = (0, 0, 0); each loop level adds its own step.
    const int64_t x0 = a.x.offset(n, c0, ih0, iw0), w0 = a.w.offset(oc, 0, 0, 0);
    const int64_t xi = g.dh * a.x.sh, xj = g.dw * a.x.sw;
    T acc = 0;
    for (int64_t c = 0; c < d.Cg; ++c)
      for (int64_t i = 0; i < g.kh; ++i) {
        if (ih0 + i * g.dh < 0 || ih0 + i * g.dh >= d.H) continue;
        const int64_t xr = x0 + c * a.x.sc + i * xi, wr = w0 + c * a.w.sc + i * a.w.sh;
        for (int64_t j = 0; j < g.kw; ++j) {
          const int64_t iw = iw0 + j * g.dw;
          if (iw < 0 || iw >= d.W) continue;
          acc += a.w.p[wr + j * a.w.sw] * a.x.p[xr + j * xj];
        }
      }
    a.out[o] = a.epi.apply(acc, oc);
  }
}

// ---------------------------------------------------------------- input gradient

template <typename T>
__global__ void __launch_bounds__(kThreads) conv2d_input_grad_kernel(ConvArgs<T> a) {
  const ConvDims& d = a.d;
  const Window2d& g = d.g;
  DUET_CUDA_KERNEL_LOOP(e, d.N * d.C * d.H * d.W) {
    const auto [n, c, h, w] = nchw_index(e, d.C, d.H, d.W);
    const int64_t oc0 = (c / d.Cg) * d.OCg, cl = c % d.Cg;
    T acc = 0;
    // Tap (i, j) of output (oh, ow) reads (h, w) when oh * sh - ph + i * dh == h.
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t th = h + g.ph - i * g.dh;  // decreases with i
      if (th < 0) break;
      if (th % g.sh != 0 || th / g.sh >= d.OH) continue;
      const int64_t oh = th / g.sh;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t tw = w + g.pw - j * g.dw;
        if (tw < 0) break;
        if (tw % g.sw != 0 || tw / g.sw >= d.OW) continue;
        const int64_t dy_off = a.dy.offset(n, oc0, oh, tw / g.sw), w_off = a.w.offset(oc0, cl, i, j);
        for (int64_t oc = 0; oc < d.OCg; ++oc) acc += a.dy.p[dy_off + oc * a.dy.sc] * a.w.p[w_off + oc * a.w.sn];
      }
    }
    a.out[e] = acc;
  }
}

// ---------------------------------------------------------------- weight gradient

// The sum of v over the block (kThreads threads), in thread 0: shuffles within each warp,
// then the warps' sums in warp order. Every thread must call it; ends with a barrier so
// `warp_sums` can be reused at once.
template <typename T>
__device__ inline T block_sum(T v, T* warp_sums) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = v;
  __syncthreads();
  T s = 0;
  if (threadIdx.x == 0)
    for (int k = 0; k < kThreads / 32; ++k) s += warp_sums[k];
  __syncthreads();
  return s;
}

// I: the type of the (n, oh, ow) index math, uint32_t when N * OH * OW <= INT32_MAX.
template <typename T, typename I>
__global__ void __launch_bounds__(kThreads) conv2d_weight_grad_kernel(ConvArgs<T> a) {
  __shared__ T warp_sums[kThreads / 32];
  const ConvDims& d = a.d;
  const Window2d& g = d.g;
  const int64_t khw = g.kh * g.kw;
  const I P = I(d.OH * d.OW), NP = I(d.N * d.OH * d.OW), OW = I(d.OW);
  for (int64_t e = blockIdx.x; e < d.OC * d.Kg; e += gridDim.x) {  // e: (oc, c, i, j), row-major
    const int64_t oc = e / d.Kg, k = e % d.Kg;
    const int64_t c = (oc / d.OCg) * d.Cg + k / khw, i = (k % khw) / g.kw, j = k % g.kw;
    const int64_t dh = i * g.dh - g.ph, dw = j * g.dw - g.pw;  // ih = oh * sh + dh
    T acc = 0;
    for (I q = threadIdx.x; q < NP; q += kThreads) {
      const I n = q / P, r = q % P, oh = r / OW, ow = r % OW;
      const int64_t ih = int64_t(oh) * g.sh + dh, iw = int64_t(ow) * g.sw + dw;
      if (ih < 0 || ih >= d.H || iw < 0 || iw >= d.W) continue;
      acc += a.dy.at(n, oc, oh, ow) * a.x.at(n, c, ih, iw);
    }
    const T sum = block_sum(acc, warp_sums);
    if (threadIdx.x == 0) a.out[e] = sum;
  }
}

// ---------------------------------------------------------------- launches

template <typename T>
ConvArgs<T> conv_args(const ConvDims& d, const Tensor& out) {
  DUET_ASSERT(out.is_contiguous(), "convolution kernels write a contiguous result");
  ConvArgs<T> a{};
  a.d = d;
  a.out = out.data<T>();
  return a;
}

bool on_cudnn() { return get_conv_backend() == ConvBackend::Cudnn; }

// out = epilogue(conv2d(x, w)) on duet's kernels.
template <typename T>
void launch_forward(const Tensor& x, const Tensor& w, const ConvEpilogueArgs<T>& epi, const Tensor& out,
                    const Attrs& attrs) {
  const ConvDims d = conv_dims(x.sizes(), w.sizes(), attrs);
  ConvArgs<T> a = conv_args<T>(d, out);
  a.x = make_nchw<const T>(x);
  a.w = make_nchw<const T>(w);
  a.epi = epi;
  if (d.OCg >= kTiledMinChannels) {
    const int64_t p_tiles = (d.N * d.OH * d.OW + kTileP - 1) / kTileP;
    const int64_t m_tiles = d.groups * ((d.OCg + kTileM - 1) / kTileM);
    const dim3 grid(unsigned(std::min<int64_t>(p_tiles, INT_MAX)), unsigned(std::min<int64_t>(m_tiles, 65535)));
    conv2d_tiled_kernel<T><<<grid, kTileThreads, 0, current_stream()>>>(a);
  } else {
    conv2d_direct_kernel<T><<<grid_for(out.numel()), kThreads, 0, current_stream()>>>(a);
  }
  DUET_CUDA_CHECK_LAUNCH();
}

// The epilogue past the bias, in place over a contiguous [N, OC, OH, OW] out: a fused
// conv's second pass where cuDNN computed the conv (Note [Epilogues on a vendor backend]
// in kernels/cpu/conv.cpp).
template <typename T>
__global__ void epilogue_pass_kernel(ConvEpilogueArgs<T> epi, T* out, int64_t total, int64_t OC, int64_t P) {
  DUET_CUDA_KERNEL_LOOP(e, total) out[e] = epi.apply(out[e], (e / P) % OC);
}

template <typename T>
ConvEpilogueArgs<T> epilogue_args(const cpu::ConvEpilogue& e) {
  ConvEpilogueArgs<T> a;
  if (e.bias.defined()) {
    a.bias = static_cast<const T*>(e.bias.data_ptr());
    a.bias_stride = e.bias.stride(0);
  }
  if (e.batch_norm) {
    a.batch_norm = true;
    a.bn = batch_norm_params<T>(e.batch_norm->mean, e.batch_norm->var, e.batch_norm->weight, e.batch_norm->bias,
                                e.batch_norm->eps);
  }
  a.relu = e.relu;
  return a;
}

void forward(const Tensor& x, const Tensor& w, const cpu::ConvEpilogue& epilogue, const Tensor& out,
             const Attrs& attrs) {
  if (out.numel() == 0) return;
  DeviceGuard guard(out.device().index);
  if (on_cudnn()) {
    std::vector<Tensor> eager_inputs{x, w};
    if (epilogue.bias.defined()) eager_inputs.push_back(epilogue.bias);
    cudnn_conv(cpu::ConvPass::Forward, eager_inputs, out, attrs);
    if (!epilogue.batch_norm && !epilogue.relu) return;
    visit_conv_dtype(out.dtype(), [&]<typename T>() {
      ConvEpilogueArgs<T> rest = epilogue_args<T>(epilogue);
      rest.bias = nullptr;  // cuDNN added it
      const int64_t P = out.size(2) * out.size(3);
      epilogue_pass_kernel<T><<<grid_for(out.numel()), kThreads, 0, current_stream()>>>(rest, out.data<T>(),
                                                                                         out.numel(), out.size(1), P);
      DUET_CUDA_CHECK_LAUNCH();
    });
    return;
  }
  visit_conv_dtype(out.dtype(), [&]<typename T>() { launch_forward<T>(x, w, epilogue_args<T>(epilogue), out, attrs); });
}

void conv2d_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  cpu::ConvEpilogue bias_only;
  if (in.size() == 3) bias_only.bias = in[2];
  forward(in[0], in[1], bias_only, out, attrs);
}

void conv2d_input_grad_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  if (out.numel() == 0) return;
  if (on_cudnn()) return cudnn_conv(cpu::ConvPass::InputGrad, in, out, attrs);
  const ConvDims d = conv_dims(attrs.get<std::vector<int64_t>>("input_shape"), in[1].sizes(), attrs);
  DeviceGuard guard(out.device().index);
  visit_conv_dtype(out.dtype(), [&]<typename T>() {
    ConvArgs<T> a = conv_args<T>(d, out);
    a.dy = make_nchw<const T>(in[0]);
    a.w = make_nchw<const T>(in[1]);
    conv2d_input_grad_kernel<T><<<grid_for(out.numel()), kThreads, 0, current_stream()>>>(a);
    DUET_CUDA_CHECK_LAUNCH();
  });
}

void conv2d_weight_grad_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  if (out.numel() == 0) return;
  if (on_cudnn()) return cudnn_conv(cpu::ConvPass::WeightGrad, in, out, attrs);
  const ConvDims d = conv_dims(in[1].sizes(), attrs.get<std::vector<int64_t>>("weight_shape"), attrs);
  DeviceGuard guard(out.device().index);
  visit_conv_dtype(out.dtype(), [&]<typename T>() {
    ConvArgs<T> a = conv_args<T>(d, out);
    a.dy = make_nchw<const T>(in[0]);
    a.x = make_nchw<const T>(in[1]);
    const int grid = grid_for(out.numel() * kThreads);  // one block per weight element, looping past the cap
    if (d.N * d.OH * d.OW <= INT32_MAX)
      conv2d_weight_grad_kernel<T, uint32_t><<<grid, kThreads, 0, current_stream()>>>(a);
    else
      conv2d_weight_grad_kernel<T, int64_t><<<grid, kThreads, 0, current_stream()>>>(a);
    DUET_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

void conv2d_forward_with_epilogue(const Tensor& x, const Tensor& w, const cpu::ConvEpilogue& epilogue,
                                  const Tensor& out, const Attrs& attrs) {
  forward(x, w, epilogue, out, attrs);
}

void register_conv_kernels() {
  register_kernel(OpKind::conv2d, DeviceType::CUDA, conv2d_cuda);
  register_kernel(OpKind::conv2d_input_grad, DeviceType::CUDA, conv2d_input_grad_cuda);
  register_kernel(OpKind::conv2d_weight_grad, DeviceType::CUDA, conv2d_weight_grad_cuda);
}

}  // namespace duet::cuda
