// StridedLoop: walks an output and its inputs, broadcast to the output's shape, in runs
// along the innermost dim — the loop under every elementwise kernel (a small cousin of
// PyTorch's TensorIterator).
//
//   StridedLoop loop(out, inputs);              // operand 0 is out, then the inputs
//   loop.run(/*grain=*/32768, [&](char** p, const int64_t* stride, int64_t n) {
//     for (int64_t i = 0; i < n; ++i) ... p[k] + i * stride[k] ...   // strides in bytes
//   });
//   if (loop.all_contiguous()) ...                // a fast path can use flat pointers
//
// Dims that are contiguous with each other in every operand are merged, so a contiguous
// tensor is one run; size-1 dims are dropped. Work splits across threads by element range.
#pragma once

#include <algorithm>
#include <array>
#include <span>

#include "core/parallel.h"
#include "core/tensor.h"

namespace duet::cpu {

class StridedLoop {
 public:
  static constexpr int kMaxOperands = 16;  // fused groups (graph/fusion.cpp) use the most

  StridedLoop(const Tensor& out, std::span<const Tensor> inputs) {
    nops_ = 1 + int(inputs.size());
    DUET_ASSERT(nops_ <= kMaxOperands, "too many operands");
    const Shape& shape = out.sizes();
    ndim_ = int(shape.size());
    for (int d = 0; d < ndim_; ++d) shape_[d] = shape[d];
    set_operand(0, out, out.strides());
    for (size_t i = 0; i < inputs.size(); ++i)
      set_operand(int(i) + 1, inputs[i], broadcast_strides(inputs[i].sizes(), inputs[i].strides(), shape));
    coalesce();
  }

  int64_t numel() const {
    int64_t n = 1;
    for (int d = 0; d < ndim_; ++d) n *= shape_[d];
    return n;
  }
  int ndim() const { return ndim_; }
  // Whether every operand is one dense run with its element size as stride.
  bool all_contiguous() const {
    if (ndim_ > 1) return false;
    for (int k = 0; k < nops_; ++k)
      if (ndim_ == 1 && stride_[k][0] != elem_size_[k]) return false;
    return true;
  }
  // The length of each run: the innermost dim after merging.
  int64_t inner_size() const { return ndim_ == 0 ? 1 : shape_[ndim_ - 1]; }
  // Operand k's stride in bytes along the innermost dim (0 means broadcast).
  int64_t inner_stride(int k) const { return ndim_ == 0 ? 0 : stride_[k][ndim_ - 1]; }
  char* base(int k) const { return data_[k]; }

  // fn(char** ptrs, const int64_t* inner_strides, int64_t n) for each run; runs are split
  // across threads in chunks of at least `grain` elements.
  template <typename F>
  void run(int64_t grain, F&& fn) const {
    int64_t total = numel();
    if (total == 0) return;
    parallel_for(0, total, grain, [&](int64_t lo, int64_t hi) { run_range(lo, hi, fn); });
  }

  template <typename F>
  void run_range(int64_t lo, int64_t hi, F&& fn) const {
    std::array<int64_t, kMaxOperands> inner{};
    for (int k = 0; k < nops_; ++k) inner[k] = inner_stride(k);
    const int64_t inner_n = inner_size();
    // Multi-index of `lo` and the matching pointers.
    std::array<int64_t, kMaxDims> idx{};
    std::array<char*, kMaxOperands> ptr{};
    int64_t rem = lo;
    for (int d = ndim_ - 1; d >= 0; --d) {
      idx[d] = rem % shape_[d];
      rem /= shape_[d];
    }
    for (int k = 0; k < nops_; ++k) {
      ptr[k] = data_[k];
      for (int d = 0; d < ndim_; ++d) ptr[k] += idx[d] * stride_[k][d];
    }
    int64_t pos = lo;
    while (pos < hi) {
      int64_t start_in_row = ndim_ == 0 ? 0 : idx[ndim_ - 1];
      int64_t n = std::min(inner_n - start_in_row, hi - pos);
      fn(ptr.data(), inner.data(), n);
      pos += n;
      if (pos >= hi) break;
      // Advance to the start of the next row.
      for (int k = 0; k < nops_; ++k) ptr[k] += n * inner[k];
      if (ndim_ > 0) idx[ndim_ - 1] += n;
      for (int d = ndim_ - 1; d > 0 && idx[d] == shape_[d]; --d) {
        for (int k = 0; k < nops_; ++k) ptr[k] += stride_[k][d - 1] - shape_[d] * stride_[k][d];
        idx[d] = 0;
        ++idx[d - 1];
      }
    }
  }

 private:
  void set_operand(int k, const Tensor& t, const Shape& strides_elems) {
    data_[k] = static_cast<char*>(t.data_ptr());
    elem_size_[k] = int64_t(t.element_size());
    for (int d = 0; d < ndim_; ++d) stride_[k][d] = strides_elems[d] * elem_size_[k];
  }

  // Drops size-1 dims and merges dim d into d+1 when every operand is contiguous across them.
  void coalesce() {
    int out = 0;
    for (int d = 0; d < ndim_; ++d) {
      if (shape_[d] == 1) continue;
      if (out > 0) {
        bool mergeable = true;
        for (int k = 0; k < nops_; ++k)
          mergeable = mergeable && stride_[k][out - 1] == stride_[k][d] * shape_[d];
        if (mergeable) {
          shape_[out - 1] *= shape_[d];
          for (int k = 0; k < nops_; ++k) stride_[k][out - 1] = stride_[k][d];
          continue;
        }
      }
      shape_[out] = shape_[d];
      for (int k = 0; k < nops_; ++k) stride_[k][out] = stride_[k][d];
      ++out;
    }
    ndim_ = out;
    if (ndim_ == 0) {  // every dim had size 1: one run of length 1
      ndim_ = 1;
      shape_[0] = 1;
      for (int k = 0; k < nops_; ++k) stride_[k][0] = elem_size_[k];
    }
  }

  int nops_ = 0;
  int ndim_ = 0;
  std::array<int64_t, kMaxDims> shape_{};
  std::array<std::array<int64_t, kMaxDims>, kMaxOperands> stride_{};
  std::array<char*, kMaxOperands> data_{};
  std::array<int64_t, kMaxOperands> elem_size_{};
};

}  // namespace duet::cpu
