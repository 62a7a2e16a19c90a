// Derivative rules: for each differentiable op, one function that computes the gradients
// of its inputs from the gradient of its output, written with ordinary duet ops. Because
// they go through apply(), graph capture records them too: graph mode reuses these rules.
//
//   Rules live in autograd/derivatives/<family>.cpp and are registered there with one line:
//     table.set(OpKind::mul, grad_mul, kSaveInputs);
#pragma once

#include <vector>

#include "autograd/node.h"
#include "core/op_registry.h"

namespace duet {

class GradCtx;
using DerivativeFn = std::vector<Tensor> (*)(const GradCtx& ctx, const Tensor& grad);

enum SaveFlags : uint8_t { kSaveNone = 0, kSaveInputs = 1, kSaveOutput = 2 };

struct DerivativeDef {
  DerivativeFn fn = nullptr;
  uint8_t save = kSaveNone;
};

class DerivativeTable {
 public:
  void set(OpKind op, DerivativeFn fn, uint8_t save) { defs_[int(op)] = {fn, save}; }
  const DerivativeDef& get(OpKind op) const { return defs_[int(op)]; }

 private:
  DerivativeDef defs_[kNumOps];
};

// The rule for an op (fn == nullptr: the op is not differentiable, e.g. argmax or eq).
const DerivativeDef& derivative_for(OpKind op);

// What a rule can read: the op's attrs, its inputs' and output's metadata, and the saved
// tensors its DerivativeDef asked for.
class GradCtx {
 public:
  GradCtx(OpKind op, const Attrs& attrs, const std::vector<SavedTensor>& inputs, const SavedTensor& output,
          const std::vector<TensorMeta>& input_metas, const std::vector<bool>& needs_grad)
      : op_(op), attrs_(attrs), inputs_(inputs), output_(output), metas_(input_metas), needs_(needs_grad) {}

  OpKind op() const { return op_; }
  const Attrs& attrs() const { return attrs_; }
  Tensor input(size_t i) const { return inputs_[i].unpack(); }
  Tensor output() const { return output_.unpack(); }
  const TensorMeta& input_meta(size_t i) const { return metas_[i]; }
  size_t num_inputs() const { return metas_.size(); }
  bool needs_grad(size_t i) const { return needs_[i]; }

 private:
  OpKind op_;
  const Attrs& attrs_;
  const std::vector<SavedTensor>& inputs_;
  const SavedTensor& output_;
  const std::vector<TensorMeta>& metas_;
  const std::vector<bool>& needs_;
};

// Helpers for rules.
// Sums `grad` down to `shape`, undoing NumPy broadcasting.
Tensor sum_to(const Tensor& grad, const Shape& shape);
// Reinserts reduced dims (as size 1) so that a reduction's gradient broadcasts back.
Tensor unsqueeze_reduced(const Tensor& grad, const Shape& input_shape, const Attrs& reduce_attrs);

// Registration, one call per family file.
void register_elementwise_derivatives(DerivativeTable& table);
void register_reduction_derivatives(DerivativeTable& table);
void register_linalg_derivatives(DerivativeTable& table);
void register_indexing_derivatives(DerivativeTable& table);
void register_view_derivatives(DerivativeTable& table);
void register_conv_derivatives(DerivativeTable& table);
void register_batch_norm_derivatives(DerivativeTable& table);
void register_layer_norm_derivatives(DerivativeTable& table);
void register_attention_derivatives(DerivativeTable& table);

}  // namespace duet
