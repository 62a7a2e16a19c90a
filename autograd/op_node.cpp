// OpNode: saving inputs/outputs for a derivative rule and running it in backward.
#include "autograd/op_node.h"

#include "autograd/autograd_meta.h"
#include "core/functions.h"

namespace duet {

OpNode::OpNode(OpKind op, const Attrs& attrs, std::span<const Tensor> inputs, const DerivativeDef& def,
               std::span<const Tensor> saved_values)
    : op_(op), attrs_(attrs), fn_(def.fn) {
  const char* name = op_name(op);
  inputs_.resize(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    input_metas_.push_back({t.sizes(), t.dtype(), t.device()});
    next_edges.push_back(gradient_edge(t));
    needs_grad_.push_back(next_edges.back().valid());
    if (def.save & kSaveInputs) inputs_[i] = SavedTensor(saved_values[i], name);
  }
}

void OpNode::save_output(const Tensor& out) { output_ = SavedTensor(out, op_name(op_)); }

std::vector<Tensor> OpNode::apply(const Tensor& grad_output) {
  GradCtx ctx(op_, attrs_, inputs_, output_, input_metas_, needs_grad_);
  std::vector<Tensor> grads = fn_(ctx, grad_output);
  DUET_ASSERT(grads.size() == input_metas_.size(), "derivative of ", op_name(op_), " returned ", grads.size(),
              " gradients for ", input_metas_.size(), " inputs");
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!needs_grad_[i] || !grads[i].defined()) {
      grads[i] = Tensor();
      continue;
    }
    const TensorMeta& m = input_metas_[i];
    DUET_ASSERT(grads[i].sizes() == m.shape, "derivative of ", op_name(op_), " gave input ", i, " a gradient of shape ",
                grads[i].sizes(), ", expected ", m.shape);
    if (grads[i].dtype() != m.dtype) grads[i] = grads[i].to(m.dtype);
  }
  return grads;
}

std::string OpNode::name() const {
  std::string n = op_name(op_);
  n[0] = char(std::toupper(n[0]));
  return n + "Backward";
}

void OpNode::release_saved() {
  for (auto& s : inputs_) s.release();
  output_.release();
}

}  // namespace duet
