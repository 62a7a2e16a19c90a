// Shape functions of the fused attention ops (core/ops.def): q [..., L, E], k [..., S, E],
// v [..., S, Ev], one floating dtype (float32 or float64), the same batch dims (the
// caller broadcasts them: nn::functional::scaled_dot_product_attention expands), attrs
// causal and scale. The forward op's output is flat: the [..., L, Ev] result, then each
// query row's log-sum-exp ([..., L]); the backward op takes that flat output and its
// gradient, and its own output holds dq, dk and dv one after another.
#include "core/ops/attention_geometry.h"
#include "core/ops/shape_fns.h"

namespace duet {
namespace {

void check_qkv(OpKind op, const Tensor& q, const Tensor& k, const Tensor& v, const Attrs& attrs) {
  DUET_CHECK(attrs.has("causal") && attrs.has("scale"), op_name(op), ": needs attrs causal and scale");
  DUET_CHECK(q.dim() >= 2 && k.dim() == q.dim() && v.dim() == q.dim(), op_name(op),
             ": q, k and v need the same number of dims, at least 2 ([..., L, E]), got q ", describe(q), ", k ",
             describe(k), ", v ", describe(v));
  DUET_CHECK((q.dtype() == DType::Float32 || q.dtype() == DType::Float64) && k.dtype() == q.dtype() &&
                 v.dtype() == q.dtype(),
             op_name(op), ": q, k and v must all be float32 or all float64, got q ", describe(q), ", k ", describe(k),
             ", v ", describe(v));
  const Shape batch(q.sizes().begin(), q.sizes().end() - 2);
  DUET_CHECK(Shape(k.sizes().begin(), k.sizes().end() - 2) == batch &&
                 Shape(v.sizes().begin(), v.sizes().end() - 2) == batch,
             op_name(op), ": q, k and v must have the same batch dims, got q ", describe(q), ", k ", describe(k),
             ", v ", describe(v), " (broadcast them first)");
  DUET_CHECK(k.size(-1) == q.size(-1), op_name(op), ": q ", describe(q), " and k ", describe(k),
             " must have the same last dim (E)");
  DUET_CHECK(v.size(-2) == k.size(-2), op_name(op), ": k ", describe(k), " and v ", describe(v),
             " must have the same sequence dim (S)");
}

}  // namespace

TensorMeta attention_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  Device dev = common_device(op, in);
  const Tensor &q = in[0], &k = in[1], &v = in[2];
  check_qkv(op, q, k, v, attrs);
  return {{attention_output_numel(q, v)}, q.dtype(), dev};
}

TensorMeta attention_backward_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  Device dev = common_device(op, in);
  const Tensor &dout = in[0], &q = in[1], &k = in[2], &v = in[3], &out = in[4];
  check_qkv(op, q, k, v, attrs);
  const Shape want{attention_output_numel(q, v)};
  DUET_CHECK(dout.sizes() == want && out.sizes() == want && dout.dtype() == q.dtype() && out.dtype() == q.dtype(),
             op_name(op), ": the output gradient ", describe(dout), " and the output ", describe(out),
             " must both be ", dtype_name(q.dtype()), shape_str(want),
             " (the attention op's flat output: the result, then the rows' log-sum-exp)");
  return {{q.numel() + k.numel() + v.numel()}, q.dtype(), dev};
}

}  // namespace duet
