// A GPT (GPT-2's architecture at any size, as nanoGPT's model.py): token and learned
// position embeddings, n_layer pre-LayerNorm blocks (x + attn(ln_1(x)), then x +
// mlp(ln_2(x)) with a 4x GELU MLP), a final LayerNorm, and an output head tied to the
// token embedding (logits = x wte^T: one parameter, whose gradient sums both uses).
// Parameter names follow nanoGPT's (transformer.wte.weight, transformer.h.0.attn.c_attn.
// weight, ...; the tied head has no entry of its own), and so does the initialisation:
// weights N(0, 0.02), biases 0, each block's residual projections (attn.c_proj,
// mlp.c_proj) N(0, 0.02 / sqrt(2 n_layer)); layer norms weight 1, bias 0.
//
//   nn::GPT gpt({.vocab_size = 114, .block_size = 64, .n_layer = 4, .n_head = 4, .n_embd = 128});
//   Tensor logits = gpt.forward(idx);        // idx int64 [B, T <= block_size] -> [B, T, vocab]
//
// Decoding with a key/value cache (nn/generation.h drives it): one position at a time,
// each block's keys and values kept in a cache of block_size slots.
//   nn::KVCache cache = gpt.make_kv_cache(1, Device::cpu());
//   Tensor logits = gpt.decode_step(token, pos, cache);  // int64 [B, 1], int64 0-dim -> [B, vocab]
#pragma once

#include <memory>
#include <vector>

#include "nn/layers/activation.h"
#include "nn/layers/attention.h"
#include "nn/layers/embedding.h"
#include "nn/layers/layer_norm.h"
#include "nn/layers/linear.h"
#include "nn/layers/sequential.h"
#include "nn/module.h"

namespace duet::nn {

// Each block's keys and values, [B, n_head, block_size, n_embd / n_head]; slot p holds
// position p's once decode_step has run at p.
struct KVCache {
  std::vector<Tensor> keys, values;
};

struct GPTConfig {
  int64_t vocab_size = 65;
  int64_t block_size = 64;  // the longest context
  int64_t n_layer = 4;
  int64_t n_head = 4;
  int64_t n_embd = 128;
  double dropout = 0.0;     // on the attention weights and the residual branches, in training
  bool bias = true;         // in the Linears and LayerNorms
};

class GPTBlock : public Module {
 public:
  explicit GPTBlock(const GPTConfig& config);
  Tensor forward(const Tensor& x) override;  // [B, T, n_embd]
  // One position x [B, 1, n_embd] at `pos`, through this block's caches.
  Tensor forward_cached(const Tensor& x, const Tensor& pos, const Tensor& k_cache, const Tensor& v_cache);

  std::shared_ptr<LayerNorm> ln_1, ln_2;
  std::shared_ptr<CausalSelfAttention> attn;
  // The child "mlp": c_fc (n_embd -> 4 n_embd), gelu, c_proj (back).
  std::shared_ptr<Linear> mlp_fc, mlp_proj;
  std::shared_ptr<GELU> mlp_gelu;

 private:
  double dropout_;
};

class GPT : public Module {
 public:
  explicit GPT(const GPTConfig& config);
  Tensor forward(const Tensor& idx) override;  // int64 [B, T] -> logits [B, T, vocab_size]
  std::string extra_repr() const override;
  const GPTConfig& config() const { return config_; }

  // Zeroed caches for `batch` sequences, in the model's dtype, on `device`.
  KVCache make_kv_cache(int64_t batch, const Device& device) const;
  // The next-token logits [B, vocab] after token ids [B, 1] at position `pos` (int64
  // 0-dim, < block_size), attending to positions 0..pos through `cache`, whose slot pos
  // this writes. Positions before pos must have been decoded into the cache first.
  Tensor decode_step(const Tensor& token, const Tensor& pos, const KVCache& cache);

  std::shared_ptr<Embedding> wte, wpe;
  std::shared_ptr<Sequential> h;  // the blocks
  std::shared_ptr<LayerNorm> ln_f;

 private:
  GPTConfig config_;
};

}  // namespace duet::nn
