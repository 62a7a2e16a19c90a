// nn::functional: the stateless forms of layers and the losses (torch.nn.functional).
//   Tensor loss = nn::functional::cross_entropy(logits, labels);            // mean
//   Tensor per_sample = cross_entropy(logits, labels, {.reduction = Reduction::None});
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/tensor.h"

namespace duet::nn::functional {

enum class Reduction { None, Mean, Sum };

Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor());  // x @ w^T + b
Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x, const std::string& approximate = "none");
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor silu(const Tensor& x);
// Zeroes elements with probability p and scales the rest by 1/(1-p) when training.
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true);
Tensor flatten(const Tensor& x, int64_t start_dim = 1, int64_t end_dim = -1);

// Batch normalisation over dim 1 of (N, C, ...), as torch.nn.functional.batch_norm. In
// training, normalises with the batch's statistics and, when running_mean/var are given,
// updates them in place: running = (1 - momentum) running + momentum batch, the variance
// unbiased (times M / (M - 1), M values per channel). In eval, normalises with the running
// statistics. weight and bias may be undefined (1 and 0).
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum = 0.1, double eps = 1e-5);

// Layer normalisation over the trailing dims named by normalized_shape, as
// torch.nn.functional.layer_norm: each row of those dims normalised by its own mean and
// biased variance, then * weight + bias (each of normalized_shape, optional).
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);

// Rows of weight [V, D] looked up by integer indices of any shape, as
// torch.nn.functional.embedding: the result is indices.shape + [D]. Its gradient adds each
// position's row into the weight's gradient in index order, repeated indices included
// (index_select's rule: a deterministic scatter_add). An index outside [0, V) is a
// duet::Error naming the index and the table's size. (padding_idx and max_norm: not yet.)
Tensor embedding(const Tensor& indices, const Tensor& weight);

// x with `value` where mask (bool, broadcast to x) is true, as Tensor.masked_fill.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);

// Attention as torch.nn.functional.scaled_dot_product_attention: q [..., L, E], k [..., S, E],
// v [..., S, Ev] (leading dims broadcast) -> softmax(q k^T * scale + mask) v, [..., L, Ev].
// attn_mask: bool (true: the position takes part) or of q's dtype (added to the scores),
// broadcast to [..., L, S]; causal: position j takes part in row i when j <= i (the mask
// aligned top-left, as PyTorch; not together with attn_mask); scale defaults to
// 1 / sqrt(E); dropout_p > 0 drops attention weights (as PyTorch, whenever it is given).
// A row whose positions are all masked gives zeros (and zero gradients), as PyTorch.
// Two implementations (AttentionImpl): the composite (matmul, mask, softmax, matmul; the
// [L, S] scores exist in memory) and the fused `attention` op (flash-attention style, no
// [L, S] matrix; causal or no mask, no dropout, float32/float64). The environment variable
// DUET_ATTENTION=composite|fused|auto (read once; set_attention_impl overrides it) picks:
// fused runs the fused op wherever it applies and the composite elsewhere (a float or
// bool attn_mask, dropout); auto, the default, the fused op where it applies and measured
// faster (S >= kFusedAttentionMinKeys keys; docs/ARCHITECTURE.md has the figures).
enum class AttentionImpl { Auto, Composite, Fused };
inline constexpr int64_t kFusedAttentionMinKeys = 128;
void set_attention_impl(AttentionImpl impl);
AttentionImpl attention_impl();  // the variable's choice until set_attention_impl
struct AttentionOptions {
  Tensor attn_mask;
  double dropout_p = 0;
  bool causal = false;
  std::optional<double> scale;
};
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options = {});

struct CrossEntropyOptions {
  Reduction reduction = Reduction::Mean;
  int64_t ignore_index = -100;
  double label_smoothing = 0.0;
};
// logits (N, C) or (C), target int64 class indices (N) or (). log_softmax + nll in one
// numerically stable pass over the classes; mean is over the targets not ignored.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, CrossEntropyOptions options = {});
struct NllOptions {
  Reduction reduction = Reduction::Mean;
  int64_t ignore_index = -100;
};
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, NllOptions options = {});
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
// max(x, 0) - x*y + log(1 + exp(-|x|)), stable for any logit.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        Reduction reduction = Reduction::Mean);

}  // namespace duet::nn::functional
