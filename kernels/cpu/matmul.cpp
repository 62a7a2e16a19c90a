// matmul CPU kernel (NumPy/torch.matmul semantics, shapes from core/ops/linalg.cpp): maps
// each (broadcast) batch entry to one strided GEMM call (kernels/cpu/gemm.h), or a batch
// sharing one B whose A rows follow one another to a single GEMM (fold_batches). Operand
// strides go straight to the GEMM's packing, so transposed, sliced and expanded inputs are
// never copied; stride-0 batch dims just repeat an offset. float16/bfloat16 are converted
// per matrix to float32 scratch, multiplied in float32 and rounded once on the way out.
// Many small matrices run in parallel over the batch; large ones thread inside the GEMM.
#include <algorithm>
#include <vector>

#include "core/parallel.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/kernels.h"

namespace duet::cpu {
namespace {

// Per-matrix work below which threads take whole batch entries instead of sharing one GEMM.
constexpr int64_t kBatchParallelMacs = int64_t(1) << 18;

struct MatmulPlan {
  int64_t M = 1, N = 1, K = 1;
  int64_t rsa = 0, csa = 0, rsb = 0, csb = 0;
  std::vector<int64_t> a_off, b_off;  // element offsets of each batch entry's A and B
};

// Element offsets of every batch entry for an operand whose leading (batch) dims broadcast
// against out_batch; dims of size 1 (or missing) contribute nothing.
std::vector<int64_t> batch_offsets(const Tensor& t, int64_t mat_dims, const Shape& out_batch) {
  const int64_t nbd = int64_t(out_batch.size());
  const int64_t t_batch = t.dim() - mat_dims;
  std::vector<int64_t> strides(size_t(nbd), 0);
  for (int64_t d = 0; d < t_batch; ++d) {
    int64_t od = nbd - t_batch + d;
    if (t.size(d) != 1) strides[size_t(od)] = t.stride(d);
  }
  int64_t nb = 1;
  for (int64_t s : out_batch) nb *= s;
  std::vector<int64_t> off(static_cast<size_t>(nb));
  std::vector<int64_t> idx(size_t(nbd), 0);
  int64_t cur = 0;
  for (int64_t i = 0; i < nb; ++i) {
    off[size_t(i)] = cur;
    for (int64_t d = nbd - 1; d >= 0; --d) {  // odometer step
      if (++idx[size_t(d)] < out_batch[size_t(d)]) {
        cur += strides[size_t(d)];
        break;
      }
      cur -= strides[size_t(d)] * (out_batch[size_t(d)] - 1);
      idx[size_t(d)] = 0;
    }
  }
  return off;
}

// As torch.matmul folds [..., M, K] x [K, N]: when every batch entry multiplies the same
// B and A's entries follow one another at M rows' stride (a Linear on [B, T, C]), the
// batch is one GEMM of nb * M rows (the output is contiguous, so its rows follow too).
// One packed B and one large product instead of nb small ones.
void fold_batches(MatmulPlan& p) {
  const int64_t nb = int64_t(p.a_off.size());
  if (nb < 2 || (p.M == 1 && p.rsa == 0)) return;
  for (int64_t i = 0; i < nb; ++i)
    if (p.b_off[size_t(i)] != p.b_off[0] || p.a_off[size_t(i)] != p.a_off[0] + i * p.M * p.rsa) return;
  p.M *= nb;
  p.a_off.resize(1);
  p.b_off.resize(1);
}

MatmulPlan make_plan(const Tensor& a, const Tensor& b, const Tensor& out) {
  MatmulPlan p;
  if (a.dim() == 1) {
    p.K = a.size(0);
    p.csa = a.stride(0);
  } else {
    p.M = a.size(-2);
    p.K = a.size(-1);
    p.rsa = a.stride(-2);
    p.csa = a.stride(-1);
  }
  if (b.dim() == 1) {
    p.rsb = b.stride(0);
  } else {
    p.N = b.size(-1);
    p.rsb = b.stride(-2);
    p.csb = b.stride(-1);
  }
  const int64_t out_batch_dims = out.dim() - (a.dim() >= 2) - (b.dim() >= 2);
  Shape out_batch(out.sizes().begin(), out.sizes().begin() + out_batch_dims);
  p.a_off = batch_offsets(a, std::min<int64_t>(a.dim(), 2), out_batch);
  p.b_off = batch_offsets(b, std::min<int64_t>(b.dim(), 2), out_batch);
  fold_batches(p);
  return p;
}

template <typename T>
void run_batches(const MatmulPlan& p, const T* A, const T* B, T* C, int64_t lo, int64_t hi) {
  for (int64_t i = lo; i < hi; ++i)
    gemm<T>(p.M, p.N, p.K, T(1), A + p.a_off[size_t(i)], p.rsa, p.csa, B + p.b_off[size_t(i)], p.rsb, p.csb,
            T(0), C + i * p.M * p.N, p.N, 1);
}

// 16-bit floats: each matrix is widened to contiguous float32, multiplied, then narrowed.
template <typename T>
void run_batches_16(const MatmulPlan& p, const T* A, const T* B, T* C, int64_t lo, int64_t hi) {
  std::vector<float> a32(size_t(p.M * p.K)), b32(size_t(p.K * p.N)), c32(size_t(p.M * p.N));
  for (int64_t bi = lo; bi < hi; ++bi) {
    const T* a = A + p.a_off[size_t(bi)];
    const T* b = B + p.b_off[size_t(bi)];
    for (int64_t i = 0; i < p.M; ++i)
      for (int64_t k = 0; k < p.K; ++k) a32[size_t(i * p.K + k)] = float(a[i * p.rsa + k * p.csa]);
    for (int64_t k = 0; k < p.K; ++k)
      for (int64_t j = 0; j < p.N; ++j) b32[size_t(k * p.N + j)] = float(b[k * p.rsb + j * p.csb]);
    gemm<float>(p.M, p.N, p.K, 1.f, a32.data(), p.K, 1, b32.data(), p.N, 1, 0.f, c32.data(), p.N, 1);
    T* c = C + bi * p.M * p.N;
    for (int64_t i = 0; i < p.M * p.N; ++i) c[i] = T(c32[size_t(i)]);
  }
}

}  // namespace

void matmul_kernel(std::span<const Tensor> inputs, const Tensor& out, const Attrs&) {
  const Tensor& a = inputs[0];
  const Tensor& b = inputs[1];
  DUET_ASSERT(out.is_contiguous() && a.dtype() == out.dtype() && b.dtype() == out.dtype(),
              "matmul kernel expects a contiguous output of the operands' dtype");
  const MatmulPlan p = make_plan(a, b, out);
  const int64_t nb = int64_t(p.a_off.size());
  const int64_t macs = p.M * p.N * std::max<int64_t>(p.K, 1);
  // OpenBLAS threads internally, so it gets the batch serially.
  const bool batch_parallel =
      nb > 1 && macs < kBatchParallelMacs && get_gemm_backend() != GemmBackend::OpenBLAS;
  visit_floating(out.dtype(), "matmul", [&]<typename T>() {
    const T* A = static_cast<const T*>(a.data_ptr());
    const T* B = static_cast<const T*>(b.data_ptr());
    T* C = static_cast<T*>(out.data_ptr());
    auto run = [&](int64_t lo, int64_t hi) {
      if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) run_batches<T>(p, A, B, C, lo, hi);
      else run_batches_16<T>(p, A, B, C, lo, hi);
    };
    if (batch_parallel) parallel_for(0, nb, std::max<int64_t>(1, kBatchParallelMacs / 4 / macs), run);
    else run(0, nb);
  });
}

}  // namespace duet::cpu
