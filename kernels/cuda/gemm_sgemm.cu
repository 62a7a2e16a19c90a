// duet's tiled float32 GEMM for CUDA: C = act(op(A) op(B) + bias), batched, for operands
// with a unit stride in either dim (the four transpose combinations; gemm_general.cu takes
// other layouts and dtypes).
//
// Shape of the kernel (one block of 256 threads per BM x BM tile of C):
//   - BM = 128 (BK = 8) for large problems, BM = 64 (BK = 16) when 128-tiles would not
//     give every multiprocessor a block; each thread owns (BM/16) x (BM/16) outputs
//     (8x8 or 4x4) in registers, as groups of 4 rows (and columns) 64 apart, so its
//     shared-memory reads are float4s and a warp's reads of B hit 16 distinct float4s.
//   - Each k-step stages a BK x BM tile of A (stored k-major, i.e. transposed) and of B in
//     shared memory: 1024 floats each, one float4 per thread. A thread loads 4 consecutive
//     values along the operand's unit-stride dim: one float4 global load when the operand's
//     other stride and its base are 16-byte aligned and the 4 values are in range, else
//     predicated scalar loads (zeros outside the matrix), so edge tiles need no separate
//     kernel. Rows are padded to BM + 4 floats: the transposing scalar stores (k-contiguous
//     operands) then fall in distinct banks for BM = 128 (2-way for BM = 64, once per
//     k-step), and float4 reads stay aligned.
//   - Double buffering: the next k-tile is fetched into registers before the FMAs on the
//     current one and stored into the other buffer after them; one __syncthreads per k-step
//     (a buffer is rewritten only after the barrier that ends the step that read it).
//   - Epilogue: + bias[col] (only with a bias: + 0 would turn -0 into +0), ReLU (eager's
//     relu: v <= 0 -> +0, NaN kept, like the CPU), float4 stores when
//     C's rows are 16-byte aligned, predicated scalar stores at the edges.
//   - Tiles are walked in groups of 8 tile rows (gemm_common.cuh) for L2 reuse; batch
//     entries run over grid.z (looping past 65535), with broadcast batch dims as stride 0.
//
// Version ladder (what each version did):
//   v1  gemm_general.cu (kept as the fallback for other layouts and dtypes): 32x32 output
//       tiles in shared memory, 4 outputs per thread, scalar loads with run-time dtype.
//   v2  this file: 128x128x8 block tiles, 8x8 register tiles, float4 global loads and
//       stores where aligned, double-buffered shared memory, grouped tile order.
//   v3  64x64x16 tiles when 128-tiles leave multiprocessors idle (small M, N, batch);
//       the loaders' state cut to one pointer each (stride and flags read from the kernel
//       parameters), so the 128-tile kernels fit 128 registers (two blocks per SM) without
//       spilling: v2 spilled 20-180 bytes in three of its four layouts.
// Figures: none measured yet (there is no GPU where this was written). The table is for
// the first H100 run of bench/bench_cuda_gemm.cpp (GFLOP/s, FP32, cuBLAS without TF32):
//
//   M x K x N           duet v3    cuBLAS
//   1024^3              -          -
//   2048^3              -          -
//   4096^3              -          -
//   8192^3              -          -
//   128 x 784 x 256     -          -
//   128 x 256 x 128     -          -
//   128 x 128 x 10      -          -
//
// ptxas (-Xptxas -v, CUDA 13): sm_90: 128-tiles 125-128 registers, 16896 bytes shared
// memory, 64-tiles 79-91 registers, 17408 bytes; sm_80: 126-127 and 75-77 registers; no
// spills, no stack frame in any of the eight kernels.
#include <climits>

#include "kernels/cuda/gemm_common.cuh"

namespace duet::cuda {
namespace {

constexpr int kSgemmThreads = 256;
constexpr int kPad = 4;

struct SgemmParams {
  int M, N, K;
  const float* a;
  int64_t lda;  // A's stride along its non-unit dim
  const float* b;
  int64_t ldb;
  float* c;
  int64_t ldc;
  const float* bias;
  bool relu, vec_a, vec_b, vec_c;
  int tiles_m, tiles_n, batch_count;  // the tile and batch counts fit int (else the general kernel)
  GemmBatch batch;
};

// One operand's share of a BK x BM shared tile (k rows, BM columns along M for A or N for
// B). KC: the operand's unit stride is along k (row-major A, transposed B), thread covers
// 4 consecutive k of one column; otherwise the unit stride is along M/N, thread covers 4
// consecutive columns of one k. fetch() reads the next k-tile and steps to the one after.
// The state is one pointer: the counts of values in range are recomputed from the k-step
// and the tile origin, and the stride and the float4 flag come from the kernel parameters
// (constant memory), which leaves the registers to the 8x8 tile (no spills at 128).
template <int BM, bool KC>
struct TileLoader {
  static constexpr int BK = 1024 / BM;
  static constexpr int lane_k_of(int tid) { return KC ? (tid % (BK / 4)) * 4 : tid / (BM / 4); }
  static constexpr int lane_mn_of(int tid) { return KC ? tid / (BK / 4) : (tid % (BM / 4)) * 4; }

  const float* p;  // this thread's first value in the next k-tile

  // ld: the operand's stride along its non-unit dim.
  __device__ void init(const float* base, int64_t ld, int mn0, int tid) {
    const int lk = lane_k_of(tid), lmn = lane_mn_of(tid);
    if constexpr (KC) p = base + int64_t(mn0 + lmn) * ld + lk;
    else p = base + int64_t(lk) * ld + (mn0 + lmn);
  }

  // k-tile kt of a K x MN operand whose tile starts at column mn0 (the next one: fetches go
  // in order); vec: float4 loads allowed (alignment, see vec_ok).
  __device__ float4 fetch(int kt, int K, int mn0, int MN, int tid, int64_t ld, bool vec) {
    const int k_left = K - kt * BK - lane_k_of(tid);     // <= 0: past the end
    const int mn_left = MN - mn0 - lane_mn_of(tid);      // <= 0: no column in range
    float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
    const float* q = p;
    if constexpr (KC) {
      const int rem = k_left;
      if (mn_left > 0 && rem > 0) {
        if (vec && rem >= 4) {
          v = *reinterpret_cast<const float4*>(q);
        } else {
          v.x = q[0];
          if (rem > 1) v.y = q[1];
          if (rem > 2) v.z = q[2];
          if (rem > 3) v.w = q[3];
        }
      }
    } else {
      if (k_left > 0 && mn_left > 0) {
        if (vec && mn_left >= 4) {
          v = *reinterpret_cast<const float4*>(q);
        } else {
          v.x = q[0];
          if (mn_left > 1) v.y = q[1];
          if (mn_left > 2) v.z = q[2];
          if (mn_left > 3) v.w = q[3];
        }
      }
    }
    p += KC ? int64_t(BK) : int64_t(BK) * ld;
    return v;
  }

  __device__ static void store(float (*s)[BM + kPad], float4 v, int tid) {
    const int lk = lane_k_of(tid), lmn = lane_mn_of(tid);
    if constexpr (KC) {
      s[lk + 0][lmn] = v.x;
      s[lk + 1][lmn] = v.y;
      s[lk + 2][lmn] = v.z;
      s[lk + 3][lmn] = v.w;
    } else {
      *reinterpret_cast<float4*>(&s[lk][lmn]) = v;
    }
  }
};

// A_KC: A's unit stride is along k (row-major A); B_KC: B's unit stride is along k (B^T
// row-major). At most 128 registers per thread (two blocks per multiprocessor).
template <int BM, bool A_KC, bool B_KC>
__global__ void __launch_bounds__(kSgemmThreads, 2) sgemm_tiled_kernel(const SgemmParams p) {
  constexpr int BK = 1024 / BM;
  constexpr int TM = BM / 16;  // outputs per thread along each dim
  constexpr int G = TM / 4;    // groups of 4, 64 apart
  __shared__ __align__(16) float As[2][BK][BM + kPad];
  __shared__ __align__(16) float Bs[2][BK][BM + kPad];

  const int tid = int(threadIdx.x);
  const int tx = tid % 16, ty = tid / 16;
  const int nk = (p.K + BK - 1) / BK;
  const int tiles = p.tiles_m * p.tiles_n;  // the host checked that this fits

  for (int z = blockIdx.z; z < p.batch_count; z += gridDim.z) {
    for (int t = blockIdx.x; t < tiles; t += gridDim.x) {
      int64_t oa, ob, oc;
      gemm_dev::batch_offsets(p.batch, z, oa, ob, oc);
      int tm, tn;
      gemm_dev::tile_coords(t, p.tiles_m, p.tiles_n, tm, tn);
      const int m0 = tm * BM, n0 = tn * BM;
      TileLoader<BM, A_KC> la;
      TileLoader<BM, B_KC> lb;
      la.init(p.a + oa, p.lda, m0, tid);
      lb.init(p.b + ob, p.ldb, n0, tid);

      float acc[TM][TM];
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TM; ++j) acc[i][j] = 0.f;

      if (nk > 0) {  // uniform over the block: the barriers below are reached by all
        la.store(As[0], la.fetch(0, p.K, m0, p.M, tid, p.lda, p.vec_a), tid);
        lb.store(Bs[0], lb.fetch(0, p.K, n0, p.N, tid, p.ldb, p.vec_b), tid);
        __syncthreads();
        for (int kt = 0; kt < nk; ++kt) {
          const int cur = kt & 1;
          const bool more = kt + 1 < nk;
          float4 na = make_float4(0.f, 0.f, 0.f, 0.f), nb = na;
          if (more) {  // in flight while the FMAs below run
            na = la.fetch(kt + 1, p.K, m0, p.M, tid, p.lda, p.vec_a);
            nb = lb.fetch(kt + 1, p.K, n0, p.N, tid, p.ldb, p.vec_b);
          }
#pragma unroll
          for (int kk = 0; kk < BK; ++kk) {
            float av[TM], bv[TM];
#pragma unroll
            for (int g = 0; g < G; ++g) {
              const float4 x = *reinterpret_cast<const float4*>(&As[cur][kk][g * 64 + ty * 4]);
              const float4 y = *reinterpret_cast<const float4*>(&Bs[cur][kk][g * 64 + tx * 4]);
              av[g * 4 + 0] = x.x, av[g * 4 + 1] = x.y, av[g * 4 + 2] = x.z, av[g * 4 + 3] = x.w;
              bv[g * 4 + 0] = y.x, bv[g * 4 + 1] = y.y, bv[g * 4 + 2] = y.z, bv[g * 4 + 3] = y.w;
            }
#pragma unroll
            for (int i = 0; i < TM; ++i)
#pragma unroll
              for (int j = 0; j < TM; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
          }
          // The other buffer was last read in step kt - 1, which every thread finished
          // before the barrier that ended it.
          if (more) {
            la.store(As[cur ^ 1], na, tid);
            lb.store(Bs[cur ^ 1], nb, tid);
          }
          __syncthreads();
        }
      }

      // Epilogue. Column groups: n0 + h * 64 + tx * 4 + (0..3); rows likewise with ty.
      float bias[TM];
#pragma unroll
      for (int h = 0; h < G; ++h)
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const int col = n0 + h * 64 + tx * 4 + j;
          bias[h * 4 + j] = p.bias && col < p.N ? p.bias[col] : 0.f;
        }
      gemm_dev::batch_offsets(p.batch, z, oa, ob, oc);  // again: not kept live through the loop
      float* cz = p.c + oc;
#pragma unroll
      for (int g = 0; g < G; ++g)
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int row = m0 + g * 64 + ty * 4 + i;
          if (row >= p.M) continue;
          float* crow = cz + int64_t(row) * p.ldc;
#pragma unroll
          for (int h = 0; h < G; ++h) {
            const int col = n0 + h * 64 + tx * 4;
            float v[4];
#pragma unroll
            for (int j = 0; j < 4; ++j)
              v[j] = gemm_dev::relu_if(p.bias ? acc[g * 4 + i][h * 4 + j] + bias[h * 4 + j] : acc[g * 4 + i][h * 4 + j],
                                       p.relu);
            if (p.vec_c && col + 3 < p.N) {
              *reinterpret_cast<float4*>(crow + col) = make_float4(v[0], v[1], v[2], v[3]);
            } else {
#pragma unroll
              for (int j = 0; j < 4; ++j)
                if (col + j < p.N) crow[col + j] = v[j];
            }
          }
        }
    }
  }
}

bool aligned16(const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 15) == 0; }

// float4 access to an operand: its base and every step between the 4-value groups a
// thread touches (the non-unit stride, the batch strides) keep 16-byte alignment.
bool vec_ok(const void* base, int64_t ld, const int64_t* batch_strides, int nbd) {
  if (!aligned16(base) || ld % 4 != 0) return false;
  for (int d = 0; d < nbd; ++d)
    if (batch_strides[d] % 4 != 0) return false;
  return true;
}

template <int BM, bool A_KC, bool B_KC>
void launch(const SgemmParams& p) {
  const dim3 grid(unsigned(p.tiles_m * p.tiles_n), 1, unsigned(std::min(p.batch_count, 65535)));
  sgemm_tiled_kernel<BM, A_KC, B_KC><<<grid, kSgemmThreads, 0, current_stream()>>>(p);
  DUET_CUDA_CHECK_LAUNCH();
}

template <int BM>
void launch_layout(const SgemmParams& p, bool a_kc, bool b_kc) {
  if (a_kc) b_kc ? launch<BM, true, true>(p) : launch<BM, true, false>(p);
  else b_kc ? launch<BM, false, true>(p) : launch<BM, false, false>(p);
}

}  // namespace

namespace detail {

bool launch_sgemm_tiled(const GemmArgs& g) {
  constexpr int64_t kIntLimit = INT_MAX - 256;  // m0 + BM and similar sums stay in int
  if (g.M > kIntLimit || g.N > kIntLimit || g.K > kIntLimit) return false;
  SgemmParams p{};
  // A is M x K: unit stride along k (or K == 1: only k = 0 is read), else along m.
  bool a_kc;
  if (g.csa == 1 || g.K == 1) a_kc = true, p.lda = g.rsa;
  else if (g.rsa == 1 || g.M == 1) a_kc = false, p.lda = g.csa;
  else return false;
  // B is K x N: unit stride along n (or N == 1), else along k.
  bool b_kc;
  if (g.csb == 1 || g.N == 1) b_kc = false, p.ldb = g.rsb;
  else if (g.rsb == 1 || g.K == 1) b_kc = true, p.ldb = g.csb;
  else return false;

  p.M = int(g.M), p.N = int(g.N), p.K = int(g.K);
  p.a = static_cast<const float*>(g.a);
  p.b = static_cast<const float*>(g.b);
  p.c = static_cast<float*>(g.c);
  p.ldc = g.ldc;
  p.bias = static_cast<const float*>(g.bias);
  p.relu = g.act == cpu::Activation::Relu;
  p.batch = g.batch;
  const int64_t batch_count = g.batch.count();
  p.vec_a = vec_ok(g.a, p.lda, g.batch.a, g.batch.ndim);
  p.vec_b = vec_ok(g.b, p.ldb, g.batch.b, g.batch.ndim);
  p.vec_c = vec_ok(g.c, p.ldc, g.batch.c, g.batch.ndim);

  // 128-tiles when they give every multiprocessor at least one block, else 64-tiles.
  const int64_t blocks128 = ((g.M + 127) / 128) * ((g.N + 127) / 128) * batch_count;
  const int sms = device_properties(g.device).multiProcessorCount;
  const int bm = blocks128 >= sms ? 128 : 64;
  const int64_t tiles_m = (g.M + bm - 1) / bm, tiles_n = (g.N + bm - 1) / bm;
  // int indices in the kernel, including the loop steps t + gridDim.x (< 2 * tiles) and
  // z + gridDim.z (< batch_count + 65535), which must not wrap.
  if (tiles_m * tiles_n > INT_MAX / 2 || batch_count > INT_MAX - 65535) return false;
  p.tiles_m = int(tiles_m), p.tiles_n = int(tiles_n), p.batch_count = int(batch_count);
  if (bm == 128) launch_layout<128>(p, a_kc, b_kc);
  else launch_layout<64>(p, a_kc, b_kc);
  return true;
}

}  // namespace detail
}  // namespace duet::cuda
