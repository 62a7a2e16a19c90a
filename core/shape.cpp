// Shape arithmetic shared by every shape function and kernel.
#include "core/shape.h"

#include <algorithm>

#include "core/error.h"

namespace duet {

std::string shape_str(const Shape& s) { return detail::concat(s); }

// Note [Size limits]: every size duet computes from a shape is an int64 (element counts,
// strides, offsets) and every byte count a size_t derived from one, so a shape is accepted
// only when (a) its element count, (b) the product of its sizes with 0 read as 1 (the
// largest contiguous stride, which a shape with a 0 size still has) and (c) its byte count
// for the dtype all fit in int64. Storage then never exceeds 2^63 - 1 bytes, and offsets
// in elements or bytes within it cannot wrap. Views (expand, slice, permute) never reach
// past their base's storage, so their extents are bounded by it; an expanded view may
// still have up to 2^63 - 1 elements, which is why ops whose work grows with their input
// (reductions, matmul) bound that work in their shape functions (Note [Work limits] in
// core/ops/common.cpp). infer_meta applies (a)-(c) to every op's result.
int64_t checked_numel(const Shape& shape, const char* op) {
  DUET_CHECK(int64_t(shape.size()) <= kMaxDims, op, ": shape ", shape, " has ", shape.size(),
             " dims; at most ", kMaxDims, " are supported");
  int64_t n = 1, span = 1;
  for (int64_t s : shape) {
    DUET_CHECK(s >= 0, op, ": negative size in shape ", shape);
    DUET_CHECK(!__builtin_mul_overflow(n, s, &n), op, ": the element count of shape ", shape,
               " overflows int64");
    DUET_CHECK(!__builtin_mul_overflow(span, std::max<int64_t>(s, 1), &span), op, ": the strides of shape ",
               shape, " overflow int64");
  }
  return n;
}

int64_t checked_nbytes(const Shape& shape, DType dtype, const char* op) {
  int64_t n = checked_numel(shape, op), bytes = 0;
  DUET_CHECK(!__builtin_mul_overflow(n, int64_t(dtype_size(dtype)), &bytes), op,
             ": shape ", shape, " of ", dtype_name(dtype), " needs more than 2^63 - 1 bytes, the most a tensor "
             "can address");
  return bytes;
}

Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size());
  int64_t acc = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    st[i] = acc;
    acc *= std::max<int64_t>(shape[i], 1);
  }
  return st;
}

bool is_contiguous(const Shape& shape, const Shape& strides) {
  int64_t expected = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] == 1) continue;
    if (shape[i] == 0) return true;
    if (strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;
  DUET_CHECK(dim >= lo && dim <= hi, op, ": dim ", dim, " is out of range for a tensor with ", ndim,
             " dims (expected a dim in [", lo, ", ", hi, "])");
  if (ndim == 0) return 0;
  return dim < 0 ? dim + ndim : dim;
}

std::vector<int64_t> wrap_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op) {
  std::vector<int64_t> out;
  if (dims.empty()) {
    for (int64_t i = 0; i < ndim; ++i) out.push_back(i);
    return out;
  }
  for (int64_t d : dims) out.push_back(wrap_dim(d, ndim, op));
  if (ndim == 0) return {};
  std::sort(out.begin(), out.end());
  DUET_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), op, ": dims ", dims,
             " name a dim more than once");
  return out;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    DUET_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", a, " and ", b,
               " cannot be broadcast together (dim ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Shape broadcast_strides(const Shape& shape, const Shape& strides, const Shape& target) {
  Shape out(target.size(), 0);
  size_t lead = target.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i)
    out[lead + i] = (shape[i] == 1 && target[lead + i] != 1) ? 0 : strides[i];
  return out;
}

std::optional<Shape> view_strides(const Shape& old_shape, const Shape& old_strides, const Shape& new_shape) {
  int64_t numel = numel_of(old_shape);
  if (numel == 0 || old_shape.empty()) return contiguous_strides(new_shape);
  Shape new_strides(new_shape.size());
  // Walk old dims from the back, grouping runs of dims that are contiguous with each other
  // ("chunks"); each chunk must map onto a run of new dims with the same element count.
  int64_t view_d = int64_t(new_shape.size()) - 1;
  int64_t chunk_base_stride = old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = int64_t(old_shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_shape[d];
    bool chunk_ends = d == 0 || (old_shape[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_base_stride);
    if (chunk_ends) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        new_strides[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = old_strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return new_strides;
}

}  // namespace duet
