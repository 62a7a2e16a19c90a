// Reference topk_indices (reference_topk.h).
#include "tests/reference/reference_topk.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace duet::ref {

RefTensor topk_indices(const RefTensor& x, int64_t dim, int64_t k, bool largest) {
  RefTensor out;
  out.dtype = DType::Int64;
  out.shape = x.shape;
  if (x.dim() == 0) {
    out.v = {0.0};
    return out;
  }
  const int64_t n = x.shape[size_t(dim)];
  out.shape[size_t(dim)] = k;
  out.v.assign(size_t(numel(out.shape)), 0.0);
  // A key where larger is better: NaN above +inf; smallest-first negates the others.
  auto key = [&](double v) { return std::isnan(v) ? (largest ? INFINITY : -INFINITY) : (largest ? v : -v); };
  auto is_nan_rank = [&](double v) { return std::isnan(v) ? (largest ? 1 : -1) : 0; };
  for (int64_t flat = 0; flat < x.numel(); ++flat) {
    std::vector<int64_t> idx = unravel(flat, x.shape);
    if (idx[size_t(dim)] != 0) continue;  // one visit per line
    std::vector<double> vals(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      idx[size_t(dim)] = i;
      vals[size_t(i)] = x.v[size_t(ravel(idx, x.shape))];
    }
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      const double va = vals[size_t(a)], vb = vals[size_t(b)];
      if (is_nan_rank(va) != is_nan_rank(vb)) return is_nan_rank(va) > is_nan_rank(vb);
      return key(va) > key(vb);
    });
    for (int64_t j = 0; j < k; ++j) {
      idx[size_t(dim)] = j;
      out.v[size_t(ravel(idx, out.shape))] = double(order[size_t(j)]);
    }
  }
  return out;
}

}  // namespace duet::ref
