// AutogradMeta: the autograd data a tensor carries when it takes part in gradient
// computation (core's TensorImpl holds it opaquely in its autograd_ slot).
#pragma once

#include <memory>

#include "autograd/node.h"

namespace duet {

struct AutogradMeta {
  bool requires_grad = false;
  bool retains_grad = false;
  Tensor grad;                             // accumulated gradient (leaves, or retain_grad)
  std::shared_ptr<Node> grad_fn;           // null for leaves
  std::weak_ptr<Node> grad_accumulator;    // a leaf's AccumulateGrad, made on first use
  std::vector<GradHook> leaf_hooks;        // hooks registered on a leaf
  // A view made with gradient tracking: the autograd data of the tensor it views (the
  // root of a chain of views) and that tensor's history when the view was taken (Note
  // [Stale views] in autograd_layer.cpp).
  std::shared_ptr<AutogradMeta> view_base;
  std::shared_ptr<Node> view_base_fn;
};

// The tensor's meta, or null.
inline AutogradMeta* autograd_meta(const Tensor& t) { return t.unsafe_impl()->autograd_.get(); }
AutogradMeta& ensure_autograd_meta(const Tensor& t);
bool requires_grad(const Tensor& t);

// The edge through which a gradient for `t` flows: its grad_fn, or its leaf accumulator.
Edge gradient_edge(const Tensor& t);

// A new tensor over the same storage with no autograd data (as detach()).
Tensor alias_without_grad(const Tensor& t);

// While a graph capture runs on this thread it watches what autograd does to host state
// (graph/capture_contract.cpp, Note [Grad slots under capture]): every access to a tensor's .grad
// calls note_grad_slot(owner) first; an in-place op that gives a tensor a new history
// calls note_rebase(tensor); backward calls note_backward_node(node) before running it.
class AutogradObserver {
 public:
  virtual ~AutogradObserver() = default;
  virtual void on_grad_slot(const Tensor& owner) = 0;
  virtual void on_rebase(const Tensor& t) = 0;
  virtual void on_backward_node(const Node& node) = 0;
};
AutogradObserver* autograd_observer();
void set_autograd_observer(AutogradObserver* observer);
inline void note_grad_slot(const Tensor& owner) {
  if (AutogradObserver* o = autograd_observer()) [[unlikely]] o->on_grad_slot(owner);
}
inline void note_rebase(const Tensor& t) {
  if (AutogradObserver* o = autograd_observer()) [[unlikely]] o->on_rebase(t);
}
inline void note_backward_node(const Node& node) {
  if (AutogradObserver* o = autograd_observer()) [[unlikely]] o->on_backward_node(node);
}

}  // namespace duet
