// The autograd dispatch layer: records the backward graph as ops run.
// Note [In-place ops and autograd]: an in-place op becomes the new grad_fn of the tensor
// it wrote (its history is "rebased"); inputs a rule needs that the op overwrites are
// saved as clones first. Leaves that require grad, and views of tensors that require
// grad, cannot be written in place while grad is being recorded: the first would lose the leaf,
// the second would need the base's history rewritten (PyTorch's CopySlices), which duet
// does not do — both are clear errors, never wrong gradients. (The view check is on any
// view, since the tensor it views might be used later as if unchanged.) The layer takes
// an in-place call when the destination requires grad even if no input does (active_out):
// w.copy_(t) into such a leaf is refused like w.add_(1), and y.copy_(t), y.fill_(0) or
// y.zero_() on a non-leaf y rebase y's history. When the op does not read the old value
// (the destination is not among its inputs), y's new grad_fn still keeps an edge to the
// old history, which receives zeros (OverwriteNode): the tensors behind the overwritten
// value get a zero gradient, as PyTorch's CopyBackwards and fill_ rule give them.
#include "autograd/autograd_layer.h"

#include <mutex>

#include "autograd/autograd_meta.h"
#include "autograd/grad_mode.h"
#include "autograd/op_node.h"
#include "core/dispatch.h"
#include "core/functions.h"

// Note [Stale views]: a view taken with gradient tracking routes its gradient through the
// history its base had then. When the base is later written in place with gradient
// tracking it gets a new history, which PyTorch gives the view too (its grad_fn is rebuilt
// on the base's new one); duet does not rebuild it, so using such a view in a recorded op
// is an error that says to take the view again, never a silently stale gradient. (A base
// written under NoGradGuard keeps its history, and its views stay usable.)
namespace duet {
namespace {

void check_not_stale(const char* op, std::span<const Tensor> inputs) {
  for (const Tensor& t : inputs) {
    const AutogradMeta* m = autograd_meta(t);
    if (m == nullptr || !m->view_base || m->view_base->grad_fn == m->view_base_fn) continue;
    DUET_FAIL(op, ": a view (", dtype_name(t.dtype()), shape_str(t.sizes()), ") of a tensor that was written in "
              "place with gradient tracking after the view was taken is used in a recorded op; its history would "
              "be the old one: take the view again after the in-place op (PyTorch rebuilds it)");
  }
}

bool shares_memory(const Tensor& a, const Tensor& b) { return a.storage() && a.storage() == b.storage(); }

// The grad_fn of an in-place op that overwrites a tensor without reading it (see Note [In-
// place ops and autograd]): the op's node, plus an edge to the old history fed zeros.
class OverwriteNode final : public Node {
 public:
  OverwriteNode(std::shared_ptr<Node> op_node, Edge old_history) : op_node_(std::move(op_node)) {
    next_edges = op_node_->next_edges;
    next_edges.push_back(std::move(old_history));
  }
  std::vector<Tensor> apply(const Tensor& grad_output) override {
    std::vector<Tensor> grads = op_node_->apply(grad_output);
    grads.push_back(zeros_like(grad_output));
    return grads;
  }
  std::string name() const override { return op_node_->name(); }
  void release_saved() override { op_node_->release_saved(); }

 private:
  std::shared_ptr<Node> op_node_;
};

class AutogradLayer final : public DispatchLayer {
 public:
  bool active(OpKind, std::span<const Tensor> inputs) const override {
    if (!GradMode::is_enabled()) return false;
    for (const Tensor& t : inputs)
      if (requires_grad(t)) return true;
    return false;
  }
  bool active_out(OpKind op, std::span<const Tensor> inputs, const Tensor& out) const override {
    return active(op, inputs) || (GradMode::is_enabled() && requires_grad(out));
  }

  Tensor call(OpKind op, std::span<const Tensor> inputs, const Attrs& attrs, const TensorMeta& meta, const Tensor* out,
              const DispatchNext& next) override {
    const DerivativeDef& def = derivative_for(op);
    bool differentiable = def.fn != nullptr && is_floating(meta.dtype);
    check_not_stale(op_name(op), inputs);
    if (out) return call_inplace(op, inputs, attrs, meta, *out, def, differentiable, next);
    if (!differentiable) return next(op, inputs, attrs, meta, nullptr);
    auto node = std::make_shared<OpNode>(op, attrs, inputs, def, inputs);
    Tensor result = next(op, inputs, attrs, meta, nullptr);
    if (def.save & kSaveOutput) node->save_output(result);
    AutogradMeta& m = ensure_autograd_meta(result);
    m.requires_grad = true;
    m.grad_fn = std::move(node);
    if (op_def(op).view && result.storage() == inputs[0].storage()) {  // Note [Stale views]
      const std::shared_ptr<AutogradMeta>& base = inputs[0].unsafe_impl()->autograd_;
      m.view_base = base->view_base ? base->view_base : base;
      m.view_base_fn = base->view_base ? base->view_base_fn : base->grad_fn;
    }
    return result;
  }

 private:
  Tensor call_inplace(OpKind op, std::span<const Tensor> inputs, const Attrs& attrs, const TensorMeta& meta,
                      const Tensor& self, const DerivativeDef& def, bool differentiable, const DispatchNext& next) {
    const char* name = op_name(op);
    AutogradMeta* sm = autograd_meta(self);
    bool self_tracked = sm != nullptr && sm->requires_grad;
    DUET_CHECK(!(self_tracked && !sm->grad_fn), name,
               "_: a leaf tensor that requires grad cannot be modified in place while grad mode is on "
               "(wrap the update in a NoGradGuard, as optimizers do)");
    DUET_CHECK(!self.unsafe_impl()->is_view_, name,
               "_: in-place writes into a view are not supported while recording gradients (the viewed "
               "tensor's history would have to change too); use the out-of-place op instead");
    DUET_CHECK(differentiable, name, "_: the op is not differentiable, but it reads or writes a tensor that "
               "requires grad");
    // Inputs the rule needs, saved before the op overwrites them.
    std::vector<Tensor> saved(inputs.begin(), inputs.end());
    if (def.save & kSaveInputs) {
      NoGradGuard no_grad;
      for (Tensor& t : saved)
        if (shares_memory(t, self)) t = t.clone();
    }
    note_rebase(self);  // graph capture refuses a new history for a tensor outside the step
    auto node = std::make_shared<OpNode>(op, attrs, inputs, def, saved);
    // An op that does not read the old value still links it, for its zero gradient.
    std::shared_ptr<Node> grad_fn = node;
    bool reads_self = false;
    for (const Tensor& t : inputs) reads_self = reads_self || t.is_same(self);
    if (self_tracked && !reads_self) grad_fn = std::make_shared<OverwriteNode>(node, gradient_edge(self));
    next(op, inputs, attrs, meta, &self);
    if (def.save & kSaveOutput) node->save_output(self);
    AutogradMeta& m = ensure_autograd_meta(self);
    m.requires_grad = true;
    m.grad_fn = std::move(grad_fn);
    return self;
  }
};

}  // namespace

void ensure_autograd_layer() {
  static std::once_flag once;
  static AutogradLayer layer;
  std::call_once(once, [] { set_layer(DispatchKey::Autograd, &layer); });
}

}  // namespace duet
