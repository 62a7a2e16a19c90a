// CUDA kernel of topk_indices, with the CPU's semantics (kernels/cpu/topk.cpp): the k best
// values of each line along `dim`, best first, larger first (smaller with largest =
// false), NaN the largest value, equal values by lower index. The order is total, so the
// result is the CPU's exactly. x is first made [lines, n] contiguous (a permute and a
// copy); one thread per line then selects k times, each time the best element after the
// previous one in the order: O(k n) per line, for the small k and n of sampling (v1).
// Figures: not yet measured on a GPU.
#include <vector>

#include "core/functions.h"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/registration.h"

namespace duet::cuda {
namespace {

template <typename C>
__device__ inline bool is_nan(C v) {
  if constexpr (std::is_floating_point_v<C>) return v != v;
  else return false;
}

// Whether (a, ia) comes before (b, ib): larger first (or smaller), NaN the largest, ties
// by lower index.
template <typename C>
__device__ inline bool before(C a, int64_t ia, C b, int64_t ib, bool largest) {
  const bool an = is_nan(a), bn = is_nan(b);
  if (an || bn) {
    if (an && bn) return ia < ib;
    return largest ? an : bn;  // largest first: the NaN leads; smallest first: it trails
  }
  if (a == b) return ia < ib;
  return largest ? a > b : a < b;
}

template <typename T>
__global__ void topk_kernel(const T* x, int64_t lines, int64_t n, int64_t k, int64_t after, bool largest,
                            int64_t* out) {
  using C = cuda_compute_t<T>;
  DUET_CUDA_KERNEL_LOOP(l, lines) {
    const T* row = x + l * n;
    // Line l of the other dims in row-major order: out offset before * k * after + a.
    const int64_t before_dims = l / after, a = l % after;
    int64_t prev = -1;
    C prev_v{};
    for (int64_t j = 0; j < k; ++j) {
      int64_t best = -1;
      C best_v{};
      for (int64_t i = 0; i < n; ++i) {
        const C v = C(row[i]);
        if (prev >= 0 && !before(prev_v, prev, v, i, largest)) continue;
        if (best < 0 || before(v, i, best_v, best, largest)) best = i, best_v = v;
      }
      out[(before_dims * k + j) * after + a] = best;
      prev = best, prev_v = best_v;
    }
  }
}

void topk_indices_cuda(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  if (out.numel() == 0) return;
  DeviceGuard guard(out.device().index);
  DUET_ASSERT(out.is_contiguous(), "topk_indices writes a contiguous result");
  const Tensor& x = in[0];
  const int64_t k = attrs.get<int64_t>("k");
  int64_t dim = 0, n = 1, after = 1;
  Tensor lines_view = x.reshape({1, 1});
  if (x.dim() > 0) {
    dim = wrap_dim(attrs.get<int64_t>("dim"), x.dim(), "topk_indices");
    n = x.size(dim);
    std::vector<int64_t> perm;
    for (int64_t d = 0; d < x.dim(); ++d)
      if (d != dim) perm.push_back(d);
    perm.push_back(dim);
    for (int64_t d = dim + 1; d < x.dim(); ++d) after *= x.size(d);
    lines_view = x.permute(perm).contiguous();
  }
  const int64_t lines = n > 0 ? lines_view.numel() / n : 0;
  const bool largest = attrs.get<bool>("largest");
  visit_cuda_dtype(x.dtype(), [&]<typename T>() {
    if constexpr (!std::is_same_v<T, bool>) {
      topk_kernel<T><<<grid_for(lines), kThreads, 0, current_stream()>>>(
          static_cast<const T*>(lines_view.data_ptr()), lines, n, k, after, largest, out.data<int64_t>());
    }
  });
  DUET_CUDA_CHECK_LAUNCH();
}

}  // namespace

void register_topk_kernels() { register_kernel(OpKind::topk_indices, DeviceType::CUDA, topk_indices_cuda); }

}  // namespace duet::cuda
