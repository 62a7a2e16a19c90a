// Grouping a compiled step's inputs by storage (see step_inputs.h).
#include "graph/step_inputs.h"

#include <algorithm>

#include "autograd/autograd_meta.h"

namespace duet::graph {
namespace {

// Elements from t's first element to past its last (0 for an empty tensor).
int64_t extent_of(const Tensor& t) {
  if (t.numel() == 0) return 0;
  int64_t e = 1;
  for (int64_t d = 0; d < t.dim(); ++d) e += (t.size(d) - 1) * t.stride(d);
  return e;
}

std::string layout_key(const Tensor& t) {
  std::string s = std::string(dtype_name(t.dtype())) + shape_str(t.sizes()) + "@" + t.device().str();
  if (!t.is_contiguous()) s += " strides " + shape_str(t.strides());
  if (t.unsafe_impl()->is_view_) s += " view";
  return s;
}

}  // namespace

Tensor input_window(const Tensor& t) {
  if (t.is_contiguous()) return t;
  return Tensor(std::make_shared<TensorImpl>(t.storage(), Shape{extent_of(t)}, Shape{1}, t.storage_offset(),
                                             t.dtype(), t.device()));
}

InputPlan InputPlan::of(const std::vector<Tensor>& inputs, const std::set<const Storage*>& bound) {
  InputPlan p;
  const size_t n = inputs.size();
  p.group_of.assign(n, -1);
  p.offset_in_span.assign(n, 0);
  p.same_as.assign(n, -1);
  for (size_t i = 0; i < n; ++i) {
    const Tensor& t = inputs[i];
    DUET_CHECK(t.defined(), "compiled function: input ", i, " is an undefined tensor");
    for (size_t j = 0; j < i && p.same_as[i] < 0; ++j)
      if (inputs[j].is_same(t)) p.same_as[i] = int(j);
    for (size_t g = 0; g < p.groups.size() && p.group_of[i] < 0; ++g)
      if (inputs[size_t(p.groups[g].members[0])].storage() == t.storage()) p.group_of[i] = int(g);
    if (p.group_of[i] < 0) {
      p.group_of[i] = int(p.groups.size());
      p.groups.push_back({});
    }
    p.groups[size_t(p.group_of[i])].members.push_back(int(i));
  }
  for (Group& g : p.groups) {
    int64_t first = INT64_MAX, past = INT64_MIN;
    for (int m : g.members) {
      const Tensor& t = inputs[size_t(m)];
      first = std::min(first, t.storage_offset());
      past = std::max(past, t.storage_offset() + extent_of(t));
    }
    g.span = std::max<int64_t>(past - first, 0);
    for (int m : g.members) p.offset_in_span[size_t(m)] = inputs[size_t(m)].storage_offset() - first;
    const Tensor& lead = inputs[size_t(g.members[0])];
    g.whole = g.members.size() == 1 && lead.is_contiguous();
    g.bound = bound.count(lead.storage().get()) != 0;
  }
  for (size_t i = 0; i < n; ++i) {
    const Tensor& t = inputs[i];
    std::string& s = p.signature;
    s += layout_key(t);
    const Group& g = p.groups[size_t(p.group_of[i])];
    if (g.members.size() > 1)
      s += " shares storage " + std::to_string(p.group_of[i]) + " (" + std::to_string(g.span) + ") at " +
           std::to_string(p.offset_in_span[i]);
    if (p.same_as[i] >= 0) s += " is input " + std::to_string(p.same_as[i]);
    if (t.requires_grad() && !t.is_leaf()) {
      s += " requires_grad (not a leaf)";
      // A view taken with gradient tracking: stale already, or which input is its base
      // (Note [Stale views] in autograd/autograd_layer.cpp).
      if (const AutogradMeta* m = autograd_meta(t); m && m->view_base) {
        if (m->view_base->grad_fn != m->view_base_fn) s += " stale view";
        for (size_t j = 0; j < n; ++j)
          if (inputs[j].unsafe_impl()->autograd_ == m->view_base) s += " view of input " + std::to_string(j);
      }
    } else if (t.requires_grad()) {
      const Tensor& grad = autograd_meta(t)->grad;
      s += grad.defined() ? " grad " + layout_key(grad) : " requires_grad";
      if (grad.defined() && grad.requires_grad()) s += grad.is_leaf() ? " (requires grad)" : " (with a history)";
    }
    s += ";";
  }
  return p;
}

Tensor InputPlan::span_of(const std::vector<Tensor>& inputs, size_t g) const {
  const Group& grp = groups[g];
  const Tensor& lead = inputs[size_t(grp.members[0])];
  if (grp.whole) return lead;
  const int64_t first = lead.storage_offset() - offset_in_span[size_t(grp.members[0])];
  return Tensor(
      std::make_shared<TensorImpl>(lead.storage(), Shape{grp.span}, Shape{1}, first, lead.dtype(), lead.device()));
}

Tensor InputPlan::member_of(const Tensor& base, const std::vector<Tensor>& inputs, size_t i) const {
  const Tensor& t = inputs[i];
  if (groups[size_t(group_of[i])].whole) return base;
  return Tensor(std::make_shared<TensorImpl>(base.storage(), t.sizes(), t.strides(),
                                             base.storage_offset() + offset_in_span[i], t.dtype(), t.device()));
}

}  // namespace duet::graph
