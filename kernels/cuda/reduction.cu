// CUDA kernels of the reductions: sum, mean, prod, amax, amin, var, std, argmax, argmin,
// with the semantics of kernels/cpu/reduction.cpp: sum/prod of integers and bool give
// int64 (wrapping), floating sums, means, products and var/std accumulate in double
// (var/std two-pass: the means, then squared deviations over max(0, N - correction)),
// amax/amin propagate NaN, argmax/argmin return the first NaN if there is one, else the
// first index of the extreme value. Empty reductions give what the CPU gives: sum 0,
// prod 1, mean/var/std NaN (amax/amin/arg* of empty dims are rejected by the shape
// functions).
//
// Layout: the host plan is the CPU's (make_reduce_plan: kept dims x reduced dims, each
// coalesced; arg-reductions keep the logical order of the reduced dims), then one of
//   rows     a group of threads per output walks its reduced elements: 1..32 lanes of a
//            warp for N < 2048 (N <= 2 per lane picks fewer lanes, so short rows do not
//            idle a whole warp), the whole block (256) from N = 2048 on; float4 loads when
//            the input is float32 with one unit-stride reduced dim and 16-byte aligned rows;
//   columns  the innermost kept dim has unit stride and the reduced dims do not (sum over
//            dim 0 of (B, N)): cw = min(32, L) adjacent outputs per block, the other
//            256 / cw threads split the reduction, combined in shared memory; loads are
//            coalesced across the adjacent outputs;
//   split    few groups with a long reduction (sum of everything): each group's range is
//            cut into S fixed chunks, one block each, whose partials a second kernel
//            combines per output (one warp each). S and the chunk depend on the shape
//            only, never on the device, so results do not depend on the GPU model.
// Accumulators combine in a fixed tree (warp shuffles, then shared memory), so results
// depend on the shape only; argmax/argmin combine with an order-free rule (NaN first,
// then the extreme value, then the smaller index) that equals the CPU's sequential scan.
// (amax/amin of equal values +0 and -0 may return either zero; the CPU keeps the first.)
// Input dtypes are read at run time (dev::load_as), so each policy is instantiated once
// per accumulator type, not per dtype. Double accumulation costs nothing on sm_80/sm_90
// (memory-bound); it would be slow on GPUs with 1/64-rate FP64, chosen for CPU parity.
// Figures: not yet measured on a GPU (bench/bench_cuda_bandwidth.cpp measures sum).
#include <cmath>
#include <limits>
#include <memory>

#include "core/storage.h"
#include "kernels/cuda/reduction_common.cuh"
#include "kernels/cuda/registration.h"

namespace duet::cuda {
namespace {

using red::Dims;

constexpr int kRedThreads = 256;
constexpr int kRedWarps = kRedThreads / 32;
// N from which a whole block serves one output (below: up to one warp).
constexpr int64_t kBlockRowMin = 2048;
// Splitting: groups below kSplitFewGroups with at least 2 * kSplitChunk reduced elements
// (times cw for column tiles) get about kSplitTargetGroups blocks in all.
constexpr int64_t kSplitChunk = 16384;
constexpr int64_t kSplitFewGroups = 512;
constexpr int64_t kSplitTargetGroups = 2048;

__device__ inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

struct RedArgs {
  const void* x;
  DType xdt;
  void* out;
  DType odt;
  bool vec4;        // rows: float32 input, one unit-stride reduced dim, aligned rows
  int32_t lanes;    // rows: threads per output (1..32), or kRedThreads for block rows
  int32_t cw;       // columns: adjacent outputs per block (1..32)
  int32_t splits;   // S: chunks per output (1 = no split)
  int64_t M, N;     // outputs, reduced elements per output
  int64_t chunk;    // reduced elements per split chunk (a multiple of 1024 when S > 1)
  int64_t L;        // columns: size of the innermost (unit-stride) kept dim
  Dims kept, red;
  Dims outer;       // columns: kept dims without the innermost
  void* partial;    // S > 1: M * S accumulators, output-major
};

// ---------------------------------------------------------------- policies
// In: the type elements are loaded as; Acc: the accumulator; init(m) (also the identity
// of combine); step(acc, value, flat reduced index); combine(a, b); finalize writes out[m].

struct SumF {
  using In = double;
  using Acc = double;
  __device__ Acc init(int64_t) const { return 0.0; }
  __device__ void step(Acc& a, In v, int64_t) const { a += v; }
  __device__ Acc combine(Acc a, Acc b) const { return a + b; }
  __device__ void finalize(const RedArgs& r, int64_t m, Acc a) const { dev::store_as(r.out, m, r.odt, a); }
};

// Integer and bool sums: int64, wrapping (unsigned arithmetic keeps overflow defined).
struct SumI {
  using In = int64_t;
  using Acc = unsigned long long;
  __device__ Acc init(int64_t) const { return 0ull; }
  __device__ void step(Acc& a, In v, int64_t) const { a += Acc(v); }
  __device__ Acc combine(Acc a, Acc b) const { return a + b; }
  __device__ void finalize(const RedArgs& r, int64_t m, Acc a) const { static_cast<int64_t*>(r.out)[m] = int64_t(a); }
};

struct MeanF {
  using In = double;
  using Acc = double;
  double count;
  __device__ Acc init(int64_t) const { return 0.0; }
  __device__ void step(Acc& a, In v, int64_t) const { a += v; }
  __device__ Acc combine(Acc a, Acc b) const { return a + b; }
  __device__ void finalize(const RedArgs& r, int64_t m, Acc a) const { dev::store_as(r.out, m, r.odt, a / count); }
};

struct ProdF {
  using In = double;
  using Acc = double;
  __device__ Acc init(int64_t) const { return 1.0; }
  __device__ void step(Acc& a, In v, int64_t) const { a *= v; }
  __device__ Acc combine(Acc a, Acc b) const { return a * b; }
  __device__ void finalize(const RedArgs& r, int64_t m, Acc a) const { dev::store_as(r.out, m, r.odt, a); }
};

struct ProdI {
  using In = int64_t;
  using Acc = unsigned long long;
  __device__ Acc init(int64_t) const { return 1ull; }
  __device__ void step(Acc& a, In v, int64_t) const { a *= Acc(v); }
  __device__ Acc combine(Acc a, Acc b) const { return a * b; }
  __device__ void finalize(const RedArgs& r, int64_t m, Acc a) const { static_cast<int64_t*>(r.out)[m] = int64_t(a); }
};

// amax/amin in the compute type C (float for the 16-bit floats); NaN sticks.
template <typename C, bool kMax>
struct MinMax {
  using In = C;
  using Acc = C;
  __device__ Acc init(int64_t) const {
    if constexpr (std::is_integral_v<C>) return kMax ? std::numeric_limits<C>::lowest() : std::numeric_limits<C>::max();
    else return kMax ? -std::numeric_limits<C>::infinity() : std::numeric_limits<C>::infinity();
  }
  __device__ void step(Acc& a, In v, int64_t) const {
    if constexpr (std::is_integral_v<C>) {
      if (kMax ? v > a : v < a) a = v;
    } else {
      // Once a is NaN no comparison is true, so it stays NaN (as on the CPU).
      if ((kMax ? v > a : v < a) || v != v) a = v;
    }
  }
  __device__ Acc combine(Acc a, Acc b) const {
    step(a, b, 0);
    return a;
  }
  __device__ void finalize(const RedArgs& r, int64_t m, Acc a) const { dev::store_as(r.out, m, r.odt, a); }
};

template <typename C>
struct ArgAcc {
  C v;
  int64_t idx;  // -1: no element yet
};

// argmax/argmin. The CPU scans in index order keeping the first NaN, else the first
// strict improvement; the same winner is the best under "NaN, then value, then smaller
// index", which `combine` applies in any order.
template <typename C, bool kMax>
struct Arg {
  using In = C;
  using Acc = ArgAcc<C>;
  __device__ static bool is_nan(C v) {
    if constexpr (std::is_integral_v<C>) return false;
    else return v != v;
  }
  __device__ Acc init(int64_t) const { return {C(0), -1}; }
  // Within a thread indices arrive in increasing order.
  __device__ void step(Acc& a, In v, int64_t i) const {
    bool take;
    if (a.idx < 0) take = true;
    else if (is_nan(a.v)) take = false;
    else take = is_nan(v) || (kMax ? v > a.v : v < a.v);
    if (take) a = {v, i};
  }
  __device__ Acc combine(Acc a, Acc b) const {
    if (b.idx < 0) return a;
    if (a.idx < 0) return b;
    const bool an = is_nan(a.v), bn = is_nan(b.v);
    if (an || bn) {
      if (an && bn) return a.idx < b.idx ? a : b;
      return an ? a : b;
    }
    if (a.v == b.v) return a.idx < b.idx ? a : b;
    return (kMax ? b.v > a.v : b.v < a.v) ? b : a;
  }
  __device__ void finalize(const RedArgs& r, int64_t m, Acc a) const { static_cast<int64_t*>(r.out)[m] = a.idx; }
};

struct SqDevAcc {
  double mean, ss;
};

// Second pass of var/std: squared deviations from the means of the first pass.
template <bool kStd>
struct SqDev {
  using In = double;
  using Acc = SqDevAcc;
  const double* means;
  double denom;
  __device__ Acc init(int64_t m) const { return {means[m], 0.0}; }
  __device__ void step(Acc& a, In v, int64_t) const {
    const double d = v - a.mean;
    a.ss += d * d;
  }
  __device__ Acc combine(Acc a, Acc b) const { return {a.mean, a.ss + b.ss}; }
  __device__ void finalize(const RedArgs& r, int64_t m, Acc a) const {
    const double v = a.ss / denom;  // denom 0 gives inf/NaN, as on the CPU
    dev::store_as(r.out, m, r.odt, kStd ? sqrt(v) : v);
  }
};

// ---------------------------------------------------------------- device building blocks

template <typename P>
__device__ inline void load_step(const P& p, typename P::Acc& a, const RedArgs& r, int64_t off, int64_t i) {
  p.step(a, dev::load_as<typename P::In>(r.x, off, r.xdt), i);
}

// Thread t of `lanes` accumulates reduced indices [c0, c1) of the row at `base`.
template <typename P>
__device__ inline void accumulate_row(const P& p, const RedArgs& r, typename P::Acc& a, int64_t base, int64_t c0,
                                      int64_t c1, int t, int lanes) {
  using In = typename P::In;
  if constexpr (std::is_floating_point_v<In>) {
    if (r.vec4) {
      // base and c0 are multiples of 4 and x is 16-byte aligned (checked on the host).
      const float* xf = static_cast<const float*>(r.x) + base;
      const float4* x4 = reinterpret_cast<const float4*>(xf);
      const int64_t q1 = c1 / 4;
      for (int64_t q = c0 / 4 + t; q < q1; q += lanes) {
        const float4 f = x4[q];
        p.step(a, In(f.x), 4 * q);
        p.step(a, In(f.y), 4 * q + 1);
        p.step(a, In(f.z), 4 * q + 2);
        p.step(a, In(f.w), 4 * q + 3);
      }
      for (int64_t i = 4 * q1 + t; i < c1; i += lanes) p.step(a, In(xf[i]), i);
      return;
    }
  }
  for (int64_t i = c0 + t; i < c1; i += lanes) load_step(p, a, r, base + r.red.offset(i), i);
}

// Tree over `width` lanes (a power of two <= 32); lane 0 of each width-segment gets the
// result. All 32 lanes must call it.
template <typename P>
__device__ inline typename P::Acc warp_reduce(const P& p, typename P::Acc a, int width) {
  for (int o = width / 2; o > 0; o >>= 1) a = p.combine(a, red::shfl_down_any(a, unsigned(o), width));
  return a;
}

// Whole-block tree; thread 0 gets the result. Ends with a barrier, so `smem` (kRedWarps
// accumulators) may be reused right after. Every thread of the block must call it.
template <typename P>
__device__ inline typename P::Acc block_reduce(const P& p, typename P::Acc a, typename P::Acc identity,
                                               typename P::Acc* smem) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  a = warp_reduce(p, a, 32);
  if (lane == 0) smem[warp] = a;
  __syncthreads();
  if (warp == 0) {
    a = lane < int(blockDim.x >> 5) ? smem[lane] : identity;
    a = warp_reduce(p, a, 32);
  }
  __syncthreads();
  return a;
}

// The result of group g = m * S + c: final, or a partial for reduce_partials_kernel.
template <typename P>
__device__ inline void emit(const P& p, const RedArgs& r, int64_t g, int64_t m, typename P::Acc a) {
  if (r.splits == 1) p.finalize(r, m, a);
  else static_cast<typename P::Acc*>(r.partial)[g] = a;
}

// ---------------------------------------------------------------- kernels

// Rows, `lanes` (1..32) threads per group, 32 / lanes groups per warp. The loop bound is
// the warp's first group, so all lanes of a warp run the same iterations (shuffles).
template <typename P>
__global__ void __launch_bounds__(kRedThreads) reduce_rows_warp_kernel(P p, RedArgs r) {
  using Acc = typename P::Acc;
  const int lanes = r.lanes;
  const int lane = threadIdx.x & 31;
  const int gpw = 32 / lanes;
  const int t = lane & (lanes - 1);
  const int64_t G = r.M * r.splits;
  const int64_t warps_total = int64_t(gridDim.x) * (blockDim.x >> 5);
  for (int64_t w = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; w * gpw < G; w += warps_total) {
    const int64_t g = w * gpw + lane / lanes;
    const bool valid = g < G;
    const int64_t m = valid ? g / r.splits : 0;
    Acc a = p.init(m);
    if (valid) {
      const int64_t c0 = (g % r.splits) * r.chunk;
      const int64_t c1 = min64(r.N, c0 + r.chunk);
      accumulate_row(p, r, a, r.kept.offset(m), c0, c1, t, lanes);
    }
    a = warp_reduce(p, a, lanes);
    if (valid && t == 0) emit(p, r, g, m, a);
  }
}

// Rows, one block per group.
template <typename P>
__global__ void __launch_bounds__(kRedThreads) reduce_rows_block_kernel(P p, RedArgs r) {
  using Acc = typename P::Acc;
  __shared__ __align__(16) unsigned char raw[kRedWarps * sizeof(Acc)];
  Acc* smem = reinterpret_cast<Acc*>(raw);
  const int64_t G = r.M * r.splits;
  for (int64_t g = blockIdx.x; g < G; g += gridDim.x) {
    const int64_t m = g / r.splits;
    const int64_t c0 = (g % r.splits) * r.chunk;
    const int64_t c1 = min64(r.N, c0 + r.chunk);
    const Acc identity = p.init(m);
    Acc a = identity;
    accumulate_row(p, r, a, r.kept.offset(m), c0, c1, int(threadIdx.x), int(blockDim.x));
    a = block_reduce(p, a, identity, smem);
    if (threadIdx.x == 0) emit(p, r, g, m, a);
  }
}

// Columns: a tile is cw adjacent outputs (unit stride in x) of one outer index; thread
// (ry, jx) = (tid / cw, tid % cw) accumulates output jx over reduced indices ry, ry + rys, ...
template <typename P>
__global__ void __launch_bounds__(kRedThreads) reduce_cols_kernel(P p, RedArgs r) {
  using Acc = typename P::Acc;
  __shared__ __align__(16) unsigned char raw[kRedThreads * sizeof(Acc)];
  Acc* smem = reinterpret_cast<Acc*>(raw);
  const int cw = r.cw;
  const int jx = threadIdx.x % cw, ry = threadIdx.x / cw, rys = blockDim.x / cw;
  const int64_t jchunks = (r.L + cw - 1) / cw;
  const int64_t G = (r.M / r.L) * jchunks * r.splits;
  for (int64_t g = blockIdx.x; g < G; g += gridDim.x) {
    const int64_t tile = g / r.splits, c = g % r.splits;
    const int64_t o = tile / jchunks, j = (tile % jchunks) * cw + jx;
    const bool valid = j < r.L;
    const int64_t m = o * r.L + (valid ? j : 0);
    Acc a = p.init(m);
    if (valid) {
      const int64_t base = r.outer.offset(o) + j;
      const int64_t c0 = c * r.chunk, c1 = min64(r.N, c0 + r.chunk);
      for (int64_t i = c0 + ry; i < c1; i += rys) load_step(p, a, r, base + r.red.offset(i), i);
    }
    smem[threadIdx.x] = a;
    __syncthreads();
    for (int s = rys / 2; s > 0; s >>= 1) {
      if (ry < s) smem[threadIdx.x] = p.combine(smem[threadIdx.x], smem[threadIdx.x + s * cw]);
      __syncthreads();
    }
    if (ry == 0 && valid) emit(p, r, m * r.splits + c, m, smem[jx]);
    __syncthreads();  // smem is rewritten by the next tile
  }
}

// Split second pass: one warp per output combines its S partials in a fixed order.
template <typename P>
__global__ void __launch_bounds__(kRedThreads) reduce_partials_kernel(P p, RedArgs r) {
  using Acc = typename P::Acc;
  const Acc* part = static_cast<const Acc*>(r.partial);
  const int lane = threadIdx.x & 31;
  const int64_t warps_total = int64_t(gridDim.x) * (blockDim.x >> 5);
  for (int64_t m = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; m < r.M; m += warps_total) {
    Acc a = p.init(m);
    for (int64_t s = lane; s < r.splits; s += 32) a = p.combine(a, part[m * r.splits + s]);
    a = warp_reduce(p, a, 32);
    if (lane == 0) p.finalize(r, m, a);
  }
}

// ---------------------------------------------------------------- host planning

// S and the chunk for `groups` groups of `n` reduced elements, `weight` outputs each.
void plan_split(RedArgs& r, int64_t groups, int64_t n, int64_t weight) {
  r.splits = 1;
  r.chunk = std::max<int64_t>(n, 1);
  if (groups >= kSplitFewGroups || n * weight < 2 * kSplitChunk) return;
  int64_t s = std::min((n * weight + kSplitChunk - 1) / kSplitChunk, (kSplitTargetGroups + groups - 1) / groups);
  if (s < 2) return;
  int64_t chunk = (n + s - 1) / s;
  chunk = (chunk + 1023) / 1024 * 1024;
  r.chunk = chunk;
  r.splits = int32_t((n + chunk - 1) / chunk);
}

template <typename P>
void launch_reduce(const P& p, RedArgs r) {
  using Acc = typename P::Acc;
  if (r.M == 0) return;
  const cudaStream_t st = current_stream();
  const bool columns = r.kept.n > 0 && r.kept.stride[r.kept.n - 1] == 1 &&
                       !(r.red.n > 0 && r.red.stride[r.red.n - 1] == 1) && r.N > 1;
  std::unique_ptr<Storage> ws;
  auto alloc_partials = [&] {
    if (r.splits > 1) {
      ws = std::make_unique<Storage>(size_t(r.M) * size_t(r.splits) * sizeof(Acc), Device::cuda(current_device()));
      r.partial = ws->data();
    }
  };
  if (columns) {
    r.L = r.kept.size[r.kept.n - 1];
    r.cw = std::min(32, red::pow2_ceil(r.L));
    r.outer = r.kept;
    --r.outer.n;
    const int64_t tiles = (r.M / r.L) * ((r.L + r.cw - 1) / r.cw);
    plan_split(r, tiles, r.N, r.cw);
    alloc_partials();
    reduce_cols_kernel<P><<<grid_for(tiles * r.splits * kRedThreads), kRedThreads, 0, st>>>(p, r);
  } else {
    r.lanes = r.N >= kBlockRowMin ? kRedThreads : std::min(32, red::pow2_ceil((r.N + 1) / 2));
    if (r.lanes == kRedThreads) plan_split(r, r.M, r.N, 1);
    else plan_split(r, kSplitFewGroups, r.N, 1);  // never splits
    r.vec4 = r.xdt == DType::Float32 && r.red.n == 1 && r.red.stride[0] == 1 &&
             reinterpret_cast<uintptr_t>(r.x) % 16 == 0 && red::strides_multiple_of(r.kept, 4) && (r.splits == 1 || r.chunk % 4 == 0);
    if (r.splits > 1) DUET_ASSERT(r.chunk % 4 == 0, "reduction: split chunk ", r.chunk);
    alloc_partials();
    const int64_t groups = r.M * r.splits;
    if (r.lanes == kRedThreads) {
      reduce_rows_block_kernel<P><<<grid_for(groups * kRedThreads), kRedThreads, 0, st>>>(p, r);
    } else {
      const int64_t warps = (groups + 32 / r.lanes - 1) / (32 / r.lanes);
      reduce_rows_warp_kernel<P><<<grid_for(warps * 32), kRedThreads, 0, st>>>(p, r);
    }
  }
  DUET_CUDA_CHECK_LAUNCH();
  if (r.splits > 1) {
    reduce_partials_kernel<P><<<grid_for(r.M * 32), kRedThreads, 0, st>>>(p, r);
    DUET_CUDA_CHECK_LAUNCH();
  }
  // `ws` is released here; the caching allocator serves its block only to later work on
  // this stream, which runs after the kernels above.
}

RedArgs make_args(const Tensor& x, const Tensor& out, const cpu::ReducePlan& plan) {
  RedArgs r{};
  r.x = x.numel() > 0 ? x.data_ptr() : nullptr;
  r.xdt = x.dtype();
  r.out = out.data_ptr();
  r.odt = out.dtype();
  r.M = plan.kept.numel();
  r.N = plan.reduced.numel();
  r.kept = red::to_dims(plan.kept);
  r.red = red::to_dims(plan.reduced);
  r.lanes = 1;
  r.cw = 1;
  r.splits = 1;
  r.chunk = std::max<int64_t>(r.N, 1);
  r.L = 1;
  return r;
}

cpu::ReducePlan plan_for(const Tensor& x, const Attrs& attrs, const char* name) {
  auto dims = wrap_dims(attrs.get_or<std::vector<int64_t>>("dims", {}), x.dim(), name);
  return cpu::make_reduce_plan(x, dims, /*reorder=*/true);
}

void sum_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  const Tensor& x = in[0];
  DeviceGuard guard(out.device().index);
  RedArgs r = make_args(x, out, plan_for(x, attrs, "sum"));
  if (is_floating(x.dtype())) launch_reduce(SumF{}, r);
  else launch_reduce(SumI{}, r);
}

void mean_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  const Tensor& x = in[0];
  DeviceGuard guard(out.device().index);
  RedArgs r = make_args(x, out, plan_for(x, attrs, "mean"));
  launch_reduce(MeanF{double(r.N)}, r);
}

void prod_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  const Tensor& x = in[0];
  DeviceGuard guard(out.device().index);
  RedArgs r = make_args(x, out, plan_for(x, attrs, "prod"));
  if (is_floating(x.dtype())) launch_reduce(ProdF{}, r);
  else launch_reduce(ProdI{}, r);
}

template <bool kMax>
void minmax_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs, const char* name) {
  const Tensor& x = in[0];
  DeviceGuard guard(out.device().index);
  RedArgs r = make_args(x, out, plan_for(x, attrs, name));
  visit_compute_type(x.dtype(), [&]<typename C>() { launch_reduce(MinMax<C, kMax>{}, r); });
}
void amax_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  minmax_cuda<true>(in, out, attrs, "amax");
}
void amin_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  minmax_cuda<false>(in, out, attrs, "amin");
}

template <bool kStd>
void var_like_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs, const char* name) {
  const Tensor& x = in[0];
  DeviceGuard guard(out.device().index);
  RedArgs r = make_args(x, out, plan_for(x, attrs, name));
  if (r.M == 0) return;
  const double correction = attrs.has("correction") ? attrs.get_number("correction") : 1.0;
  Storage means(size_t(r.M) * sizeof(double), out.device());
  RedArgs rm = r;
  rm.out = means.data();
  rm.odt = DType::Float64;
  launch_reduce(MeanF{double(r.N)}, rm);
  launch_reduce(SqDev<kStd>{static_cast<const double*>(means.data()), std::max(0.0, double(r.N) - correction)}, r);
}
void var_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  var_like_cuda<false>(in, out, attrs, "var");
}
void std_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  var_like_cuda<true>(in, out, attrs, "std");
}

template <bool kMax>
void arg_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs, const char* name) {
  const Tensor& x = in[0];
  std::vector<int64_t> dims;
  if (!attrs.has("dim")) {
    for (int64_t d = 0; d < x.dim(); ++d) dims.push_back(d);
  } else if (x.dim() > 0) {
    dims.push_back(wrap_dim(attrs.get<int64_t>("dim"), x.dim(), name));
  }
  DeviceGuard guard(out.device().index);
  // Logical order of the reduced dims: the flat reduced index is the returned index.
  RedArgs r = make_args(x, out, cpu::make_reduce_plan(x, dims, /*reorder=*/false));
  visit_compute_type(x.dtype(), [&]<typename C>() { launch_reduce(Arg<C, kMax>{}, r); });
}
void argmax_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  arg_cuda<true>(in, out, attrs, "argmax");
}
void argmin_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  arg_cuda<false>(in, out, attrs, "argmin");
}

}  // namespace

void register_reduction_kernels() {
  const std::pair<OpKind, KernelFn> table[] = {
      {OpKind::sum, sum_cuda},   {OpKind::mean, mean_cuda},     {OpKind::prod, prod_cuda},
      {OpKind::amax, amax_cuda}, {OpKind::amin, amin_cuda},     {OpKind::var, var_cuda},
      {OpKind::std, std_cuda},   {OpKind::argmax, argmax_cuda}, {OpKind::argmin, argmin_cuda},
  };
  for (const auto& [op, fn] : table) register_kernel(op, DeviceType::CUDA, fn);
}

}  // namespace duet::cuda
