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

std::string CausalSelfAttention::extra_repr() const {
  return "embed_dim=" + std::to_string(embed_dim_) + ", num_heads=" + std::to_string(num_heads_);
}

}  // namespace duet::nn
