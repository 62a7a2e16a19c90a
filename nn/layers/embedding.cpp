// nn::Embedding (nn/layers/embedding.h) on nn::functional::embedding.
#include "nn/layers/embedding.h"

#include "core/functions.h"
#include "nn/functional.h"
#include "nn/init.h"

namespace duet::nn {

Embedding::Embedding(int64_t num_embeddings, int64_t embedding_dim)
    : Module("Embedding"), num_embeddings_(num_embeddings), embedding_dim_(embedding_dim) {
  DUET_CHECK(num_embeddings > 0 && embedding_dim > 0, "Embedding: num_embeddings and embedding_dim must be positive, ",
             "got ", num_embeddings, " and ", embedding_dim);
  weight = register_parameter("weight", empty({num_embeddings, embedding_dim}));
  init::normal_(weight);
}

Tensor Embedding::forward(const Tensor& indices) { return functional::embedding(indices, weight); }

std::string Embedding::extra_repr() const {
  return std::to_string(num_embeddings_) + ", " + std::to_string(embedding_dim_);
}

}  // namespace duet::nn
