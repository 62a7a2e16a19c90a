// CUDA kernels of the fused attention ops (core/ops.def: attention, attention_backward),
// with the CPU kernels' semantics (kernels/cpu/attention.cpp): no L x S score matrix in
// memory. v1, written for correctness first, arithmetic in double:
//   attention:          a block per query row: each thread folds its keys' scores into a
//                       running (max, sum of e^{s - max}), the block combines them in a fixed
//                       order; then the keys in chunks of kThreads, each chunk's weights in
//                       shared memory and each thread summing weight * v for its output dims;
//                       the row's log-sum-exp is stored after the output (the op's flat
//                       result, core/ops.def);
//   attention_backward: a block per query row for D = rowsum(dout out) - dlse (scratch),
//                       a block per query row for dq, and a block per key row for dk and dv,
//                       summing over the query rows that see that key, P from the stored
//                       log-sum-exp: no atomics, so the results are the same on every run.
// Head dims (E, Ev) up to kMaxDims * kThreads = 1024: each thread keeps at most kMaxDims
// accumulators. Work per row is O(S (E + Ev)), scores recomputed where needed; nothing
// is tiled through shared memory beyond one chunk of weights. Figures: not yet measured on
// a GPU.
#include <cmath>

#include "core/error.h"
#include "core/functions.h"
#include "core/ops/attention_geometry.h"
#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/nchw.cuh"
#include "kernels/cuda/registration.h"

namespace duet::cuda {
namespace {

constexpr int kMaxDims = 4;  // accumulators per thread: head dims up to 4 * kThreads

using Geo = AttentionGeometry;

// duet's tensor functions (min, exp, log) share these names: device code calls ::.
__device__ inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }

template <typename T>
__device__ inline double dot(const T* a, const T* b, int64_t n) {
  double s = 0;
  for (int64_t e = 0; e < n; ++e) s += double(a[e]) * double(b[e]);
  return s;
}

__device__ inline double block_max_all(double v) {
  constexpr unsigned kAllLanes = 0xffffffffu;
  __shared__ double warp_max[kThreads / 32];
  __shared__ double total;
  for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_xor_sync(kAllLanes, v, o));
  if (threadIdx.x % 32 == 0) warp_max[threadIdx.x / 32] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    double t = warp_max[0];
    for (int w = 1; w < kThreads / 32; ++w) t = fmax(t, warp_max[w]);
    total = t;
  }
  __syncthreads();
  const double r = total;
  __syncthreads();
  return r;
}

// The log-sum-exp of query row i's visible scores (every thread gets it).
template <typename T>
__device__ double row_lse(const Geo& g, const T* qi, const T* kb, int64_t i) {
  const int64_t keys = g.visible_keys(i);
  double m = -INFINITY, l = 0;
  for (int64_t j = threadIdx.x; j < keys; j += blockDim.x) {
    const double s = g.scale * dot(qi, kb + j * g.E, g.E);
    if (s > m) {
      l = l * ::exp(m - s) + 1;
      m = s;
    } else {
      l += ::exp(s - m);
    }
  }
  const double mx = block_max_all(m);
  const double sum = block_sum_all(m == -INFINITY ? 0.0 : l * ::exp(m - mx));
  return sum > 0 ? mx + ::log(sum) : -INFINITY;
}

template <typename T>
__global__ void forward_kernel(Geo g, const T* q, const T* k, const T* v, T* out, T* lse_out) {
  __shared__ double p[kThreads];
  for (int64_t row = blockIdx.x; row < g.batch * g.L; row += gridDim.x) {
    const int64_t b = row / g.L, i = row % g.L;
    const T* qi = q + row * g.E;
    const T *kb = k + b * g.S * g.E, *vb = v + b * g.S * g.Ev;
    const double lse = row_lse(g, qi, kb, i);
    double acc[kMaxDims] = {};
    const int64_t keys = g.visible_keys(i);
    for (int64_t j0 = 0; j0 < keys; j0 += kThreads) {
      const int64_t j = j0 + threadIdx.x;
      p[threadIdx.x] = j < keys && lse != -INFINITY ? ::exp(g.scale * dot(qi, kb + j * g.E, g.E) - lse) : 0.0;
      __syncthreads();
      const int64_t n = imin(kThreads, keys - j0);
      for (int d = 0; d < kMaxDims; ++d) {
        const int64_t e = threadIdx.x + int64_t(d) * kThreads;
        if (e >= g.Ev) break;
        for (int64_t c = 0; c < n; ++c) acc[d] += p[c] * double(vb[(j0 + c) * g.Ev + e]);
      }
      __syncthreads();
    }
    for (int d = 0; d < kMaxDims; ++d) {
      const int64_t e = threadIdx.x + int64_t(d) * kThreads;
      if (e < g.Ev) out[row * g.Ev + e] = T(acc[d]);
    }
    if (threadIdx.x == 0) lse_out[row] = T(lse);
  }
}

// Per query row: D = rowsum(dout * out) - dlse (dlse: the output gradient's tail).
template <typename T>
__global__ void stats_kernel(Geo g, const T* dout, const T* o, double* dsum) {
  const int64_t rows = g.batch * g.L, n_out = rows * g.Ev;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    double part = 0;
    for (int64_t e = threadIdx.x; e < g.Ev; e += blockDim.x) part += double(dout[row * g.Ev + e]) * double(o[row * g.Ev + e]);
    const double d = block_sum_all(part);
    if (threadIdx.x == 0) dsum[row] = d - double(dout[n_out + row]);
  }
}

// dS(i, j) = P (dP - D) scale, with P = e^{s - lse}, dP = dout_i . v_j.
template <typename T>
__device__ inline void p_and_ds(const Geo& g, const T* qi, const T* kj, const T* di, const T* vj, double lse,
                                double dsum, double& p, double& ds) {
  p = lse == -INFINITY ? 0.0 : ::exp(g.scale * dot(qi, kj, g.E) - lse);
  ds = p * (dot(di, vj, g.Ev) - dsum) * g.scale;
}

template <typename T>
__global__ void dq_kernel(Geo g, const T* dout, const T* q, const T* k, const T* v, const T* lse,
                          const double* dsum, T* dq) {
  __shared__ double ds_chunk[kThreads];
  for (int64_t row = blockIdx.x; row < g.batch * g.L; row += gridDim.x) {
    const int64_t b = row / g.L, i = row % g.L;
    const T *kb = k + b * g.S * g.E, *vb = v + b * g.S * g.Ev;
    double acc[kMaxDims] = {};
    const int64_t keys = g.visible_keys(i);
    for (int64_t j0 = 0; j0 < keys; j0 += kThreads) {
      const int64_t j = j0 + threadIdx.x;
      double p = 0, ds = 0;
      if (j < keys) p_and_ds(g, q + row * g.E, kb + j * g.E, dout + row * g.Ev, vb + j * g.Ev, double(lse[row]), dsum[row], p, ds);
      ds_chunk[threadIdx.x] = ds;
      __syncthreads();
      const int64_t n = imin(kThreads, keys - j0);
      for (int d = 0; d < kMaxDims; ++d) {
        const int64_t e = threadIdx.x + int64_t(d) * kThreads;
        if (e >= g.E) break;
        for (int64_t c = 0; c < n; ++c) acc[d] += ds_chunk[c] * double(kb[(j0 + c) * g.E + e]);
      }
      __syncthreads();
    }
    for (int d = 0; d < kMaxDims; ++d) {
      const int64_t e = threadIdx.x + int64_t(d) * kThreads;
      if (e < g.E) dq[row * g.E + e] = T(acc[d]);
    }
  }
}

template <typename T>
__global__ void dkdv_kernel(Geo g, const T* dout, const T* q, const T* k, const T* v, const T* lse,
                            const double* dsum, T* dk, T* dv) {
  __shared__ double p_chunk[kThreads], ds_chunk[kThreads];
  for (int64_t key = blockIdx.x; key < g.batch * g.S; key += gridDim.x) {
    const int64_t b = key / g.S, j = key % g.S;
    const T *qb = q + b * g.L * g.E, *db = dout + b * g.L * g.Ev;
    double acc_k[kMaxDims] = {}, acc_v[kMaxDims] = {};
    const int64_t first = g.causal ? j : 0;  // the query rows that see key j
    for (int64_t i0 = first; i0 < g.L; i0 += kThreads) {
      const int64_t i = i0 + threadIdx.x;
      double p = 0, ds = 0;
      if (i < g.L)
        p_and_ds(g, qb + i * g.E, k + key * g.E, db + i * g.Ev, v + key * g.Ev, double(lse[b * g.L + i]), dsum[b * g.L + i], p, ds);
      p_chunk[threadIdx.x] = p;
      ds_chunk[threadIdx.x] = ds;
      __syncthreads();
      const int64_t n = imin(kThreads, g.L - i0);
      for (int d = 0; d < kMaxDims; ++d) {
        const int64_t e = threadIdx.x + int64_t(d) * kThreads;
        for (int64_t c = 0; c < n && e < g.Ev; ++c) acc_v[d] += p_chunk[c] * double(db[(i0 + c) * g.Ev + e]);
        for (int64_t c = 0; c < n && e < g.E; ++c) acc_k[d] += ds_chunk[c] * double(qb[(i0 + c) * g.E + e]);
      }
      __syncthreads();
    }
    for (int d = 0; d < kMaxDims; ++d) {
      const int64_t e = threadIdx.x + int64_t(d) * kThreads;
      if (e < g.E) dk[key * g.E + e] = T(acc_k[d]);
      if (e < g.Ev) dv[key * g.Ev + e] = T(acc_v[d]);
    }
  }
}

Tensor dense(const Tensor& t) { return t.is_contiguous() ? t : t.contiguous(); }

Geo geo_of(const Tensor& q, const Tensor& v, const Attrs& attrs, const char* op) {
  const Geo g = attention_geometry(q, v, attrs);
  DUET_CHECK(g.E <= kMaxDims * kThreads && g.Ev <= kMaxDims * kThreads, op, ": the CUDA kernels take head dims up ",
             "to ", kMaxDims * kThreads, ", got E = ", g.E, " and Ev = ", g.Ev);
  return g;
}

int rows_grid(int64_t rows) { return int(std::max<int64_t>(1, std::min<int64_t>(rows, int64_t(1) << 20))); }

void attention_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  if (out.numel() == 0) return;
  DeviceGuard guard(out.device().index);
  const Tensor q = dense(in[0]), k = dense(in[1]), v = dense(in[2]);
  const Geo g = geo_of(q, v, attrs, "attention");
  visit_conv_dtype(out.dtype(), [&]<typename T>() {
    forward_kernel<T><<<rows_grid(g.batch * g.L), kThreads, 0, current_stream()>>>(
        g, q.data<T>(), k.data<T>(), v.data<T>(), out.data<T>(), out.data<T>() + g.batch * g.L * g.Ev);
  });
  DUET_CUDA_CHECK_LAUNCH();
}

void attention_backward_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  if (out.numel() == 0) return;
  DeviceGuard guard(out.device().index);
  const Tensor dout = dense(in[0]), q = dense(in[1]), k = dense(in[2]), v = dense(in[3]), o = dense(in[4]);
  const Geo g = geo_of(q, v, attrs, "attention_backward");
  const int64_t rows = g.batch * g.L;
  const Tensor stats = empty({std::max<int64_t>(1, rows)}, {DType::Float64, out.device()});
  double* dsum = static_cast<double*>(stats.data_ptr());
  visit_conv_dtype(out.dtype(), [&]<typename T>() {
    const T* lse = o.data<T>() + rows * g.Ev;  // the forward output's tail
    T* dq = out.data<T>();
    T* dk = dq + q.numel();
    T* dv = dk + k.numel();
    if (rows > 0) {
      stats_kernel<T><<<rows_grid(rows), kThreads, 0, current_stream()>>>(g, dout.data<T>(), o.data<T>(), dsum);
      dq_kernel<T><<<rows_grid(rows), kThreads, 0, current_stream()>>>(g, dout.data<T>(), q.data<T>(), k.data<T>(),
                                                                        v.data<T>(), lse, dsum, dq);
    }
    if (g.batch * g.S > 0)
      dkdv_kernel<T><<<rows_grid(g.batch * g.S), kThreads, 0, current_stream()>>>(
          g, dout.data<T>(), q.data<T>(), k.data<T>(), v.data<T>(), lse, dsum, dk, dv);
  });
  DUET_CUDA_CHECK_LAUNCH();
}

}  // namespace

void register_attention_kernels() {
  register_kernel(OpKind::attention, DeviceType::CUDA, attention_cuda);
  register_kernel(OpKind::attention_backward, DeviceType::CUDA, attention_backward_cuda);
}

}  // namespace duet::cuda
