// nn::functional::embedding (nn/functional.h): index_select of the weight's rows by the
// flattened indices, reshaped to indices.shape + [D]. index_select's kernel checks every
// index (its message names the index and the table's row count) and its derivative
// scatters the gradient rows back with scatter_add, which adds them in index order on
// every device (deterministic, repeated indices accumulate).
#include "core/functions.h"
#include "nn/functional.h"

namespace duet::nn::functional {

Tensor embedding(const Tensor& indices, const Tensor& weight) {
  DUET_CHECK(weight.dim() == 2, "embedding: expected a 2-D weight [num_embeddings, embedding_dim], got ",
             dtype_name(weight.dtype()), shape_str(weight.sizes()));
  DUET_CHECK(indices.dtype() == DType::Int64 || indices.dtype() == DType::Int32,
             "embedding: expected int64 or int32 indices, got ", dtype_name(indices.dtype()), shape_str(indices.sizes()));
  Shape out = indices.sizes();
  out.push_back(weight.size(1));
  return index_select(weight, 0, indices.reshape({-1})).reshape(out);
}

}  // namespace duet::nn::functional
