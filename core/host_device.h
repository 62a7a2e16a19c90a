// DUET_HOST_DEVICE marks small inline functions that both the CPU kernels and the CUDA
// kernels call (core/philox.h, kernels/factory_math.h): __host__ __device__ under nvcc,
// nothing for the host compiler.
#pragma once

#if defined(__CUDACC__)
#define DUET_HOST_DEVICE __host__ __device__
#else
#define DUET_HOST_DEVICE
#endif
