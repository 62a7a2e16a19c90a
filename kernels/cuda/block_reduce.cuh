// Block-wide sums in double for the CUDA kernels that reduce with one block of kThreads
// (256) threads (batch_norm.cu, layer_norm.cu): lanes combined with xor shuffles, then the
// warps' sums added in warp order by one thread: a fixed order, so two runs give the same
// bits. Every thread of the block must call it (it synchronises the block).
//
//   const double total = block_sum_all(partial);   // the same value in every thread
#pragma once

#include "kernels/cuda/cuda_common.cuh"

namespace duet::cuda {

__device__ inline double block_sum_all(double v) {
  constexpr unsigned kAllLanes = 0xffffffffu;
  __shared__ double warp_sums[kThreads / 32];
  __shared__ double total;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kAllLanes, v, o);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    double t = 0;
    for (int w = 0; w < kThreads / 32; ++w) t += warp_sums[w];
    total = t;
  }
  __syncthreads();
  const double r = total;
  __syncthreads();  // warp_sums and total are rewritten by the next call
  return r;
}

}  // namespace duet::cuda
