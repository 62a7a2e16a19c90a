// Creating autograd data on demand and finding a tensor's gradient edge.
#include "autograd/autograd_meta.h"

namespace duet {
namespace {
thread_local AutogradObserver* t_observer = nullptr;
}  // namespace

AutogradObserver* autograd_observer() { return t_observer; }
void set_autograd_observer(AutogradObserver* observer) { t_observer = observer; }

AutogradMeta& ensure_autograd_meta(const Tensor& t) {
  auto& slot = t.unsafe_impl()->autograd_;
  if (!slot) slot = std::make_shared<AutogradMeta>();
  return *slot;
}

bool requires_grad(const Tensor& t) {
  const AutogradMeta* m = t.defined() ? autograd_meta(t) : nullptr;
  return m != nullptr && m->requires_grad;
}

Edge gradient_edge(const Tensor& t) {
  AutogradMeta* m = autograd_meta(t);
  if (m == nullptr || !m->requires_grad) return {};
  if (m->grad_fn) return {m->grad_fn};
  std::shared_ptr<Node> acc = m->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
    m->grad_accumulator = acc;
  }
  return {acc};
}

Tensor alias_without_grad(const Tensor& t) {
  const TensorImpl& i = *t.unsafe_impl();
  auto impl = std::make_shared<TensorImpl>(i.storage_, i.sizes_, i.strides_, i.offset_, i.dtype_, i.device_);
  return Tensor(std::move(impl));
}

}  // namespace duet
