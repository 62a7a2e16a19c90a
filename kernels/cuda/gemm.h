// duet's CUDA GEMM interface: C = act(op(A) * op(B) + bias), batched, on device memory,
// queued on the device's stream (CUDA builds only; the portable backend selection is in
// gemm_backend.h). No alpha/beta: C is written, never read.
//
//   cuda::GemmArgs g;
//   g.dtype = DType::Float32; g.device = 0;
//   g.M = M; g.N = N; g.K = K;
//   g.a = A; g.rsa = K; g.csa = 1;       // A[i, k] at a[i * rsa + k * csa]
//   g.b = B; g.rsb = 1; g.csb = K;       // B^T stored row-major: B[k, j] at b[k * rsb + j * csb]
//   g.c = C; g.ldc = N;                  // C[i, j] at c[i * ldc + j]
//   g.bias = bias; g.act = cpu::Activation::Relu;   // optional epilogue (the graph fuser's)
//   g.batch.add(batch, a_stride, b_stride, M * N);  // optional batch dims, stride 0 broadcasts
//   cuda::gemm(g);                       // the selected backend (cuda::get_gemm_backend())
//
// Layouts: any element strides. duet's SGEMM takes the fast tiled path when each operand
// has a unit stride in one of its two dims (all four transpose combinations); other
// layouts and the other dtypes (float64, float16, bfloat16) take a simple shared-memory
// kernel computing in double (float64) or float, rounding once on the way out, as the
// CPU's matmul does. cuBLAS gets operands in BLAS layouts directly and packs others into
// a scratch copy first.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/shape.h"
#include "kernels/cpu/gemm.h"

namespace duet::cuda {

// Batch dims of a batched GEMM: entry (i0, i1, ...) reads A at sum(i_d * a[d]), B at
// sum(i_d * b[d]) and writes C at sum(i_d * c[d]) (element offsets). Stride 0 broadcasts.
struct GemmBatch {
  int32_t ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t a[kMaxDims] = {}, b[kMaxDims] = {}, c[kMaxDims] = {};

  // Appends a batch dim (outermost first).
  void add(int64_t size, int64_t a_stride, int64_t b_stride, int64_t c_stride);
  int64_t count() const;
  // Drops size-1 dims and merges neighbours that step through all three operands as one
  // dim does (a contiguous [B1, B2] batch becomes one dim of B1 * B2).
  void coalesce();
};

struct GemmArgs {
  DType dtype = DType::Float32;  // of A, B, C and bias: Float32, Float64, Float16 or BFloat16
  int device = 0;
  int64_t M = 0, N = 0, K = 0;
  const void* a = nullptr;
  int64_t rsa = 0, csa = 0;
  const void* b = nullptr;
  int64_t rsb = 0, csb = 0;
  void* c = nullptr;
  int64_t ldc = 0;               // >= N unless M == 1; unit column stride
  GemmBatch batch;
  const void* bias = nullptr;    // N values (device memory) added to each row, or null
  cpu::Activation act = cpu::Activation::None;
};

// On the selected backend (cuda::get_gemm_backend()). M, N or batch 0: nothing to do;
// K == 0: C = act(0 + bias) (duet's kernel, whatever the backend).
void gemm(const GemmArgs& args);
// The individual backends, whatever the selection (benchmarks, tests).
void duet_gemm(const GemmArgs& args);
void cublas_gemm(const GemmArgs& args);

namespace detail {

// Launchers in gemm_sgemm.cu / gemm_general.cu (args validated, M, N, K, batch > 0 except
// K may be 0).
// The tiled float32 kernel; false (nothing launched) when an operand has no unit stride.
bool launch_sgemm_tiled(const GemmArgs& args);
// The general kernel: any dtype of GemmArgs, any strides.
void launch_gemm_general(const GemmArgs& args);
// C = act(C + bias) in place (cuBLAS has no such epilogue in its plain GEMM calls).
void launch_gemm_epilogue(const GemmArgs& args);
// Copies the batched, strided matrix `src` (rows x cols, element (i, j) of batch entry z at
// src[batch offset + i * rs + j * cs], batch offsets from `batch` strides `bstr`) into
// contiguous dst[z][i][j] (dtype `dt`).
void launch_pack_matrix(DType dt, const void* src, int64_t rows, int64_t cols, int64_t rs, int64_t cs,
                        const GemmBatch& batch, const int64_t* bstr, void* dst);

}  // namespace detail
}  // namespace duet::cuda
