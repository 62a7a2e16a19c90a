// The autograd methods of Tensor: requires_grad_, grad, backward, detach, hooks.
#include <memory>

#include "autograd/autograd_layer.h"
#include "autograd/autograd_meta.h"
#include "autograd/engine.h"
#include "core/capture_hooks.h"
#include "core/functions.h"

namespace duet {

bool Tensor::requires_grad() const { return duet::requires_grad(*this); }

const Tensor& Tensor::requires_grad_(bool on) const {
  AutogradMeta* m = autograd_meta(*this);
  if (!on) {
    DUET_CHECK(m == nullptr || !m->grad_fn, "requires_grad_(false): only leaves can stop requiring grad; use "
               "detach() to get a tensor without history");
    if (m) m->requires_grad = false;
    return *this;
  }
  DUET_CHECK(is_floating_point(), "requires_grad_: only floating-point tensors can require gradients, got ",
             dtype_name(dtype()));
  ensure_autograd_layer();
  ensure_autograd_meta(*this).requires_grad = true;
  return *this;
}

Tensor Tensor::grad() const {
  note_grad_slot(*this);
  AutogradMeta* m = autograd_meta(*this);
  return m ? m->grad : Tensor();
}

void Tensor::set_grad(const Tensor& g) const {
  if (g.defined())
    DUET_CHECK(g.sizes() == sizes() && g.dtype() == dtype(), "set_grad: a gradient ", dtype_name(g.dtype()),
               shape_str(g.sizes()), " does not match the tensor ", dtype_name(dtype()), shape_str(sizes()));
  note_grad_slot(*this);
  ensure_autograd_meta(*this).grad = g;
}

bool Tensor::is_leaf() const {
  AutogradMeta* m = autograd_meta(*this);
  return m == nullptr || !m->grad_fn;
}

std::string Tensor::grad_fn_name() const {
  AutogradMeta* m = autograd_meta(*this);
  return m && m->grad_fn ? m->grad_fn->name() : "";
}

void Tensor::backward(const Tensor& grad, bool retain_graph) const { autograd::backward({*this}, {grad}, retain_graph); }

Tensor Tensor::detach() const {
  Tensor alias = alias_without_grad(*this);
  if (CaptureHooks* h = capture_hooks()) h->on_alias(*this, alias);
  return alias;
}

void Tensor::register_hook(std::function<Tensor(const Tensor&)> fn) const {
  AutogradMeta* m = autograd_meta(*this);
  DUET_CHECK(m != nullptr && m->requires_grad, "register_hook: the tensor does not require grad");
  if (m->grad_fn) m->grad_fn->pre_hooks.push_back(std::move(fn));
  else m->leaf_hooks.push_back(std::move(fn));
}

void Tensor::retain_grad() const {
  AutogradMeta* m = autograd_meta(*this);
  DUET_CHECK(m != nullptr && m->requires_grad, "retain_grad: the tensor does not require grad");
  if (!m->grad_fn || m->retains_grad) return;
  m->retains_grad = true;
  std::weak_ptr<TensorImpl> self = impl_ptr();
  m->grad_fn->pre_hooks.push_back([self](const Tensor& g) {
    if (auto impl = self.lock()) {
      note_grad_slot(Tensor(impl));
      AutogradMeta& meta = *impl->autograd_;
      meta.grad = meta.grad.defined() ? add(meta.grad, g) : g.clone();
    }
    return Tensor();
  });
}

}  // namespace duet
