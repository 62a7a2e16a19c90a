// Shape functions of reductions (sum, mean, ..., argmax) and of softmax/log_softmax.
#include "core/ops/shape_fns.h"

namespace duet {
namespace {

// The reduced shape: dims removed, or kept as size 1.
Shape reduced_shape(const Shape& in, const std::vector<int64_t>& dims, bool keepdim) {
  Shape out;
  size_t k = 0;
  for (int64_t d = 0; d < int64_t(in.size()); ++d) {
    bool reduced = k < dims.size() && dims[k] == d;
    if (reduced) ++k;
    if (!reduced) out.push_back(in[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

}  // namespace

TensorMeta reduce_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  const Tensor& x = in[0];
  const char* name = op_name(op);
  auto dims = wrap_dims(attrs.get_or<std::vector<int64_t>>("dims", {}), x.dim(), name);
  bool keepdim = attrs.get_or<bool>("keepdim", false);
  check_op_limit(op, x.numel(), kMaxOpReadsLog2, "element reads", [&] { return describe(x); });
  DType dt = x.dtype();
  switch (op) {
    case OpKind::sum:
    case OpKind::prod:
      if (is_integral(dt)) dt = DType::Int64;
      break;
    case OpKind::mean:
    case OpKind::var:
    case OpKind::std:
      DUET_CHECK(is_floating(dt), name, ": expected a floating-point tensor, got ", describe(x),
                 " (cast it with .to(DType::Float32) first)");
      if (op != OpKind::mean) {
        double correction = attrs.has("correction") ? attrs.get_number("correction") : 1.0;
        DUET_CHECK(correction >= 0, name, ": correction must be >= 0, got ", correction);
      }
      break;
    case OpKind::amax:
    case OpKind::amin:
      DUET_CHECK(dt != DType::Bool, name, ": expected a numeric tensor, got ", describe(x));
      for (int64_t d : dims)
        DUET_CHECK(x.size(d) != 0, name, ": cannot reduce over dim ", d, " of size 0 in ", describe(x),
                   " (the result would have no identity)");
      break;
    default:
      break;
  }
  return {reduced_shape(x.sizes(), dims, keepdim), dt, x.device()};
}

TensorMeta arg_reduce_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  const Tensor& x = in[0];
  const char* name = op_name(op);
  DUET_CHECK(x.dtype() != DType::Bool, name, ": expected a numeric tensor, got ", describe(x));
  check_op_limit(op, x.numel(), kMaxOpReadsLog2, "element reads", [&] { return describe(x); });
  bool keepdim = attrs.get_or<bool>("keepdim", false);
  if (!attrs.has("dim")) {
    DUET_CHECK(x.numel() > 0, name, ": cannot take the ", name, " of an empty tensor ", describe(x));
    return {keepdim ? Shape(x.dim(), 1) : Shape{}, DType::Int64, x.device()};
  }
  int64_t dim = wrap_dim(attrs.get<int64_t>("dim"), x.dim(), name);
  DUET_CHECK(x.dim() == 0 || x.size(dim) > 0, name, ": cannot reduce over dim ", dim, " of size 0 in ", describe(x));
  return {reduced_shape(x.sizes(), x.dim() == 0 ? std::vector<int64_t>{} : std::vector<int64_t>{dim}, keepdim),
          DType::Int64, x.device()};
}

TensorMeta topk_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  const Tensor& x = in[0];
  const char* name = op_name(op);
  DUET_CHECK(x.dtype() != DType::Bool, name, ": expected a numeric tensor, got ", describe(x));
  DUET_CHECK(attrs.has("k") && attrs.has("dim") && attrs.has("largest"), name, ": needs attrs k, dim and largest");
  Shape out = x.sizes();
  const int64_t k = attrs.get<int64_t>("k");
  if (x.dim() == 0) {
    wrap_dim(attrs.get<int64_t>("dim"), 0, name);
    DUET_CHECK(k == 1, name, ": k ", k, " is out of range for a 0-dim tensor (expected 1)");
    return {out, DType::Int64, x.device()};
  }
  const int64_t dim = wrap_dim(attrs.get<int64_t>("dim"), x.dim(), name);
  DUET_CHECK(k >= 0 && k <= x.size(dim), name, ": k ", k, " is out of range for dim ", dim, " of size ", x.size(dim),
             " in ", describe(x), " (expected 0 <= k <= ", x.size(dim), ")");
  out[size_t(dim)] = k;
  return {out, DType::Int64, x.device()};
}

TensorMeta softmax_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  const Tensor& x = in[0];
  const char* name = op_name(op);
  DUET_CHECK(is_floating(x.dtype()), name, ": expected a floating-point tensor, got ", describe(x));
  DUET_CHECK(attrs.has("dim"), name, ": a dim is required");
  wrap_dim(attrs.get<int64_t>("dim"), x.dim(), name);
  return {x.sizes(), x.dtype(), x.device()};
}

}  // namespace duet
