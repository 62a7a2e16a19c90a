// Sampling and the two GPT decoders (nn/generation.h).
#include "nn/generation.h"

#include <algorithm>
#include <limits>

#include "autograd/grad_mode.h"
#include "core/error.h"
#include "core/functions.h"
#include "nn/functional.h"

namespace duet::nn {
namespace {

// Eval mode for a scope, then the model's flag as it was.
class EvalScope {
 public:
  explicit EvalScope(Module& m) : m_(m), was_training_(m.is_training()) { m.eval(); }
  ~EvalScope() { m_.train(was_training_); }
  EvalScope(const EvalScope&) = delete;
  EvalScope& operator=(const EvalScope&) = delete;

 private:
  Module& m_;
  bool was_training_;
};

void check_prompt(const char* who, const Tensor& idx, int64_t new_tokens) {
  DUET_CHECK(idx.dim() == 2 && idx.size(1) >= 1 && idx.dtype() == DType::Int64, who,
             ": expected token ids int64 [B, T0] with T0 >= 1, got ", dtype_name(idx.dtype()), shape_str(idx.sizes()));
  DUET_CHECK(new_tokens >= 0, who, ": new_tokens must be >= 0, got ", new_tokens);
}

}  // namespace

Tensor sample_next_token(const Tensor& logits, const SamplingOptions& o) {
  DUET_CHECK(logits.dim() == 2 && is_floating(logits.dtype()), "sample_next_token: expected logits [B, V], got ",
             dtype_name(logits.dtype()), shape_str(logits.sizes()));
  DUET_CHECK(o.temperature > 0, "sample_next_token: temperature must be > 0, got ", o.temperature);
  DUET_CHECK(o.top_k >= 0, "sample_next_token: top_k must be >= 0 (0: no limit), got ", o.top_k);
  Tensor scaled = logits / o.temperature;
  const int64_t k = std::min(o.top_k, logits.size(1));
  if (k > 0 && k < logits.size(1)) {
    // As nanoGPT: logits below the k-th largest become -inf (ties with it stay).
    const Tensor kth = topk(scaled, k, -1).values.narrow(1, k - 1, 1);
    scaled = functional::masked_fill(scaled, lt(scaled, kth), -std::numeric_limits<double>::infinity());
  }
  return multinomial(softmax(scaled, -1), 1);
}

Tensor generate(GPT& model, const Tensor& idx, int64_t new_tokens, const SamplingOptions& options) {
  check_prompt("generate", idx, new_tokens);
  NoGradGuard no_grad;
  EvalScope eval(model);
  const int64_t block = model.config().block_size;
  Tensor ids = idx;
  for (int64_t i = 0; i < new_tokens; ++i) {
    const int64_t T = ids.size(1);
    const Tensor context = T <= block ? ids : ids.narrow(1, T - block, block);
    const Tensor logits = model.forward(context);  // [B, t, V]
    const Tensor last = logits.narrow(1, logits.size(1) - 1, 1).reshape({ids.size(0), logits.size(2)});
    ids = cat({ids, sample_next_token(last, options)}, 1);
  }
  return ids;
}

CachedDecoder::CachedDecoder(GPT& model, const DecoderOptions& options)
    : model_(model),
      options_(options),
      device_(model.wte->weight.device()),
      cache_(model.make_kv_cache(options.batch, device_)),
      step_(graph::compile([this](const std::vector<Tensor>& in) {
        NoGradGuard no_grad;
        return std::vector<Tensor>{sample_next_token(model_.decode_step(in[0], in[1], cache_), options_.sampling)};
      })) {
  DUET_CHECK(options.sampling.temperature > 0, "CachedDecoder: temperature must be > 0, got ",
             options.sampling.temperature);
  DUET_CHECK(model.config().block_size >= 2, "CachedDecoder: needs block_size >= 2, got ", model.config().block_size);
}

Tensor CachedDecoder::step(const Tensor& token) {
  const Tensor pos = full({}, double(pos_), {DType::Int64, device_});
  ++pos_;
  ++steps_;
  const std::vector<Tensor> in{token, pos};
  if (options_.compiled) return step_(in)[0];
  NoGradGuard no_grad;
  return sample_next_token(model_.decode_step(token, pos, cache_), options_.sampling);
}

Tensor CachedDecoder::generate(const Tensor& idx, int64_t new_tokens) {
  check_prompt("CachedDecoder", idx, new_tokens);
  DUET_CHECK(idx.size(0) == options_.batch, "CachedDecoder: made for batch ", options_.batch, ", got prompts ",
             shape_str(idx.sizes()));
  EvalScope eval(model_);
  const int64_t block = model_.config().block_size, keep = block / 2;
  const Tensor prompt = idx.to(device_);
  std::vector<Tensor> tokens;  // [batch, 1] each: the prompt's, then the sampled ones
  // Contiguous, as the sampled tokens are: a compiled step's inputs keep one layout.
  for (int64_t t = 0; t < prompt.size(1); ++t) tokens.push_back(prompt.narrow(1, t, 1).contiguous());
  // Decode the prompt's last (at most) block_size tokens, the last one's step sampling the
  // first new token.
  pos_ = 0;
  const int64_t first = std::max<int64_t>(0, int64_t(tokens.size()) - block);
  Tensor next;
  for (size_t t = size_t(first); t < tokens.size(); ++t) next = step(tokens[t]);
  for (int64_t i = 0; i < new_tokens; ++i) {
    tokens.push_back(next);
    if (i + 1 == new_tokens) break;
    if (pos_ == block) {  // full: decode the last `keep` tokens again from position 0
      pos_ = 0;
      for (size_t t = tokens.size() - size_t(keep); t + 1 < tokens.size(); ++t) step(tokens[t]);
    }
    next = step(tokens.back());
  }
  return cat(tokens, 1);
}

}  // namespace duet::nn
