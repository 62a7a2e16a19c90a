// Device helpers shared by duet's CUDA GEMM kernels (gemm_sgemm.cu, gemm_general.cu):
// batch-entry offsets and the order in which a block walks its output tiles.
#pragma once

#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/epilogue.cuh"
#include "kernels/cuda/gemm.h"

namespace duet::cuda::gemm_dev {

// Element offsets of batch entry z in A, B and C (row-major over the batch dims). The loop
// is unrolled over kMaxDims so the arrays are read with constant indices (no local copy).
__device__ inline void batch_offsets(const GemmBatch& bt, int64_t z, int64_t& oa, int64_t& ob, int64_t& oc) {
  oa = ob = oc = 0;
  DUET_UNROLL
  for (int d = kMaxDims - 1; d >= 0; --d) {
    if (d < bt.ndim) {
      const int64_t s = bt.sizes[d];
      const int64_t i = z % s;
      z /= s;
      oa += i * bt.a[d];
      ob += i * bt.b[d];
      oc += i * bt.c[d];
    }
  }
}

// Output tile (tm, tn) of linear tile t. Blocks run in launch order, so eight consecutive
// blocks take eight tile rows of one tile column: they share the B panel (and the next
// eight the same A panels), which keeps both in L2 for large matrices.
// I is int64_t, or int where the tile count fits.
template <typename I>
__device__ inline void tile_coords(I t, I tiles_m, I tiles_n, I& tm, I& tn) {
  constexpr I kGroup = 8;
  const I per_group = kGroup * tiles_n;
  const I group = t / per_group;
  const I first = group * kGroup;
  const I rows = tiles_m - first < kGroup ? tiles_m - first : kGroup;
  const I r = t - group * per_group;
  tm = first + r % rows;
  tn = r / rows;
}

// The epilogue's ReLU is eager's relu (epilogue.cuh), so a fused matmul + bias + relu gives
// the bits of the three ops run one by one (Note [Epilogue bits] in kernels/cpu/gemm.h; the
// bias is added only where there is one).
using cuda::relu_if;

}  // namespace duet::cuda::gemm_dev
