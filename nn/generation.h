// Text generation with a GPT (nn/models/gpt.h): temperature and top-k sampling of the next
// token, as nanoGPT's generate, and two decoders:
//   generate():       nanoGPT's loop: every new token runs the whole model over the last
//                     block_size tokens (no cache);
//   CachedDecoder:    one position per step through a key/value cache of block_size slots
//                     (GPT::decode_step). The step (decode, then sample) is one function,
//                     run eagerly or compiled once by graph::compile with the position as
//                     a runtime input; both give the same tokens for a seed. When the
//                     cache is full the decoder keeps the last block_size / 2 tokens and
//                     decodes them into it again from position 0 (positions are learned, so
//                     a full window cannot slide), so the model then sees between
//                     block_size / 2 and block_size tokens of context, where nanoGPT's
//                     loop always sees block_size.
//
//   nn::SamplingOptions s{.temperature = 0.8, .top_k = 40};
//   nn::CachedDecoder decoder(gpt, {.batch = 1, .sampling = s, .compiled = true});
//   Tensor ids = decoder.generate(prompt_ids, 500);   // int64 [1, T0] -> [1, T0 + 500]
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "graph/compile.h"
#include "nn/models/gpt.h"

namespace duet::nn {

struct SamplingOptions {
  double temperature = 1.0;  // > 0: logits are divided by it
  int64_t top_k = 0;         // > 0: only the k most likely tokens can be drawn
};

// The next token for each row of logits [B, V]: int64 [B, 1], drawn with the default
// generator (multinomial) from softmax(logits / temperature) restricted to the top k.
Tensor sample_next_token(const Tensor& logits, const SamplingOptions& options);

// nanoGPT's generate: appends `new_tokens` tokens to idx int64 [B, T0] (T0 >= 1), each
// sampled from the model's logits at the last of (at most) block_size tokens. Runs in eval
// mode without gradients, and leaves the model's training flag as it was.
Tensor generate(GPT& model, const Tensor& idx, int64_t new_tokens, const SamplingOptions& options);

struct DecoderOptions {
  int64_t batch = 1;
  SamplingOptions sampling = {};
  bool compiled = false;  // run each step through one graph::compile'd function
};

class CachedDecoder {
 public:
  CachedDecoder(GPT& model, const DecoderOptions& options);
  // The compiled step refers to this object (its cache and model): not copied or moved.
  CachedDecoder(const CachedDecoder&) = delete;
  CachedDecoder& operator=(const CachedDecoder&) = delete;
  // Appends `new_tokens` sampled tokens to idx int64 [batch, T0] (T0 >= 1), on the
  // model's device: [batch, T0 + new_tokens]. Eval mode, no gradients.
  Tensor generate(const Tensor& idx, int64_t new_tokens);
  // The compiled step's captures so far (1 after any number of tokens); 0 when eager.
  int captures() const { return step_.captures(); }
  int64_t steps() const { return steps_; }  // decode steps run (prompt, new tokens, refills)

 private:
  // Decodes `token` [batch, 1] at cache position pos_ and returns the sampled next token.
  Tensor step(const Tensor& token);

  GPT& model_;
  DecoderOptions options_;
  Device device_;
  KVCache cache_;
  graph::CompiledFunction step_;
  int64_t pos_ = 0;
  int64_t steps_ = 0;
};

}  // namespace duet::nn
