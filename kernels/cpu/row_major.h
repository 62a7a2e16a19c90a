// RowMajor<T>: a tensor's values in row-major order for a kernel that walks them in that
// order: the tensor's own memory when it is contiguous, else a gathered copy (an odometer
// walk through its strides). Used by the normalisation kernels (batch_norm.cpp,
// layer_norm.cpp), which read their inputs more than once.
//
//   const RowMajor<float> xs(x);    // x any strides
//   const float* p = xs.data();     // x.numel() values, row-major
//   RowMajor<float> none;           // data() nullptr (an optional operand that is absent)
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace duet::cpu {

// A tensor's values in row-major order: in place when contiguous, else gathered.
template <typename T>
class RowMajor {
 public:
  RowMajor() = default;  // no tensor: data() is nullptr
  RowMajor(const RowMajor&) = delete;  // data() may point into copy_
  RowMajor(RowMajor&&) = default;      // the vector's buffer moves with it
  explicit RowMajor(const Tensor& t) {
    if (t.is_contiguous()) {
      p_ = t.data<T>();
      return;
    }
    copy_.resize(size_t(t.numel()));
    const int64_t nd = t.dim();
    std::vector<int64_t> idx(size_t(nd), 0);
    const T* src = t.data<T>();
    int64_t off = 0;
    for (T& v : copy_) {
      v = src[off];
      for (int64_t d = nd - 1; d >= 0; --d) {  // odometer step
        if (++idx[size_t(d)] < t.size(d)) {
          off += t.stride(d);
          break;
        }
        off -= t.stride(d) * (t.size(d) - 1);
        idx[size_t(d)] = 0;
      }
    }
    p_ = copy_.data();
  }
  const T* data() const { return p_; }

 private:
  const T* p_ = nullptr;
  std::vector<T> copy_;
};

}  // namespace duet::cpu
