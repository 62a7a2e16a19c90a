// CPU kernel of topk_indices (core/ops.def; shape in core/ops/reduction.cpp): for every
// line along `dim` (any strides), the indices of its k best values, best first. The order
// is total, so the result is unique: larger values first (smaller with largest = false),
// NaN as the largest value, equal values by lower index. Lines run in parallel; each
// partial_sorts a (value, index) copy of its line.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "core/parallel.h"
#include "core/shape.h"
#include "kernels/cpu/kernels.h"

namespace duet::cpu {
namespace {

// Whether a comes before b when the largest come first (NaN the largest; ties: lower index).
template <typename T>
bool before_largest(const std::pair<T, int64_t>& a, const std::pair<T, int64_t>& b) {
  if constexpr (std::is_floating_point_v<T>) {
    const bool an = std::isnan(a.first), bn = std::isnan(b.first);
    if (an || bn) return an && !bn ? true : an == bn ? a.second < b.second : false;
  }
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}
// Smallest first: NaN (the largest) last.
template <typename T>
bool before_smallest(const std::pair<T, int64_t>& a, const std::pair<T, int64_t>& b) {
  if constexpr (std::is_floating_point_v<T>) {
    const bool an = std::isnan(a.first), bn = std::isnan(b.first);
    if (an || bn) return !an && bn ? true : an == bn ? a.second < b.second : false;
  }
  return a.first < b.first || (a.first == b.first && a.second < b.second);
}

template <typename S>
void topk_lines(const Tensor& x, const Tensor& out, int64_t dim, int64_t k, bool largest) {
  // Compare 16-bit floats as float; the others as themselves.
  using T = std::conditional_t<std::is_same_v<S, Half> || std::is_same_v<S, BFloat16>, float, S>;
  const int64_t n = x.size(dim), lines = n > 0 ? x.numel() / n : 0;
  // Lines in row-major order of the other dims; their offsets through x's and out's strides.
  Shape outer = x.sizes();
  outer.erase(outer.begin() + dim);
  const S* src = x.data<S>();
  int64_t* dst = out.data<int64_t>();
  parallel_for(0, lines, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, n)), [&](int64_t lo, int64_t hi) {
    std::vector<std::pair<T, int64_t>> line(static_cast<size_t>(n));
    for (int64_t l = lo; l < hi; ++l) {
      int64_t rest = l, xo = 0, oo = 0;
      for (int64_t d = int64_t(outer.size()) - 1; d >= 0; --d) {
        const int64_t full = d < dim ? d : d + 1, i = rest % outer[size_t(d)];
        rest /= outer[size_t(d)];
        xo += i * x.stride(full);
        oo += i * out.stride(full);
      }
      for (int64_t i = 0; i < n; ++i) line[size_t(i)] = {T(src[xo + i * x.stride(dim)]), i};
      if (largest) std::partial_sort(line.begin(), line.begin() + k, line.end(), before_largest<T>);
      else std::partial_sort(line.begin(), line.begin() + k, line.end(), before_smallest<T>);
      for (int64_t j = 0; j < k; ++j) dst[oo + j * out.stride(dim)] = line[size_t(j)].second;
    }
  });
}

}  // namespace

void topk_indices_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  const Tensor& x = in[0];
  const int64_t k = attrs.get<int64_t>("k");
  if (out.numel() == 0) return;
  if (x.dim() == 0) {  // k == 1
    out.data<int64_t>()[0] = 0;
    return;
  }
  const int64_t dim = wrap_dim(attrs.get<int64_t>("dim"), x.dim(), "topk_indices");
  visit_dtype(x.dtype(), [&]<typename S>() {
    if constexpr (!std::is_same_v<S, bool>) topk_lines<S>(x, out, dim, k, attrs.get<bool>("largest"));
  });
}

}  // namespace duet::cpu
