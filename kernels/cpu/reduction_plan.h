// The layout side of the reduction kernels: splits an input's dims into kept (output)
// dims and reduced dims, merges dims that are contiguous with each other, and walks a dim
// list in runs along its innermost dim. Kept dims keep the output's row-major order, so a
// flat kept index is the index into the (contiguous) output.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace duet::cpu {

struct DimList {
  int n = 0;
  std::array<int64_t, kMaxDims> size{};
  std::array<int64_t, kMaxDims> stride{};  // in elements

  void push(int64_t s, int64_t st) {
    size[n] = s;
    stride[n] = st;
    ++n;
  }
  int64_t numel() const {
    int64_t m = 1;
    for (int d = 0; d < n; ++d) m *= size[d];
    return m;
  }
  // Drops size-1 dims and merges a dim into the one before it when together they step
  // through memory as one dim. Row-major flat indices are unchanged by this.
  void coalesce() {
    int k = 0;
    for (int d = 0; d < n; ++d) {
      if (size[d] == 1) continue;
      if (k > 0 && stride[k - 1] == stride[d] * size[d]) {
        size[k - 1] *= size[d];
        stride[k - 1] = stride[d];
        continue;
      }
      size[k] = size[d];
      stride[k] = stride[d];
      ++k;
    }
    n = k;
  }
  // Element offset of row-major flat index i.
  int64_t offset_of(int64_t i) const {
    int64_t off = 0;
    for (int d = n - 1; d >= 0; --d) {
      off += (i % size[d]) * stride[d];
      i /= size[d];
    }
    return off;
  }
  int64_t inner_size() const { return n == 0 ? 1 : size[n - 1]; }
  int64_t inner_stride() const { return n == 0 ? 1 : stride[n - 1]; }
};

// Calls fn(offset, len, stride, first_index) for the runs covering flat indices [lo, hi)
// of `dl`; a run is a stretch along the innermost dim.
template <typename F>
void walk_runs(const DimList& dl, int64_t lo, int64_t hi, F&& fn) {
  if (lo >= hi) return;
  if (dl.n == 0) {
    fn(int64_t(0), int64_t(1), int64_t(1), int64_t(0));
    return;
  }
  const int last = dl.n - 1;
  std::array<int64_t, kMaxDims> idx{};
  int64_t rem = lo, off = 0;
  for (int d = last; d >= 0; --d) {
    idx[d] = rem % dl.size[d];
    rem /= dl.size[d];
    off += idx[d] * dl.stride[d];
  }
  int64_t pos = lo;
  while (pos < hi) {
    int64_t len = std::min(dl.size[last] - idx[last], hi - pos);
    fn(off, len, dl.stride[last], pos);
    pos += len;
    if (pos >= hi) break;
    off += len * dl.stride[last];
    idx[last] += len;
    for (int d = last; d > 0 && idx[d] == dl.size[d]; --d) {
      off += dl.stride[d - 1] - dl.size[d] * dl.stride[d];
      idx[d] = 0;
      ++idx[d - 1];
    }
  }
}

struct ReducePlan {
  DimList kept;     // output dims, in output order
  DimList reduced;  // reduced dims
};

// `dims` sorted, as wrap_dims returns them. With `reorder`, reduced dims are sorted so the
// smallest stride is innermost (faster, changes only the summation order); arg-reductions
// pass false so the flat reduced index stays the logical one.
inline ReducePlan make_reduce_plan(const Tensor& x, const std::vector<int64_t>& dims, bool reorder) {
  ReducePlan p;
  std::vector<std::pair<int64_t, int64_t>> red;
  size_t k = 0;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (k < dims.size() && dims[k] == d) {
      red.emplace_back(x.size(d), x.stride(d));
      ++k;
    } else {
      p.kept.push(x.size(d), x.stride(d));
    }
  }
  if (reorder) {
    // Broadcast (stride-0) dims go outermost so a real stride-1 dim can be the inner run.
    auto key = [](int64_t st) { return st == 0 ? INT64_MAX : st; };
    std::stable_sort(red.begin(), red.end(), [&](auto& a, auto& b) { return key(a.second) > key(b.second); });
  }
  for (auto& [s, st] : red) p.reduced.push(s, st);
  p.kept.coalesce();
  p.reduced.coalesce();
  return p;
}

}  // namespace duet::cpu
