// Shapes and strides: element and byte counts with overflow checks, contiguous strides,
// NumPy broadcasting, dimension wrapping (dim -1 is the last), and view-compatible strides.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace duet {

using Shape = std::vector<int64_t>;
inline constexpr int kMaxDims = 8;

std::string shape_str(const Shape& s);  // "[2, 3]"

// Number of elements; throws naming `op` if a size is negative, or if the product of the
// sizes (the element count, or the largest contiguous stride of a shape with a 0 size)
// overflows int64. See Note [Size limits] in shape.cpp.
int64_t checked_numel(const Shape& shape, const char* op);
// Bytes of a contiguous tensor of `shape` and `dtype`; also throws when they do not fit in
// int64, so byte offsets and pointer arithmetic can never wrap.
int64_t checked_nbytes(const Shape& shape, DType dtype, const char* op);
inline int64_t numel_of(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}
Shape contiguous_strides(const Shape& shape);
bool is_contiguous(const Shape& shape, const Shape& strides);

// Wraps a possibly-negative dim into [0, ndim); throws naming `op` when out of range.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);
// Wraps and sorts a list of dims, rejecting repeats. An empty list means "all dims".
std::vector<int64_t> wrap_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op);

// NumPy broadcasting of two shapes; throws naming `op` when they do not broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Strides of `strides`/`shape` viewed as `target` by broadcasting (0 for expanded dims).
Shape broadcast_strides(const Shape& shape, const Shape& strides, const Shape& target);

// Strides that let a tensor of (shape, strides) be viewed as new_shape without copying,
// or nullopt when its memory layout forbids it (PyTorch's computeStride).
std::optional<Shape> view_strides(const Shape& shape, const Shape& strides, const Shape& new_shape);

}  // namespace duet
