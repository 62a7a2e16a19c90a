// Node bookkeeping, saved tensors with version checks, and gradient accumulation at leaves.
#include "autograd/node.h"

#include <atomic>

#include "autograd/autograd_meta.h"
#include "autograd/grad_mode.h"
#include "core/functions.h"

namespace duet {
namespace {
std::atomic<uint64_t> g_next_sequence_nr{0};
}  // namespace

Node::Node() : sequence_nr(g_next_sequence_nr.fetch_add(1)) {}

uint64_t next_node_sequence() { return g_next_sequence_nr.load(); }

SavedTensor::SavedTensor(const Tensor& t, const char* op_name) : op_name_(op_name), was_saved_(true) {
  if (!t.defined()) return;
  tensor_ = alias_without_grad(t);
  version_ = t.storage() ? t.storage()->version() : 0;
}

Tensor SavedTensor::unpack() const {
  DUET_CHECK(tensor_.defined() || !was_saved_, "backward of ", op_name_,
             ": the saved tensors were already freed. Trying to backward through the graph a second time? "
             "Pass retain_graph=true to the first backward() if you need to");
  if (tensor_.defined() && tensor_.storage()) {
    uint64_t now = tensor_.storage()->version();
    DUET_CHECK(now == version_, "backward of ", op_name_, ": a tensor it saved (", dtype_name(tensor_.dtype()),
               shape_str(tensor_.sizes()), ") was modified by an in-place operation: it is at version ", now,
               ", expected version ", version_,
               ". Use an out-of-place op (add instead of add_), or clone() the tensor before changing it");
  }
  return tensor_;
}

Tensor AccumulateGrad::run_leaf_hooks(Tensor grad) const {
  std::shared_ptr<TensorImpl> leaf = leaf_.lock();
  if (!leaf) return grad;
  for (auto& hook : leaf->autograd_->leaf_hooks) {
    Tensor replaced = hook(grad);
    if (replaced.defined()) grad = replaced;
  }
  return grad;
}

std::vector<Tensor> AccumulateGrad::apply(const Tensor& grad_output) {
  std::shared_ptr<TensorImpl> leaf = leaf_.lock();
  if (!leaf) return {};
  note_grad_slot(Tensor(leaf));
  AutogradMeta& meta = *leaf->autograd_;
  Tensor grad = run_leaf_hooks(grad_output);
  NoGradGuard no_grad;
  // An existing gradient is accumulated into in place, as PyTorch does: whoever holds
  // p.grad() sees the sum, and a compiled step can keep writing the same tensor.
  if (meta.grad.defined()) {
    meta.grad.add_(grad);
    return {};
  }
  // A gradient that may alias memory someone else holds (an expanded view, or a tensor
  // the caller passed to backward) is copied, so later in-place updates stay private.
  if (!grad.is_contiguous() || grad.storage().use_count() > 1) grad = grad.clone();
  meta.grad = alias_without_grad(grad);
  return {};
}

}  // namespace duet
