// duet's CUDA GEMM front door (kernels/cuda/gemm.h) and its simple kernels:
//   - gemm() / duet_gemm(): backend choice, then the tiled SGEMM (gemm_sgemm.cu) for
//     float32 operands with a unit stride, else the general kernel below;
//   - the general kernel: any strides and the other floating dtypes (float64, float16,
//     bfloat16), 32x32 output tiles staged through shared memory, one thread per 4 outputs,
//     computing in double for float64 and in float otherwise, rounded once on the way out
//     (the CPU matmul's rules: 16-bit floats multiply in float32); operands are read with
//     their run-time dtype (dev::load_as), so there are two instantiations, not four;
//   - the bias/ReLU pass and the operand packing the cuBLAS path needs (cublas_gemm.cpp).
// Figures: none measured yet (no GPU where this was written).
#include <climits>

#include "kernels/cuda/gemm_backend.h"
#include "kernels/cuda/gemm_common.cuh"

namespace duet::cuda {

// ---- GemmBatch (host)

void GemmBatch::add(int64_t size, int64_t a_stride, int64_t b_stride, int64_t c_stride) {
  DUET_ASSERT(ndim < kMaxDims, "GemmBatch: more than ", kMaxDims, " batch dims");
  sizes[ndim] = size;
  a[ndim] = a_stride;
  b[ndim] = b_stride;
  c[ndim] = c_stride;
  ++ndim;
}

int64_t GemmBatch::count() const {
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= sizes[d];
  return n;
}

void GemmBatch::coalesce() {
  GemmBatch out;
  for (int d = 0; d < ndim; ++d) {
    if (sizes[d] == 1) continue;
    const int l = out.ndim - 1;
    if (l >= 0 && out.a[l] == a[d] * sizes[d] && out.b[l] == b[d] * sizes[d] && out.c[l] == c[d] * sizes[d]) {
      out.sizes[l] *= sizes[d];
      out.a[l] = a[d];
      out.b[l] = b[d];
      out.c[l] = c[d];
    } else {
      out.add(sizes[d], a[d], b[d], c[d]);
    }
  }
  *this = out;
}

namespace {

constexpr int kTile = 32;
constexpr int kThreadsG = 256;  // 32 x 8: each thread owns 4 rows (8 apart) of one column

struct GeneralParams {
  DType dt;
  int64_t M, N, K;
  const void* a;
  int64_t rsa, csa;
  const void* b;
  int64_t rsb, csb;
  void* c;
  int64_t ldc;
  const void* bias;
  bool relu;
  bool a_m_fast, b_k_fast;  // which index runs along a warp when loading (coalescing)
  int64_t tiles_m, tiles_n, batch_count;
  GemmBatch batch;
};

template <typename Acc>
__global__ void __launch_bounds__(kThreadsG, 1) gemm_general_kernel(const GeneralParams p) {
  // +1 column: transposed loads and column reads stay free of bank conflicts.
  __shared__ Acc As[kTile][kTile + 1];  // [m][k]
  __shared__ Acc Bs[kTile][kTile + 1];  // [k][n]
  const int tx = int(threadIdx.x) % kTile, ty = int(threadIdx.x) / kTile;
  const int64_t tiles = p.tiles_m * p.tiles_n;
  for (int64_t z = blockIdx.z; z < p.batch_count; z += gridDim.z) {
    int64_t oa, ob, oc;
    gemm_dev::batch_offsets(p.batch, z, oa, ob, oc);
    for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
      int64_t tm, tn;
      gemm_dev::tile_coords(t, p.tiles_m, p.tiles_n, tm, tn);
      const int64_t m0 = tm * kTile, n0 = tn * kTile;
      Acc acc[4] = {Acc(0), Acc(0), Acc(0), Acc(0)};
      for (int64_t k0 = 0; k0 < p.K; k0 += kTile) {
#pragma unroll
        for (int r = 0; r < 4; ++r) {
          const int u = ty + 8 * r;  // 0..31, the index that does not follow the lane
          // A: lanes walk k (row-major A) or m (column-major A).
          const int am = p.a_m_fast ? tx : u, ak = p.a_m_fast ? u : tx;
          const int64_t m = m0 + am, ka = k0 + ak;
          As[am][ak] = m < p.M && ka < p.K ? dev::load_as<Acc>(p.a, oa + m * p.rsa + ka * p.csa, p.dt) : Acc(0);
          // B: lanes walk n (row-major B) or k (column-major B).
          const int bk = p.b_k_fast ? tx : u, bn = p.b_k_fast ? u : tx;
          const int64_t kb = k0 + bk, n = n0 + bn;
          Bs[bk][bn] = kb < p.K && n < p.N ? dev::load_as<Acc>(p.b, ob + kb * p.rsb + n * p.csb, p.dt) : Acc(0);
        }
        __syncthreads();
#pragma unroll 8
        for (int kk = 0; kk < kTile; ++kk) {
          const Acc bv = Bs[kk][tx];
#pragma unroll
          for (int r = 0; r < 4; ++r) acc[r] += As[ty + 8 * r][kk] * bv;
        }
        __syncthreads();
      }
      const int64_t col = n0 + tx;
      if (col >= p.N) continue;  // no barrier follows in this tile
      const Acc bias = p.bias ? dev::load_as<Acc>(p.bias, col, p.dt) : Acc(0);
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const int64_t row = m0 + ty + 8 * r;
        const Acc v = p.bias ? acc[r] + bias : acc[r];  // no + 0: -0 stays (Note [Epilogue bits])
        if (row < p.M) dev::store_as(p.c, oc + row * p.ldc + col, p.dt, gemm_dev::relu_if(v, p.relu));
      }
    }
  }
}

// C = act(C + bias) over every batch entry (after cuBLAS).
template <typename Acc>
__global__ void gemm_epilogue_kernel(DType dt, void* c, int64_t M, int64_t N, int64_t ldc, GemmBatch batch,
                                     int64_t total, const void* bias, bool relu) {
  DUET_CUDA_KERNEL_LOOP(i, total) {
    const int64_t j = i % N, rest = i / N;
    const int64_t row = rest % M, z = rest / M;
    int64_t oa, ob, oc;
    gemm_dev::batch_offsets(batch, z, oa, ob, oc);
    const int64_t off = oc + row * ldc + j;
    Acc v = dev::load_as<Acc>(c, off, dt);
    if (bias) v += dev::load_as<Acc>(bias, j, dt);
    dev::store_as(c, off, dt, gemm_dev::relu_if(v, relu));
  }
}

// dst[z][i][j] = src[batch offset of z (strides in batch.c) + i * rs + j * cs], bit copies.
__global__ void pack_matrix_kernel(DType dt, const void* src, int64_t rows, int64_t cols, int64_t rs, int64_t cs,
                                   GemmBatch batch, int64_t total, void* dst) {
  DUET_CUDA_KERNEL_LOOP(i, total) {
    const int64_t j = i % cols, rest = i / cols;
    const int64_t row = rest % rows, z = rest / rows;
    int64_t oa, ob, oc;
    gemm_dev::batch_offsets(batch, z, oa, ob, oc);
    dev::copy_convert(dst, i, dt, src, oc + row * rs + j * cs, dt);
  }
}

void check_args(const GemmArgs& g) {
  DUET_ASSERT(is_floating(g.dtype), "cuda::gemm: dtype ", dtype_name(g.dtype), " is not a floating dtype");
  DUET_ASSERT(g.M >= 0 && g.N >= 0 && g.K >= 0, "cuda::gemm: negative size ", g.M, "x", g.N, "x", g.K);
  DUET_ASSERT(g.M <= 1 || g.ldc >= g.N, "cuda::gemm: ldc ", g.ldc, " < N ", g.N);
}

}  // namespace

namespace detail {

void launch_gemm_general(const GemmArgs& g) {
  GeneralParams p{};
  p.dt = g.dtype;
  p.M = g.M, p.N = g.N, p.K = g.K;
  p.a = g.a, p.rsa = g.rsa, p.csa = g.csa;
  p.b = g.b, p.rsb = g.rsb, p.csb = g.csb;
  p.c = g.c, p.ldc = g.ldc;
  p.bias = g.bias;
  p.relu = g.act == cpu::Activation::Relu;
  p.a_m_fast = g.rsa == 1 && g.csa != 1;
  p.b_k_fast = g.rsb == 1 && g.csb != 1;
  p.batch = g.batch;
  p.batch_count = g.batch.count();
  p.tiles_m = (g.M + kTile - 1) / kTile;
  p.tiles_n = (g.N + kTile - 1) / kTile;
  const int64_t tiles = p.tiles_m * p.tiles_n;
  const dim3 grid(unsigned(std::min<int64_t>(tiles, INT_MAX)), 1, unsigned(std::min<int64_t>(p.batch_count, 65535)));
  if (g.dtype == DType::Float64) gemm_general_kernel<double><<<grid, kThreadsG, 0, current_stream()>>>(p);
  else gemm_general_kernel<float><<<grid, kThreadsG, 0, current_stream()>>>(p);
  DUET_CUDA_CHECK_LAUNCH();
}

void launch_gemm_epilogue(const GemmArgs& g) {
  if (!g.bias && g.act == cpu::Activation::None) return;
  const int64_t total = g.M * g.N * g.batch.count();
  if (total == 0) return;
  const bool relu = g.act == cpu::Activation::Relu;
  if (g.dtype == DType::Float64)
    gemm_epilogue_kernel<double><<<grid_for(total), kThreads, 0, current_stream()>>>(g.dtype, g.c, g.M, g.N, g.ldc,
                                                                                    g.batch, total, g.bias, relu);
  else
    gemm_epilogue_kernel<float><<<grid_for(total), kThreads, 0, current_stream()>>>(g.dtype, g.c, g.M, g.N, g.ldc,
                                                                                   g.batch, total, g.bias, relu);
  DUET_CUDA_CHECK_LAUNCH();
}

void launch_pack_matrix(DType dt, const void* src, int64_t rows, int64_t cols, int64_t rs, int64_t cs,
                        const GemmBatch& batch, const int64_t* bstr, void* dst) {
  GemmBatch b = batch;  // the operand's batch strides go where batch_offsets reads C's
  for (int d = 0; d < b.ndim; ++d) b.c[d] = bstr[d];
  const int64_t total = rows * cols * b.count();
  if (total == 0) return;
  pack_matrix_kernel<<<grid_for(total), kThreads, 0, current_stream()>>>(dt, src, rows, cols, rs, cs, b, total, dst);
  DUET_CUDA_CHECK_LAUNCH();
}

}  // namespace detail

void duet_gemm(const GemmArgs& args) {
  check_args(args);
  if (args.M == 0 || args.N == 0 || args.batch.count() == 0) return;
  DeviceGuard guard(args.device);
  GemmArgs g = args;
  g.batch.coalesce();
  if (g.dtype == DType::Float32 && detail::launch_sgemm_tiled(g)) return;
  detail::launch_gemm_general(g);
}

void gemm(const GemmArgs& args) {
  DUET_CHECK(args.act == cpu::Activation::None || args.act == cpu::Activation::Relu,
             "cuda gemm: the epilogue applies no activation or ReLU; GELU epilogues are CPU-only "
             "(the graph fuser leaves gelu as its own kernel on CUDA)");
  // K == 0 needs no product (C = act(bias)), which duet's kernels write directly.
  if (get_gemm_backend() == GemmBackend::CuBLAS && args.K > 0) cublas_gemm(args);
  else duet_gemm(args);
}

}  // namespace duet::cuda
