// nn::GPT and nn::GPTBlock (nn/models/gpt.h). The blocks and the embeddings sit under a
// child named "transformer" (as nanoGPT's ModuleDict), so parameter names match its
// state dict; the output head reads the token embedding's weight (weight tying).
#include "nn/models/gpt.h"

#include <cmath>

#include "core/functions.h"
#include "nn/functional.h"
#include "nn/init.h"

namespace duet::nn {
namespace {

// A child that only groups others under one name (nanoGPT's ModuleDict and its `mlp`).
class Group : public Module {
 public:
  explicit Group(const char* name) : Module(name) {}
  template <typename M>
  std::shared_ptr<M> add(const std::string& name, std::shared_ptr<M> m) {
    return register_module(name, std::move(m));
  }
};

void init_linear(Linear& l, double std) {
  init::normal_(l.weight, 0.0, std);
  if (l.bias.defined()) init::constant_(l.bias, 0.0);
}

}  // namespace

GPTBlock::GPTBlock(const GPTConfig& c) : Module("GPTBlock"), dropout_(c.dropout) {
  const LayerNormOptions ln{.bias = c.bias};
  ln_1 = register_module("ln_1", std::make_shared<LayerNorm>(Shape{c.n_embd}, ln));
  attn = register_module("attn", std::make_shared<CausalSelfAttention>(
                                     c.n_embd, c.n_head, CausalSelfAttentionOptions{.bias = c.bias, .dropout = c.dropout}));
  ln_2 = register_module("ln_2", std::make_shared<LayerNorm>(Shape{c.n_embd}, ln));
  auto group = std::make_shared<Group>("MLP");
  mlp_fc = group->add("c_fc", std::make_shared<Linear>(c.n_embd, 4 * c.n_embd, c.bias));
  mlp_gelu = group->add("gelu", std::make_shared<GELU>());
  mlp_proj = group->add("c_proj", std::make_shared<Linear>(4 * c.n_embd, c.n_embd, c.bias));
  register_module("mlp", group);
}

Tensor GPTBlock::forward(const Tensor& x) {
  const double p = is_training() ? dropout_ : 0.0;
  Tensor y = x + functional::dropout(attn->forward(ln_1->forward(x)), p);
  return y + functional::dropout(mlp_proj->forward(mlp_gelu->forward(mlp_fc->forward(ln_2->forward(y)))), p);
}

Tensor GPTBlock::forward_cached(const Tensor& x, const Tensor& pos, const Tensor& k_cache, const Tensor& v_cache) {
  Tensor y = x + attn->forward_cached(ln_1->forward(x), pos, k_cache, v_cache);
  return y + mlp_proj->forward(mlp_gelu->forward(mlp_fc->forward(ln_2->forward(y))));
}

GPT::GPT(const GPTConfig& c) : Module("GPT"), config_(c) {
  DUET_CHECK(c.vocab_size > 0 && c.block_size > 0 && c.n_layer > 0 && c.n_embd > 0, "GPT: vocab_size, block_size, ",
             "n_layer and n_embd must be positive");
  auto transformer = std::make_shared<Group>("Transformer");
  wte = transformer->add("wte", std::make_shared<Embedding>(c.vocab_size, c.n_embd));
  wpe = transformer->add("wpe", std::make_shared<Embedding>(c.block_size, c.n_embd));
  h = transformer->add("h", std::make_shared<Sequential>());
  for (int64_t i = 0; i < c.n_layer; ++i) h->push_back(std::make_shared<GPTBlock>(c));
  ln_f = transformer->add("ln_f", std::make_shared<LayerNorm>(Shape{c.n_embd}, LayerNormOptions{.bias = c.bias}));
  register_module("transformer", transformer);
  // nanoGPT's _init_weights, then the scaled residual projections.
  init::normal_(wte->weight, 0.0, 0.02);
  init::normal_(wpe->weight, 0.0, 0.02);
  for (const auto& child : h->children()) {
    auto& b = static_cast<GPTBlock&>(*child);
    init_linear(*b.attn->c_attn, 0.02);
    init_linear(*b.mlp_fc, 0.02);
    init_linear(*b.attn->c_proj, 0.02 / std::sqrt(2.0 * double(c.n_layer)));
    init_linear(*b.mlp_proj, 0.02 / std::sqrt(2.0 * double(c.n_layer)));
  }
}

Tensor GPT::forward(const Tensor& idx) {
  DUET_CHECK(idx.dim() == 2 && idx.size(1) <= config_.block_size, "GPT: expected token ids [B, T] with T <= ",
             "block_size ", config_.block_size, ", got ", dtype_name(idx.dtype()), shape_str(idx.sizes()));
  const int64_t T = idx.size(1);
  const Tensor pos = arange(0, T, 1, TensorOptions{DType::Int64, idx.device()});
  const double p = is_training() ? config_.dropout : 0.0;
  Tensor x = functional::dropout(wte->forward(idx) + wpe->forward(pos), p);  // [B, T, C]
  x = ln_f->forward(h->forward(x));
  return matmul(x, wte->weight.t());  // the head shares the token table
}

KVCache GPT::make_kv_cache(int64_t batch, const Device& device) const {
  DUET_CHECK(batch > 0, "GPT: a key/value cache needs batch > 0, got ", batch);
  const GPTConfig& c = config_;
  const Shape shape{batch, c.n_head, c.block_size, c.n_embd / c.n_head};
  KVCache cache;
  for (int64_t i = 0; i < c.n_layer; ++i) {
    cache.keys.push_back(zeros(shape, {wte->weight.dtype(), device}));
    cache.values.push_back(zeros(shape, {wte->weight.dtype(), device}));
  }
  return cache;
}

Tensor GPT::decode_step(const Tensor& token, const Tensor& pos, const KVCache& cache) {
  DUET_CHECK(token.dim() == 2 && token.size(1) == 1, "GPT: decode_step expects token ids [B, 1], got ",
             dtype_name(token.dtype()), shape_str(token.sizes()));
  DUET_CHECK(int64_t(cache.keys.size()) == config_.n_layer && cache.values.size() == cache.keys.size(),
             "GPT: the key/value cache has ", cache.keys.size(), " layers, the model ", config_.n_layer,
             " (make it with make_kv_cache)");
  Tensor x = wte->forward(token) + wpe->forward(pos.reshape({1}));  // [B, 1, C]
  const auto& blocks = h->children();
  for (size_t i = 0; i < blocks.size(); ++i)
    x = static_cast<GPTBlock&>(*blocks[i]).forward_cached(x, pos, cache.keys[i], cache.values[i]);
  x = ln_f->forward(x);
  return matmul(x, wte->weight.t()).reshape({token.size(0), config_.vocab_size});
}

std::string GPT::extra_repr() const {
  const GPTConfig& c = config_;
  return "vocab_size=" + std::to_string(c.vocab_size) + ", block_size=" + std::to_string(c.block_size) +
         ", n_layer=" + std::to_string(c.n_layer) + ", n_head=" + std::to_string(c.n_head) +
         ", n_embd=" + std::to_string(c.n_embd);
}

}  // namespace duet::nn
