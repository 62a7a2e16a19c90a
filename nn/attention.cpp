// nn::functional::masked_fill and scaled_dot_product_attention (nn/functional.h), composed
// of duet's ops so that autograd and graph mode need nothing of their own:
//   scores = q k^T * scale; masked positions -> -inf (bool or causal) or + mask (float);
//   rows with no position left: scores 0 before the softmax and weights 0 after it, so
//   they give zeros and pass zero gradients (softmax of an all -inf row would be NaN in
//   both directions; PyTorch returns zeros for such rows too);
//   weights = softmax(scores) [dropout]; out = weights v;
// or, where it applies and is chosen (AttentionImpl), the fused `attention` op on
// broadcast q, k and v.
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "core/dispatch.h"
#include "core/functions.h"
#include "nn/functional.h"

namespace duet::nn::functional {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

std::string shape_of(const Tensor& t) { return dtype_name(t.dtype()) + shape_str(t.sizes()); }

// Whether `from` broadcasts to `to` without changing it (NumPy rules).
bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  for (size_t i = 1; i <= from.size(); ++i)
    if (from[from.size() - i] != 1 && from[from.size() - i] != to[to.size() - i]) return false;
  return true;
}

AttentionImpl impl_from_environment() {
  const char* v = std::getenv("DUET_ATTENTION");
  if (!v || !*v || std::strcmp(v, "auto") == 0) return AttentionImpl::Auto;
  if (std::strcmp(v, "composite") == 0) return AttentionImpl::Composite;
  if (std::strcmp(v, "fused") == 0) return AttentionImpl::Fused;
  DUET_FAIL("DUET_ATTENTION=", v, " is not an attention implementation; use composite, fused or auto");
}

std::atomic<int>& chosen_impl() {  // -1: not read yet
  static std::atomic<int> impl{-1};
  return impl;
}

// The fused op's scope: causal or no mask, no dropout, one floating dtype it has kernels for.
bool fused_applies(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  const bool dtype_ok = (q.dtype() == DType::Float32 || q.dtype() == DType::Float64) && k.dtype() == q.dtype() &&
                        v.dtype() == q.dtype();
  return dtype_ok && !o.attn_mask.defined() && o.dropout_p == 0;
}

Tensor fused_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, double scale) {
  // The op takes one batch shape: broadcast q's, k's and v's leading dims.
  Shape batch;
  for (const Tensor* t : {&q, &k, &v}) {
    const Shape lead(t->sizes().begin(), t->sizes().end() - 2);
    batch = batch.empty() ? lead : broadcast_shapes(batch, lead, "scaled_dot_product_attention");
  }
  auto expand = [&](const Tensor& t) {
    Shape shape = batch;
    shape.push_back(t.size(-2));
    shape.push_back(t.size(-1));
    return t.sizes() == shape ? t : t.expand(shape);
  };
  Shape shape = batch;
  shape.push_back(q.size(-2));
  shape.push_back(v.size(-1));
  // The op's flat output holds the result, then the rows' log-sum-exp for the backward op.
  const Tensor flat =
      apply(OpKind::attention, {expand(q), expand(k), expand(v)}, Attrs().set("causal", causal).set("scale", scale));
  return flat.narrow(0, 0, numel_of(shape)).view(shape);
}

}  // namespace

void set_attention_impl(AttentionImpl impl) { chosen_impl() = int(impl); }

AttentionImpl attention_impl() {
  int impl = chosen_impl().load();
  if (impl < 0) {
    impl = int(impl_from_environment());
    chosen_impl() = impl;
  }
  return AttentionImpl(impl);
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  DUET_CHECK(mask.dtype() == DType::Bool, "masked_fill: expected a bool mask, got ", shape_of(mask));
  broadcast_shapes(x.sizes(), mask.sizes(), "masked_fill");
  return where(mask, scalar_like(value, x).to(x.dtype()), x);
}

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  const char* op = "scaled_dot_product_attention";
  DUET_CHECK(q.dim() >= 2 && k.dim() >= 2 && v.dim() >= 2, op, ": q, k and v need at least 2 dims ([..., L, E]), got ",
             shape_of(q), ", ", shape_of(k), ", ", shape_of(v));
  DUET_CHECK(is_floating(q.dtype()) && k.dtype() == q.dtype() && v.dtype() == q.dtype(), op,
             ": q, k and v must have one floating dtype, got ", shape_of(q), ", ", shape_of(k), ", ", shape_of(v));
  const int64_t L = q.size(-2), S = k.size(-2), E = q.size(-1);
  DUET_CHECK(k.size(-1) == E, op, ": q ", shape_of(q), " and k ", shape_of(k), " must have the same last dim (E)");
  DUET_CHECK(v.size(-2) == S, op, ": k ", shape_of(k), " and v ", shape_of(v), " must have the same sequence dim (S)");
  DUET_CHECK(!(o.causal && o.attn_mask.defined()), op, ": give attn_mask or causal, not both (as PyTorch)");
  DUET_CHECK(o.dropout_p >= 0 && o.dropout_p < 1, op, ": dropout_p must be in [0, 1), got ", o.dropout_p);
  const double scale = o.scale.value_or(1.0 / std::sqrt(double(E)));
  const AttentionImpl impl = attention_impl();
  if (impl != AttentionImpl::Composite && fused_applies(q, k, v, o) &&
      (impl == AttentionImpl::Fused || S >= kFusedAttentionMinKeys))
    return fused_attention(q, k, v, o.causal, scale);
  Tensor scores = matmul(q, k.transpose(-2, -1)) * scale;  // [..., L, S]
  Tensor keep;  // bool, where positions take part
  if (o.causal) {
    const TensorOptions on_q{DType::Int64, q.device()};
    keep = le(arange(0, S, 1, on_q).reshape({1, S}), arange(0, L, 1, on_q).reshape({L, 1}));
  }
  if (o.attn_mask.defined()) {
    const Tensor& m = o.attn_mask;
    DUET_CHECK(m.dtype() == DType::Bool || m.dtype() == q.dtype(), op, ": attn_mask must be bool or of q's dtype ",
               dtype_name(q.dtype()), ", got ", shape_of(m));
    DUET_CHECK(broadcasts_to(m.sizes(), scores.sizes()), op, ": attn_mask ", shape_of(m), " does not broadcast to the scores' shape ",
               shape_str(scores.sizes()), " ([..., L, S] of q ", shape_of(q), " and k ", shape_of(k), ")");
    if (m.dtype() == DType::Bool) keep = m;
    else scores = scores + m;
  }
  Tensor empty_row;  // rows where nothing takes part
  if (keep.defined()) scores = masked_fill(scores, logical_not(keep), kNegInf);
  if (o.attn_mask.defined()) {
    empty_row = eq(amax(scores, {-1}, /*keepdim=*/true), scalar_like(kNegInf, scores));
    scores = masked_fill(scores, empty_row, 0.0);
  }
  Tensor weights = softmax(scores, -1);
  if (empty_row.defined()) weights = masked_fill(weights, empty_row, 0.0);
  if (o.dropout_p > 0) weights = dropout(weights, o.dropout_p, /*training=*/true);
  return matmul(weights, v);
}

}  // namespace duet::nn::functional
