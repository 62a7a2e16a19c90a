// Shape functions of index_select, gather, scatter_add, cat and one_hot.
// Index *values* can only be checked once data exists: the kernels check them and throw
// duet::Error naming the op, the bad index and the valid range.
#include "core/ops/shape_fns.h"

namespace duet {
namespace {

void check_index_dtype(OpKind op, const Tensor& index) {
  DUET_CHECK(index.dtype() == DType::Int64 || index.dtype() == DType::Int32, op_name(op),
             ": expected an int64 or int32 index tensor, got ", describe(index));
}

}  // namespace

TensorMeta index_select_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  const Tensor &x = in[0], &index = in[1];
  Device dev = common_device(op, in);
  check_index_dtype(op, index);
  DUET_CHECK(index.dim() <= 1, "index_select: the index must be 0-D or 1-D, got ", describe(index));
  int64_t dim = wrap_dim(attrs.get<int64_t>("dim"), x.dim(), "index_select");
  Shape out = x.sizes();
  if (x.dim() > 0) out[dim] = index.numel();
  return {out, x.dtype(), dev};
}

TensorMeta gather_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  const Tensor &x = in[0], &index = in[1];
  Device dev = common_device(op, in);
  check_index_dtype(op, index);
  int64_t dim = wrap_dim(attrs.get<int64_t>("dim"), x.dim(), "gather");
  DUET_CHECK(index.dim() == x.dim(), "gather: index ", describe(index), " must have as many dims as the input ",
             describe(x));
  for (int64_t d = 0; d < x.dim(); ++d)
    DUET_CHECK(d == dim || index.size(d) <= x.size(d), "gather: index ", describe(index),
               " is larger than the input ", describe(x), " in dim ", d);
  return {index.sizes(), x.dtype(), dev};
}

TensorMeta scatter_add_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  const Tensor &x = in[0], &index = in[1], &src = in[2];
  Device dev = common_device(op, in);
  check_index_dtype(op, index);
  int64_t dim = wrap_dim(attrs.get<int64_t>("dim"), x.dim(), "scatter_add");
  DUET_CHECK(src.dtype() == x.dtype(), "scatter_add: src ", describe(src), " must have the dtype of the input ",
             describe(x));
  DUET_CHECK(index.dim() == x.dim() && src.dim() == x.dim(), "scatter_add: input ", describe(x), ", index ",
             describe(index), " and src ", describe(src), " must have the same number of dims");
  for (int64_t d = 0; d < x.dim(); ++d) {
    DUET_CHECK(index.size(d) <= src.size(d), "scatter_add: index ", describe(index), " is larger than src ",
               describe(src), " in dim ", d);
    DUET_CHECK(d == dim || index.size(d) <= x.size(d), "scatter_add: index ", describe(index),
               " is larger than the input ", describe(x), " in dim ", d);
  }
  check_op_limit(op, index.numel(), kMaxOpReadsLog2, "element reads", [&] { return "index " + describe(index); });
  return {x.sizes(), x.dtype(), dev};
}

TensorMeta cat_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  Device dev = common_device(op, in);
  const Tensor& first = in[0];
  DUET_CHECK(first.dim() > 0, "cat: zero-dim tensors cannot be concatenated (unsqueeze them first)");
  int64_t dim = wrap_dim(attrs.get<int64_t>("dim"), first.dim(), "cat");
  Shape out = first.sizes();
  DType dt = first.dtype();
  out[dim] = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const Tensor& t = in[i];
    DUET_CHECK(t.dim() == first.dim(), "cat: tensor 0 has ", first.dim(), " dims but tensor ", i, " has ",
               t.dim(), " (shapes ", first.sizes(), " and ", t.sizes(), ")");
    for (int64_t d = 0; d < t.dim(); ++d)
      DUET_CHECK(d == dim || t.size(d) == first.size(d), "cat: sizes must match except in dim ", dim,
                 ", but tensor 0 has shape ", first.sizes(), " and tensor ", i, " has shape ", t.sizes());
    DUET_CHECK(!__builtin_add_overflow(out[dim], t.size(dim), &out[dim]), "cat: the sizes in dim ", dim,
               " add up to more than int64 holds (tensor ", i, " has shape ", t.sizes(), ")");
    dt = promote_types(dt, t.dtype());
  }
  return {out, dt, dev};
}

TensorMeta one_hot_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  const Tensor& index = in[0];
  check_index_dtype(op, index);
  int64_t classes = attrs.get<int64_t>("num_classes");
  DUET_CHECK(classes >= 1, "one_hot: num_classes must be >= 1, got ", classes);
  Shape out = index.sizes();
  out.push_back(classes);
  return {out, DType::Int64, index.device()};
}

}  // namespace duet
