// cuBLAS as duet's alternative CUDA GEMM (selected with DUET_GEMM=cublas or
// cuda::set_gemm_backend; kernels/cuda/gemm_backend.h): cuda::cublas_gemm() runs a GemmArgs
// (kernels/cuda/gemm.h) through cublasGemmEx / cublasGemmStridedBatchedEx.
//
//   - One handle per device, created on first use and bound to duet's stream of that
//     device (cublasSetStream), so cuBLAS work is ordered with every other kernel; never
//     destroyed (like the streams: destruction at exit would race the runtime's teardown).
//     A handle is not for concurrent use from several host threads, nor is duet's stream.
//   - Row-major C = A B is column-major C^T = B^T A^T: B goes first, and a row-major
//     operand is the transposed column-major one; an operand with unit stride along its
//     rows is passed with CUBLAS_OP_T. Layouts that are neither (or whose leading dim is
//     too small) are packed into a contiguous scratch copy first.
//   - float32 computes with CUBLAS_COMPUTE_32F in the default math mode: full FP32 FMAs,
//     no TF32 tensor-core rounding (that would need CUBLAS_COMPUTE_32F_FAST_TF32 or
//     CUBLAS_TF32_TENSOR_OP_MATH). float64 uses CUBLAS_COMPUTE_64F; float16 and bfloat16
//     compute in FP32 and round once (as the CPU does).
//   - Batches: after coalescing, the innermost batch dim is one strided-batched call (a
//     broadcast operand has batch stride 0); outer batch dims loop on the host.
//   - bias/ReLU run as a separate pass after the product (gemm_general.cu); for the
//     16-bit floats that adds the bias to the rounded product (duet's kernel adds it first).
#include <array>
#include <climits>
#include <memory>
#include <mutex>

#include "core/storage.h"
#include "kernels/cuda/cuda_lib_check.h"
#include "kernels/cuda/cuda_libs.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/runtime.h"

namespace duet::cuda {
namespace {

std::mutex g_handle_mu;
std::array<cublasHandle_t, kMaxDevicesPerType> g_handles{};

// The current device's handle (the caller holds a DeviceGuard for `device`).
cublasHandle_t handle_for(int device) {
  DUET_ASSERT(device >= 0 && device < kMaxDevicesPerType, "cublas: device index ", device);
  std::lock_guard<std::mutex> lock(g_handle_mu);
  cublasHandle_t& h = g_handles[size_t(device)];
  if (!h) {
    cublasHandle_t created = nullptr;
    DUET_CUBLAS_CHECK(libs::cublas().create(&created));
    DUET_CUBLAS_CHECK(libs::cublas().set_stream(created, stream(device)));
    DUET_CUBLAS_CHECK(libs::cublas().set_math_mode(created, CUBLAS_DEFAULT_MATH));
    h = created;
  }
  return h;
}

// A rows x cols operand as BLAS wants it: unit stride along columns (row-major, trans =
// false) or along rows (trans = true), and a leading dim of at least the other extent.
// A size-1 dim makes its stride irrelevant, so it never disqualifies a layout.
struct BlasLayout {
  bool ok = false, trans = false;
  int64_t ld = 0;
};
BlasLayout blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  BlasLayout l;
  const int64_t r1 = std::max<int64_t>(1, rows), c1 = std::max<int64_t>(1, cols);
  if ((cols <= 1 || cs == 1) && (rows <= 1 || rs >= c1)) {
    l.ok = true;
    l.ld = rows <= 1 ? c1 : rs;
  } else if ((rows <= 1 || rs == 1) && (cols <= 1 || cs >= r1)) {
    l.ok = l.trans = true;
    l.ld = cols <= 1 ? r1 : cs;
  }
  return l;
}

cudaDataType blas_type(DType dt) {
  switch (dt) {
    case DType::Float32: return CUDA_R_32F;
    case DType::Float64: return CUDA_R_64F;
    case DType::Float16: return CUDA_R_16F;
    case DType::BFloat16: return CUDA_R_16BF;
    default: break;
  }
  DUET_FAIL("cuda::cublas_gemm: no cuBLAS GEMM for dtype ", dtype_name(dt));
}

int to_int(int64_t v, const char* what) {
  DUET_CHECK(v >= 0 && v <= INT_MAX, "cuda::cublas_gemm: ", what, " = ", v, " does not fit cuBLAS's int");
  return int(v);
}

// Packs an operand that BLAS cannot read in place into contiguous [batch..., rows, cols]
// scratch; updates its pointer, strides and batch strides.
std::shared_ptr<Storage> pack_operand(const GemmArgs& g, const GemmBatch& bt, const void*& ptr, int64_t rows,
                                      int64_t cols, int64_t& rs, int64_t& cs, int64_t* bstr) {
  const int64_t count = bt.count();
  const size_t esize = dtype_size(g.dtype);
  auto scratch = std::make_shared<Storage>(size_t(rows * cols * count) * esize, Device::cuda(g.device));
  detail::launch_pack_matrix(g.dtype, ptr, rows, cols, rs, cs, bt, bstr, scratch->data());
  ptr = scratch->data();
  rs = cols, cs = 1;
  int64_t stride = rows * cols;
  for (int d = bt.ndim - 1; d >= 0; --d) {
    bstr[d] = stride;
    stride *= bt.sizes[d];
  }
  return scratch;
}

}  // namespace

void cublas_gemm(const GemmArgs& args) {
  DUET_ASSERT(is_floating(args.dtype) && args.M >= 0 && args.N >= 0 && args.K >= 0, "cuda::cublas_gemm: bad args");
  if (args.M == 0 || args.N == 0 || args.batch.count() == 0) return;
  if (args.K == 0) return duet_gemm(args);  // no product: C = act(bias)
  DeviceGuard guard(args.device);
  GemmArgs g = args;
  g.batch.coalesce();
  GemmBatch bt = g.batch;  // A's and B's batch strides change if they are packed

  std::shared_ptr<Storage> a_scratch, b_scratch;  // freed once the calls are queued (stream order)
  BlasLayout la = blas_layout(g.M, g.K, g.rsa, g.csa);
  if (!la.ok) {
    a_scratch = pack_operand(g, bt, g.a, g.M, g.K, g.rsa, g.csa, bt.a);
    la = blas_layout(g.M, g.K, g.rsa, g.csa);
  }
  BlasLayout lb = blas_layout(g.K, g.N, g.rsb, g.csb);
  if (!lb.ok) {
    b_scratch = pack_operand(g, bt, g.b, g.K, g.N, g.rsb, g.csb, bt.b);
    lb = blas_layout(g.K, g.N, g.rsb, g.csb);
  }
  DUET_ASSERT(la.ok && lb.ok, "cuda::cublas_gemm: packed operand not in a BLAS layout");
  DUET_ASSERT(g.M <= 1 || g.ldc >= g.N, "cuda::cublas_gemm: ldc ", g.ldc, " < N ", g.N);
  const int64_t ldc = g.M <= 1 ? std::max<int64_t>(1, g.N) : g.ldc;

  const int m = to_int(g.N, "N"), n = to_int(g.M, "M"), k = to_int(g.K, "K");
  const int lda = to_int(la.ld, "lda"), ldb = to_int(lb.ld, "ldb"), ldc_i = to_int(ldc, "ldc");
  const cublasOperation_t op_b = lb.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = la.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cudaDataType type = blas_type(g.dtype);
  const bool f64 = g.dtype == DType::Float64;
  const cublasComputeType_t compute = f64 ? CUBLAS_COMPUTE_64F : CUBLAS_COMPUTE_32F;
  const float one_f = 1.f, zero_f = 0.f;
  const double one_d = 1.0, zero_d = 0.0;
  const void* alpha = f64 ? static_cast<const void*>(&one_d) : &one_f;
  const void* beta = f64 ? static_cast<const void*>(&zero_d) : &zero_f;
  const size_t esize = dtype_size(g.dtype);
  cublasHandle_t h = handle_for(g.device);

  auto at = [&](const void* p, int64_t off) { return static_cast<const char*>(p) + off * int64_t(esize); };
  if (bt.ndim == 0) {
    DUET_CUBLAS_CHECK(libs::cublas().gemm_ex(h, op_b, op_a, m, n, k, alpha, g.b, type, ldb, g.a, type, lda, beta,
                                             g.c, type, ldc_i, compute, CUBLAS_GEMM_DEFAULT));
  } else {
    const int inner = bt.ndim - 1;
    const int count = to_int(bt.sizes[inner], "batch count");
    const int64_t outer = bt.count() / bt.sizes[inner];
    int64_t idx[kMaxDims] = {};
    int64_t oa = 0, ob = 0, oc = 0;
    for (int64_t o = 0; o < outer; ++o) {
      DUET_CUBLAS_CHECK(libs::cublas().gemm_strided_batched_ex(
          h, op_b, op_a, m, n, k, alpha, at(g.b, ob), type, ldb, bt.b[inner], at(g.a, oa), type, lda, bt.a[inner],
          beta, const_cast<char*>(at(g.c, oc)), type, ldc_i, bt.c[inner], count, compute, CUBLAS_GEMM_DEFAULT));
      for (int d = inner - 1; d >= 0; --d) {  // odometer over the outer batch dims
        if (++idx[d] < bt.sizes[d]) {
          oa += bt.a[d], ob += bt.b[d], oc += bt.c[d];
          break;
        }
        oa -= bt.a[d] * (bt.sizes[d] - 1), ob -= bt.b[d] * (bt.sizes[d] - 1), oc -= bt.c[d] * (bt.sizes[d] - 1);
        idx[d] = 0;
      }
    }
  }
  detail::launch_gemm_epilogue(g);
}

}  // namespace duet::cuda
