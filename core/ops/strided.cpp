// as_strided and as_strided_scatter: a strided window into a tensor's elements, and the
// tensor with such a window overwritten. Graph capture rewrites a read of a view taken
// after a write, and a write through a view, into these two (Note [Functionalization] in
// graph/capture.cpp); users may call them too.
//
// Note [as_strided over elements]: the size, stride and offset index the input's
// elements taken in row-major (contiguous) order, whatever the input's own layout:
// element (i0, i1, ...) of as_strided(x, size, stride, offset) is element
// offset + i0*stride0 + i1*stride1 + ... of x.flatten(). For a contiguous x that is
// PyTorch's x.as_strided(size, stride, x.storage_offset() + offset); a non-contiguous x
// is copied first (as reshape does), so the op is a pure function of x's values and a
// graph can treat it like any view. as_strided_scatter(base, src, ...) is base with the
// elements that window reads replaced by src; the window may not visit an element twice.
#include <algorithm>
#include <numeric>

#include "core/dispatch.h"
#include "core/ops/shape_fns.h"

namespace duet {
namespace {

struct Window {
  std::vector<int64_t> size, stride;
  int64_t offset;
};

// Validates the window's attrs against an input of `numel` elements.
Window window(const char* op, const Attrs& attrs, int64_t numel) {
  Window w{attrs.get<std::vector<int64_t>>("size"), attrs.get<std::vector<int64_t>>("stride"),
           attrs.get_or<int64_t>("offset", 0)};
  DUET_CHECK(w.size.size() == w.stride.size(), op, ": size ", w.size, " and stride ", w.stride,
             " must have the same length");
  DUET_CHECK(w.offset >= 0, op, ": offset must be >= 0, got ", w.offset);
  int64_t last = w.offset;  // the largest element index the window reads
  bool empty = false;
  for (size_t i = 0; i < w.size.size(); ++i) {
    DUET_CHECK(w.size[i] >= 0 && w.stride[i] >= 0, op, ": size ", w.size, " and stride ", w.stride,
               " must be non-negative");
    empty = empty || w.size[i] == 0;
    int64_t step = 0;
    DUET_CHECK(!__builtin_mul_overflow(std::max<int64_t>(w.size[i] - 1, 0), w.stride[i], &step) &&
                   !__builtin_add_overflow(last, step, &last),
               op, ": size ", w.size, " with stride ", w.stride, " overflows 64-bit indices");
  }
  checked_numel(w.size, op);
  DUET_CHECK(empty || last < numel, op, ": size ", w.size, ", stride ", w.stride, " and offset ", w.offset,
             " reach element ", last, " of an input with ", numel, " elements");
  return w;
}

}  // namespace

TensorMeta as_strided_shape(OpKind, std::span<const Tensor> in, const Attrs& attrs) {
  const Tensor& x = in[0];
  Window w = window("as_strided", attrs, x.numel());
  return {Shape(w.size), x.dtype(), x.device()};
}

Tensor as_strided_view(std::span<const Tensor> in, const Attrs& attrs, const TensorMeta& meta) {
  Tensor x = in[0].is_contiguous() ? in[0] : run_kernel(OpKind::copy, in, {}, {in[0].sizes(), in[0].dtype(), in[0].device()});
  auto impl = std::make_shared<TensorImpl>(x.storage(), meta.shape, Shape(attrs.get<std::vector<int64_t>>("stride")),
                                           x.storage_offset() + attrs.get_or<int64_t>("offset", 0), x.dtype(),
                                           x.device());
  impl->is_view_ = true;
  return Tensor(std::move(impl));
}

TensorMeta as_strided_scatter_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  const Tensor &base = in[0], &src = in[1];
  Device d = common_device(op, in);
  Window w = window("as_strided_scatter", attrs, base.numel());
  DUET_CHECK(src.sizes() == Shape(w.size), "as_strided_scatter: src of shape ", src.sizes(),
             " does not match the window's size ", w.size);
  DUET_CHECK(src.dtype() == base.dtype(), "as_strided_scatter: src has dtype ", dtype_name(src.dtype()),
             " but base has dtype ", dtype_name(base.dtype()), "; cast it first");
  // Sufficient for no element to be visited twice: with dims of size > 1 sorted by stride,
  // each stride passes the span of the smaller dims.
  std::vector<size_t> dims;
  for (size_t i = 0; i < w.size.size(); ++i)
    if (w.size[i] > 1) dims.push_back(i);
  std::sort(dims.begin(), dims.end(), [&](size_t a, size_t b) { return w.stride[a] < w.stride[b]; });
  int64_t span = 1;
  for (size_t i : dims) {
    DUET_CHECK(w.stride[i] >= span, "as_strided_scatter: size ", w.size, " with stride ", w.stride,
               " visits some elements more than once, so the result would depend on the order of writes");
    span = w.stride[i] * (w.size[i] - 1) + span;
  }
  return {base.sizes(), base.dtype(), d};
}

}  // namespace duet
