// View ops: reshape, permute, expand, slice. Their shape functions validate; their view
// builders make a TensorImpl over the input's storage (reshape copies first only when the
// input's strides cannot express the new shape).
#include <algorithm>

#include "core/dispatch.h"
#include "core/ops/shape_fns.h"

namespace duet {
namespace {

// Resolves a single -1 in a requested shape against the element count.
Shape infer_size(const Shape& requested, int64_t numel, const Shape& from) {
  Shape out = requested;
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      DUET_CHECK(infer_at < 0, "reshape: only one dim can be -1, got shape ", requested);
      infer_at = int64_t(i);
    } else {
      DUET_CHECK(out[i] >= 0, "reshape: invalid size ", out[i], " in shape ", requested);
      DUET_CHECK(!__builtin_mul_overflow(known, out[i], &known), "reshape: shape ", requested,
                 " is invalid for an input of shape ", from, " (", numel, " elements)");
    }
  }
  if (infer_at >= 0) {
    DUET_CHECK(known != 0 && numel % known == 0, "reshape: shape ", requested, " is invalid for an input of shape ",
               from, " (", numel, " elements)");
    out[infer_at] = numel / known;
  }
  DUET_CHECK(numel_of(out) == numel, "reshape: shape ", requested, " is invalid for an input of shape ", from, " (",
             numel, " elements)");
  return out;
}

struct SliceRange {
  int64_t dim, start, size, step;
};

SliceRange normalize_slice(const Tensor& x, const Attrs& attrs) {
  int64_t dim = wrap_dim(attrs.get<int64_t>("dim"), x.dim(), "slice");
  DUET_CHECK(x.dim() > 0, "slice: cannot slice a 0-dim tensor");
  int64_t n = x.size(dim);
  int64_t step = attrs.get_or<int64_t>("step", 1);
  DUET_CHECK(step > 0, "slice: step must be positive, got ", step);
  int64_t start = attrs.get_or<int64_t>("start", 0), end = attrs.get_or<int64_t>("end", n);
  // Python semantics: negative indices count from the end, out-of-range ones clamp.
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  return {dim, start, (end - start + step - 1) / step, step};
}

Tensor make_view(const Tensor& x, Shape sizes, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>(x.storage(), std::move(sizes), std::move(strides), offset, x.dtype(),
                                           x.device());
  impl->is_view_ = true;
  return Tensor(std::move(impl));
}

}  // namespace

TensorMeta reshape_shape(OpKind, std::span<const Tensor> in, const Attrs& attrs) {
  const Tensor& x = in[0];
  Shape shape = infer_size(attrs.get<std::vector<int64_t>>("shape"), x.numel(), x.sizes());
  if (attrs.get_or<bool>("view_only", false))
    DUET_CHECK(view_strides(x.sizes(), x.strides(), shape).has_value(), "view: shape ", shape,
               " is incompatible with the input's shape ", x.sizes(), " and strides ", x.strides(),
               "; use reshape() (which copies when it must) or call contiguous() first");
  return {shape, x.dtype(), x.device()};
}

Tensor reshape_view(std::span<const Tensor> in, const Attrs&, const TensorMeta& meta) {
  const Tensor& x = in[0];
  if (auto strides = view_strides(x.sizes(), x.strides(), meta.shape))
    return make_view(x, meta.shape, *strides, x.storage_offset());
  Tensor copy = run_kernel(OpKind::copy, in, {}, {x.sizes(), x.dtype(), x.device()});
  return make_view(copy, meta.shape, contiguous_strides(meta.shape), 0);
}

TensorMeta permute_shape(OpKind, std::span<const Tensor> in, const Attrs& attrs) {
  const Tensor& x = in[0];
  const auto& dims = attrs.get<std::vector<int64_t>>("dims");
  DUET_CHECK(int64_t(dims.size()) == x.dim(), "permute: got ", dims.size(), " dims ", dims, " for a tensor with ",
             x.dim(), " dims");
  std::vector<bool> seen(dims.size(), false);
  Shape out(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i], x.dim(), "permute");
    DUET_CHECK(!seen[d], "permute: dims ", dims, " repeat dim ", d);
    seen[d] = true;
    out[i] = x.size(d);
  }
  return {out, x.dtype(), x.device()};
}

Tensor permute_view(std::span<const Tensor> in, const Attrs& attrs, const TensorMeta& meta) {
  const Tensor& x = in[0];
  const auto& dims = attrs.get<std::vector<int64_t>>("dims");
  Shape strides(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) strides[i] = x.stride(dims[i]);
  return make_view(x, meta.shape, strides, x.storage_offset());
}

TensorMeta expand_shape(OpKind, std::span<const Tensor> in, const Attrs& attrs) {
  const Tensor& x = in[0];
  const auto& req = attrs.get<std::vector<int64_t>>("shape");
  DUET_CHECK(int64_t(req.size()) >= x.dim(), "expand: the target shape ", req, " has fewer dims than the input ",
             x.sizes());
  Shape out(req.size());
  size_t lead = req.size() - size_t(x.dim());
  for (size_t i = 0; i < req.size(); ++i) {
    if (i < lead) {
      DUET_CHECK(req[i] >= 0, "expand: a new leading dim cannot be ", req[i], " (target ", req, ")");
      out[i] = req[i];
      continue;
    }
    int64_t have = x.size(int64_t(i - lead));
    int64_t want = req[i] == -1 ? have : req[i];
    DUET_CHECK(want == have || have == 1, "expand: the input's size ", have, " in dim ", i - lead,
               " must be 1 or match the target size ", want, " (input ", x.sizes(), ", target ", req, ")");
    out[i] = want;
  }
  return {out, x.dtype(), x.device()};
}

Tensor expand_view(std::span<const Tensor> in, const Attrs&, const TensorMeta& meta) {
  const Tensor& x = in[0];
  return make_view(x, meta.shape, broadcast_strides(x.sizes(), x.strides(), meta.shape), x.storage_offset());
}

TensorMeta slice_shape(OpKind, std::span<const Tensor> in, const Attrs& attrs) {
  const Tensor& x = in[0];
  SliceRange r = normalize_slice(x, attrs);
  Shape out = x.sizes();
  out[r.dim] = r.size;
  return {out, x.dtype(), x.device()};
}

Tensor slice_view(std::span<const Tensor> in, const Attrs& attrs, const TensorMeta& meta) {
  const Tensor& x = in[0];
  SliceRange r = normalize_slice(x, attrs);
  Shape strides = x.strides();
  strides[r.dim] *= r.step;
  return make_view(x, meta.shape, strides, x.storage_offset() + r.start * x.stride(r.dim));
}

}  // namespace duet
