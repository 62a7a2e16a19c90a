// matmul CUDA kernel: the CPU kernel's mapping (kernels/cpu/matmul.cpp, shapes from
// core/ops/linalg.cpp) onto duet's CUDA GEMM (kernels/cuda/gemm.h). A 1-D operand is a
// 1 x K row or a K x 1 column; batch dims broadcast through stride-0 batch strides, so
// expanded operands are never materialised; operand strides go to the GEMM as they are
// (transposed or sliced inputs are not copied). float32 takes the tiled SGEMM when each
// operand has a unit stride, float64/float16/bfloat16 the general kernel (double for
// float64, float with one rounding for the 16-bit floats, as on the CPU); DUET_GEMM=cublas
// or cuda::set_gemm_backend(GemmBackend::CuBLAS) runs the product through cuBLAS instead.
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/registration.h"

namespace duet::cuda {
namespace {

// Stride of `t` along output batch dim `d` of `nbd`: its own batch dims are right-aligned,
// and a missing or size-1 dim broadcasts (stride 0).
int64_t batch_stride(const Tensor& t, int64_t mat_dims, int64_t d, int64_t nbd) {
  const int64_t t_batch = t.dim() - mat_dims;
  const int64_t td = d - (nbd - t_batch);
  return td >= 0 && t.size(td) != 1 ? t.stride(td) : 0;
}

void matmul_kernel(std::span<const Tensor> inputs, const Tensor& out, const Attrs&) {
  const Tensor& a = inputs[0];
  const Tensor& b = inputs[1];
  DUET_ASSERT(out.is_contiguous() && a.dtype() == out.dtype() && b.dtype() == out.dtype(),
              "matmul kernel expects a contiguous output of the operands' dtype");
  GemmArgs g;
  g.dtype = out.dtype();
  g.device = out.device().index;
  g.M = 1, g.N = 1;
  if (a.dim() == 1) {
    g.K = a.size(0);
    g.csa = a.stride(0);
  } else {
    g.M = a.size(-2);
    g.K = a.size(-1);
    g.rsa = a.stride(-2);
    g.csa = a.stride(-1);
  }
  if (b.dim() == 1) {
    g.rsb = b.stride(0);
  } else {
    g.N = b.size(-1);
    g.rsb = b.stride(-2);
    g.csb = b.stride(-1);
  }
  g.a = a.numel() > 0 ? a.data_ptr() : nullptr;  // K == 0: never read
  g.b = b.numel() > 0 ? b.data_ptr() : nullptr;
  g.c = out.data_ptr();
  g.ldc = g.N;
  const int64_t nbd = out.dim() - (a.dim() >= 2) - (b.dim() >= 2);
  const int64_t ma = std::min<int64_t>(a.dim(), 2), mb = std::min<int64_t>(b.dim(), 2);
  for (int64_t d = 0; d < nbd; ++d)
    g.batch.add(out.size(d), batch_stride(a, ma, d, nbd), batch_stride(b, mb, d, nbd), out.stride(d));
  gemm(g);
}

}  // namespace

void register_matmul_kernels() { register_kernel(OpKind::matmul, DeviceType::CUDA, matmul_kernel); }

}  // namespace duet::cuda
