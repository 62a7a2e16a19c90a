// Multi-head causal self-attention, as in GPT-2 and nanoGPT's CausalSelfAttention: one
// Linear makes q, k and v for all heads at once, each head attends to the positions up
// to its own (nn::functional::scaled_dot_product_attention, causal), and a second Linear
// projects the heads' concatenated outputs back.
//   nn::CausalSelfAttention attn(128, 4);     // 4 heads of 32; parameters c_attn.*, c_proj.*
//   Tensor y = attn.forward(x);               // x [B, T, 128] -> [B, T, 128]
//
// Decoding with a key/value cache of fixed capacity S: forward_cached takes one position's
// x [B, 1, C], writes its key and value into slot `pos` of caches [B, H, S, C / H] (in
// place) and attends to slots 0..pos. `pos` is an int64 0-dim tensor, so a compiled
// decoding step reads it when it runs: one capture for every position.
#pragma once

#include <memory>

#include "nn/layers/linear.h"
#include "nn/module.h"

namespace duet::nn {

struct CausalSelfAttentionOptions {
  bool bias = true;      // biases in both Linears
  double dropout = 0.0;  // on the attention weights, in training
};

class CausalSelfAttention : public Module {
 public:
  CausalSelfAttention(int64_t embed_dim, int64_t num_heads, CausalSelfAttentionOptions options = {});
  Tensor forward(const Tensor& x) override;
  Tensor forward_cached(const Tensor& x, const Tensor& pos, const Tensor& k_cache, const Tensor& v_cache);
  std::string extra_repr() const override;
  int64_t num_heads() const { return num_heads_; }

  std::shared_ptr<Linear> c_attn;  // embed_dim -> 3 * embed_dim: q, k, v
  std::shared_ptr<Linear> c_proj;  // embed_dim -> embed_dim

 private:
  int64_t embed_dim_, num_heads_;
  CausalSelfAttentionOptions options_;
};

}  // namespace duet::nn
