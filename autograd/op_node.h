// OpNode: the grad_fn of any registry op. It keeps what the op's derivative rule asked to
// save, and calls that rule in backward.
#pragma once

#include "autograd/derivatives.h"

namespace duet {

class OpNode final : public Node {
 public:
  // `inputs` give the edges (history); `saved_values` what the rule reads (the same
  // tensors, or clones of inputs an in-place op is about to overwrite).
  OpNode(OpKind op, const Attrs& attrs, std::span<const Tensor> inputs, const DerivativeDef& def,
         std::span<const Tensor> saved_values);
  // Saves the output (for rules with kSaveOutput) once it exists.
  void save_output(const Tensor& out);

  std::vector<Tensor> apply(const Tensor& grad_output) override;
  std::string name() const override;
  void release_saved() override;
  OpKind op() const { return op_; }

 private:
  OpKind op_;
  Attrs attrs_;
  DerivativeFn fn_;
  std::vector<SavedTensor> inputs_;
  SavedTensor output_;
  std::vector<TensorMeta> input_metas_;
  std::vector<bool> needs_grad_;
};

}  // namespace duet
