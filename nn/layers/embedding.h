// A lookup table of learnable rows, as torch.nn.Embedding:
//   nn::Embedding tok(65, 128);          // weight [65, 128] ~ N(0, 1), PyTorch's default
//   Tensor e = tok.forward(idx);         // idx int64 [B, T] -> [B, T, 128]
// The weight is a parameter ("weight" in the state dict) that another layer may share
// (weight tying: its gradient then sums both uses).
#pragma once

#include "nn/module.h"

namespace duet::nn {

class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim);
  Tensor forward(const Tensor& indices) override;
  std::string extra_repr() const override;

  Tensor weight;  // [num_embeddings, embedding_dim]

 private:
  int64_t num_embeddings_, embedding_dim_;
};

}  // namespace duet::nn
