// nn::CausalSelfAttention (nn/layers/attention.h): [B, T, C] -> q, k, v as [B, H, T, C / H]
// (views: narrow of the fused projection, reshape, transpose), causal attention, the heads
// back to [B, T, C] and the output projection.
#include "nn/layers/attention.h"

#include "core/functions.h"
#include "nn/functional.h"

namespace duet::nn {

CausalSelfAttention::CausalSelfAttention(int64_t embed_dim, int64_t num_heads, CausalSelfAttentionOptions options)
    : Module("CausalSelfAttention"), embed_dim_(embed_dim), num_heads_(num_heads), options_(options) {
  DUET_CHECK(embed_dim > 0 && num_heads > 0 && embed_dim % num_heads == 0, "CausalSelfAttention: embed_dim ",
             embed_dim, " must be a positive multiple of num_heads ", num_heads);
  c_attn = register_module("c_attn", std::make_shared<Linear>(embed_dim, 3 * embed_dim, options.bias));
  c_proj = register_module("c_proj", std::make_shared<Linear>(embed_dim, embed_dim, options.bias));
}

Tensor CausalSelfAttention::forward(const Tensor& x) {
  DUET_CHECK(x.dim() == 3 && x.size(2) == embed_dim_, type_name(), ": expected an input [B, T, ", embed_dim_,
             "], got ", dtype_name(x.dtype()), shape_str(x.sizes()));
  const int64_t B = x.size(0), T = x.size(1), C = embed_dim_, H = num_heads_;
  const Tensor qkv = c_attn->forward(x);  // [B, T, 3C]
  auto heads = [&](int64_t part) { return qkv.narrow(2, part * C, C).reshape({B, T, H, C / H}).transpose(1, 2); };
  functional::AttentionOptions o;
  o.causal = true;
  o.dropout_p = is_training() ? options_.dropout : 0.0;
  const Tensor y = functional::scaled_dot_product_attention(heads(0), heads(1), heads(2), o);  // [B, H, T, C / H]
  return c_proj->forward(y.transpose(1, 2).contiguous().reshape({B, T, C}));
}

Tensor CausalSelfAttention::forward_cached(const Tensor& x, const Tensor& pos, const Tensor& k_cache,
                                           const Tensor& v_cache) {
  const int64_t C = embed_dim_, H = num_heads_;
  DUET_CHECK(x.dim() == 3 && x.size(1) == 1 && x.size(2) == C, type_name(), ": decoding expects one position [B, 1, ",
             C, "], got ", dtype_name(x.dtype()), shape_str(x.sizes()));
  const int64_t B = x.size(0);
  DUET_CHECK(k_cache.dim() == 4 && k_cache.size(0) == B && k_cache.size(1) == H && k_cache.size(3) == C / H &&
                 v_cache.sizes() == k_cache.sizes(),
             type_name(), ": key/value caches must be [", B, ", ", H, ", S, ", C / H, "], got ",
             shape_str(k_cache.sizes()), " and ", shape_str(v_cache.sizes()));
  DUET_CHECK(pos.dim() == 0 && pos.dtype() == DType::Int64, type_name(), ": the position must be an int64 0-dim ",
             "tensor, got ", dtype_name(pos.dtype()), shape_str(pos.sizes()));
  const int64_t S = k_cache.size(2);
  const Tensor qkv = c_attn->forward(x);  // [B, 1, 3C]
  auto head = [&](int64_t part) { return qkv.narrow(2, part * C, C).reshape({B, 1, H, C / H}).transpose(1, 2); };
  // Slot `pos` takes the new key and value; slots up to `pos` take part.
  const Tensor slots = arange(0, S, 1, TensorOptions{DType::Int64, x.device()}).reshape({1, 1, S, 1});
  const Tensor at_pos = eq(slots, pos);
  k_cache.copy_(where(at_pos, head(1), k_cache));
  v_cache.copy_(where(at_pos, head(2), v_cache));
  functional::AttentionOptions o;
  o.attn_mask = le(slots.reshape({1, 1, 1, S}), pos);
  const Tensor y = functional::scaled_dot_product_attention(head(0), k_cache, v_cache, o);  // [B, H, 1, C / H]
  return c_proj->forward(y.transpose(1, 2).reshape({B, 1, C}));
}

std::string CausalSelfAttention::extra_repr() const {
  return "embed_dim=" + std::to_string(embed_dim_) + ", num_heads=" + std::to_string(num_heads_);
}

}  // namespace duet::nn
