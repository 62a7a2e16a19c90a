// Graph capture: the Capture dispatch layer, the session's aliases (functionalization),
// its inputs and the recording of ops. Host state and finishing: capture_contract.cpp.
//
// Note [Functionalization]: eager tensors share memory (views, detach(), a parameter and
// its transpose) and ops write into it in place; a graph value is immutable. Capture
// bridges the two as PyTorch's functionalization does, one storage at a time. Every
// storage the code touches (a real one, or a symbolic one made for a value the step
// computes) has an Alias: the value its whole memory holds now (the base, laid out
// contiguously: the tensor the storage was made for, or, for a real storage no single
// tensor covers, its elements as a flat vector), and the values of the views read since
// the last write. Reading a tensor gives the base when the tensor is the base, the
// cached value of its view, or else a view of the current base derived from its layout
// alone: a reshape when it covers the base contiguously, otherwise as_strided (Note
// [as_strided over elements] in core/ops/strided.cpp). A write of value v into a tensor
// makes a new base: v itself, v reshaped, or as_strided_scatter(base, v) at the tensor's
// window; the view cache is emptied (every alias, the written one too, now reads the new
// base). So views of views, writes through any alias, and views taken before a write all
// read what eager mode would, with no bookkeeping of how each view was made. A view op records its node and caches it as that view's value, so
// untouched code keeps its permutes and slices (which later passes understand).
// Symbolic storages have no memory but a version counter that in-place writes bump, as
// real ones do, so autograd's saved-tensor checks fire exactly as in eager mode.
//
// Note [Graph values keep eager's layouts]: a reduction's summation order follows its
// input's memory layout (runs, columns), so a value must reach every kernel with the
// layout it has in eager mode, or its bits could differ. Capture gives each tensor eager's
// strides: a view keeps its builder's strides, a read after a write is an as_strided of
// the new base with the tensor's own strides (never the written value, which is dense), a
// write's value is dense as eager's memory is (copy_ of a broadcast source copies). The
// passes keep it: simplification forwards an identity op (x * 1, a same-dtype cast) only
// to a dense x, constant folding leaves views unfolded.
//
#include "graph/capture.h"
#include "graph/boundary_history.h"
#include "graph/capture_alias.h"

#include <algorithm>
#include <mutex>
#include <unordered_set>

#include "autograd/autograd_meta.h"
#include "core/dispatch.h"
#include "core/functions.h"
#include "core/generator.h"
#include "graph/step_inputs.h"
#include "graph/unsupported.h"

namespace duet::graph {
namespace {

thread_local CaptureSession* t_session = nullptr;

class CaptureLayer final : public DispatchLayer {
 public:
  bool active(OpKind, std::span<const Tensor>) const override { return is_capturing() && t_session != nullptr; }
  Tensor call(OpKind op, std::span<const Tensor> inputs, const Attrs& attrs, const TensorMeta& meta, const Tensor* out,
              const DispatchNext&) override {
    return t_session->record(op, inputs, attrs, meta, out);
  }
};

class Observer final : public AutogradObserver {
 public:
  void on_grad_slot(const Tensor& owner) override {
    if (t_session) t_session->on_grad_slot(owner);
  }
  void on_rebase(const Tensor& t) override {
    if (t_session) t_session->on_rebase(t);
  }
  void on_backward_node(const duet::Node& node) override {
    if (t_session && !dynamic_cast<const AccumulateGrad*>(&node)) t_session->on_backward_node(node.sequence_nr, node.name());
  }
};
Observer g_observer;

void install_capture_layer() {
  static std::once_flag once;
  static CaptureLayer layer;
  std::call_once(once, [] { set_layer(DispatchKey::Capture, &layer); });
}

std::string state_name(const Tensor& t, size_t index) {
  std::string name = "s";  // appended piecewise: GCC 12 warns falsely (-Wrestrict) on "s" + ...
  name += std::to_string(index);
  name += ':';
  name += dtype_name(t.dtype());
  name += shape_str(t.sizes());
  return name;
}

}  // namespace

CaptureSession::CaptureSession() {
  install_capture_layer();
  DUET_CHECK(t_session == nullptr, "graph capture: a capture is already running on this thread (nested compile "
             "calls are not supported)");
  t_session = this;
  prev_capturing_ = is_capturing();
  set_capturing(true);
  set_capture_hooks(this);
  set_autograd_observer(&g_observer);
  first_node_ = next_node_sequence();
  generator_seed_ = default_generator().seed();
  generator_offset_ = default_generator().offset();
}

CaptureSession::~CaptureSession() {
  if (recording_) stop_recording();
  if (!committed_) abort();
}

CaptureSession* CaptureSession::current() { return t_session; }

void CaptureSession::stop_recording() {
  recording_ = false;
  t_session = nullptr;
  set_capturing(prev_capturing_);
  set_capture_hooks(nullptr);
  set_autograd_observer(nullptr);
  // Capturing draws no random numbers: the first run draws what eager mode would.
  Generator& gen = default_generator();
  gen.manual_seed(generator_seed_);
  gen.advance(generator_offset_);
}

void CaptureSession::abort() {
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) (*it)();
  undo_.clear();
  for (Rebased& r : rebased_) {
    if (r.meta) *r.meta = *r.before;
    r.impl->autograd_ = r.meta;
  }
  for (const StepContract::GradSlot& s : contract_.grad_slots)
    if (auto owner = s.owner.lock()) {
      if (s.start.defined() || owner->autograd_) ensure_autograd_meta(Tensor(owner)).grad = s.start;
    }
}

[[noreturn]] void CaptureSession::needs_eager_call(const std::string& why) { throw NeedsEagerCall(why); }
[[noreturn]] void CaptureSession::refuse(const std::string& why) { DUET_REFUSE(why); }

bool CaptureSession::is_symbolic(const Tensor& t) const {
  return t.is_symbolic() && aliases_.count(t.storage().get()) != 0;
}

// ---- aliases

CaptureSession::Alias* CaptureSession::find_alias(const Storage* s) {
  auto it = aliases_.find(s);
  if (it == aliases_.end()) return nullptr;
  std::shared_ptr<Storage> live = it->second->storage.lock();
  if (live.get() == s) return it->second.get();
  aliases_.erase(it);  // that storage died and its address was reused
  return nullptr;
}

CaptureSession::Alias& CaptureSession::alias_of(const Tensor& t) {
  DUET_CHECK(t.storage() != nullptr, "graph capture: a tensor without storage was used");
  Alias* a = find_alias(t.storage().get());
  if (a == nullptr) {
    if (t.is_symbolic())
      refuse("a tensor made while capturing another compiled function, or an earlier capture of this one, was "
             "used (" + describe_tensor(t) + "); tensors made inside a compiled function exist only in its graph: return "
             "them as outputs, or write them into existing tensors with copy_(), instead of keeping them");
    a = &register_state(t);
  }
  if (t.dtype() != a->dtype)
    refuse("tensors of dtypes " + std::string(dtype_name(a->dtype)) + " and " + dtype_name(t.dtype()) +
           " share one storage; a compiled step cannot reinterpret memory");
  return *a;
}

CaptureSession::Alias& CaptureSession::register_state(const Tensor& t) {
  const std::shared_ptr<Storage>& st = t.storage();
  if (auto w = watched_.find(st.get()); w != watched_.end()) throw BindInputs(w->second);
  auto a = std::make_unique<Alias>();
  a->storage = st;
  a->dtype = t.dtype();
  a->device = t.device();
  const int64_t elements = int64_t(st->nbytes() / dtype_size(t.dtype()));
  if (t.storage_offset() == 0 && t.is_contiguous() && t.numel() == elements &&
      size_t(elements) * dtype_size(t.dtype()) == st->nbytes()) {
    a->base_sizes = t.sizes();
  } else {
    a->base_sizes = {elements};  // no tensor covers the storage: its elements, flat
  }
  a->base_strides = contiguous_strides(a->base_sizes);
  a->base_numel = numel_of(a->base_sizes);
  // The State node holds its own tensor over the storage, so later changes to the user's
  // tensor objects (set_data, to(dtype)) cannot move what a compiled step reads.
  Node n;
  n.kind = NodeKind::State;
  n.meta = a->base_meta();
  n.state = std::make_shared<TensorImpl>(st, a->base_sizes, a->base_strides, 0, a->dtype, a->device);
  n.name = state_name(Tensor(n.state), state_order_.size());
  a->initial = a->current = g_.add(std::move(n));
  a->constant = born_.count(st.get()) != 0;
  if (a->constant) constants_.push_back(st);
  state_order_.push_back(st.get());
  return *aliases_.emplace(st.get(), std::move(a)).first->second;
}

ValueId CaptureSession::read(Alias& a, const Tensor& t) {
  if (a.is_base(t)) return a.current;
  ViewKey key{t.storage_offset(), t.sizes(), t.strides()};
  if (auto it = a.views.find(key); it != a.views.end()) return it->second;
  const int64_t offset = t.storage_offset() - a.base_offset;
  DUET_ASSERT(offset >= 0, "graph capture: a view starts before its storage's base");
  TensorMeta meta{t.sizes(), a.dtype, a.device};
  ValueId v = a.reshapes_base(t)
                  ? add_op(OpKind::reshape, {a.current}, Attrs().set("shape", t.sizes()), meta)
                  : add_op(OpKind::as_strided, {a.current},
                           Attrs().set("size", t.sizes()).set("stride", t.strides()).set("offset", offset), meta);
  a.views.emplace(std::move(key), v);
  return v;
}

void CaptureSession::write(Alias& a, const Tensor& t, ValueId v) {
  if (a.is_base(t)) {
    a.current = v;
  } else if (a.reshapes_base(t)) {
    a.current = add_op(OpKind::reshape, {v}, Attrs().set("shape", a.base_sizes), a.base_meta());
  } else {
    Attrs w = Attrs()
                  .set("size", t.sizes())
                  .set("stride", t.strides())
                  .set("offset", t.storage_offset() - a.base_offset);
    a.current = add_op(OpKind::as_strided_scatter, {a.current, v}, std::move(w), a.base_meta());
  }
  // Every view, the written one too, now reads the new base with its own layout (Note
  // [Graph values keep eager's layouts]).
  a.views.clear();
}

Tensor CaptureSession::new_value(ValueId v, const TensorMeta& meta) {
  auto st = Storage::symbolic(size_t(numel_of(meta.shape)) * dtype_size(meta.dtype), meta.device);
  Tensor t(std::make_shared<TensorImpl>(st, meta.shape, contiguous_strides(meta.shape), 0, meta.dtype, meta.device));
  auto a = std::make_unique<Alias>();
  a->storage = st;
  a->dtype = meta.dtype;
  a->device = meta.device;
  a->base_sizes = meta.shape;
  a->base_strides = t.strides();
  a->base_numel = t.numel();
  a->current = v;
  aliases_.emplace(st.get(), std::move(a));
  made_.push_back(st);
  return t;
}

ValueId CaptureSession::value_of(const Tensor& t) {
  Alias& a = alias_of(t);
  if (!t.is_symbolic()) note_layout(t);
  return read(a, t);
}

void CaptureSession::note_layout(const Tensor& t) {
  if (!noted_.insert(t.unsafe_impl()).second) return;
  contract_.layouts.push_back({t.impl_ptr(), t.storage(), t.storage().get(), t.storage_offset(), t.sizes(),
                               t.strides(), t.dtype(), t.requires_grad(), !t.is_leaf()});
}

ValueId CaptureSession::add_op(OpKind op, std::vector<ValueId> inputs, Attrs attrs, TensorMeta meta) {
  Node n;
  n.kind = NodeKind::Op;
  n.op = op;
  n.inputs = std::move(inputs);
  n.attrs = std::move(attrs);
  n.meta = std::move(meta);
  return g_.add(std::move(n));
}

// ---- inputs and ops

Tensor CaptureSession::add_input(const TensorMeta& meta, bool requires_grad) {
  Node n;
  n.kind = NodeKind::Input;
  n.input_index = inputs_++;
  n.meta = meta;
  n.name = "input" + std::to_string(n.input_index);
  ValueId v = g_.add(std::move(n));
  Tensor t = new_value(v, meta);
  Alias& a = *aliases_.at(t.storage().get());
  a.initial = v;
  if (requires_grad) t.requires_grad_();
  placeholders_.push_back(t);
  return t;
}

Tensor CaptureSession::add_input_like(const Tensor& t) {
  Tensor window = input_window(t);
  Tensor p = add_input({window.sizes(), t.dtype(), t.device()});
  if (!t.is_contiguous())
    p = Tensor(std::make_shared<TensorImpl>(p.storage(), t.sizes(), t.strides(), 0, t.dtype(), t.device()));
  dress_like(p, t);
  return p;
}

Tensor CaptureSession::add_group_input(int group, const TensorMeta& span) {
  contract_.input_nodes.push_back({group, -1, StepContract::kNone});
  return add_input(span);
}

// A placeholder looks to the code as the real tensor `t` does: a view or not, requiring
// grad as a leaf, or not a leaf (a history from before the call: in-place writes rebase
// it, as in eager mode, and a backward into it is refused).
void CaptureSession::dress_like(const Tensor& p, const Tensor& t) {
  p.unsafe_impl()->is_view_ = t.unsafe_impl()->is_view_;
  if (t.requires_grad() && t.is_leaf()) {
    p.requires_grad_();
  } else if (t.requires_grad()) {
    AutogradMeta& m = ensure_autograd_meta(p);
    m.requires_grad = true;
    m.grad_fn = outside_history();
  }
}

void CaptureSession::set_user_input(int i, Tensor p, const Tensor& t) {
  if (p.is_symbolic()) dress_like(p, t);
  user_placeholders_[i] = std::move(p);
}

void CaptureSession::link_input_views(const std::vector<Tensor>& callers, const std::vector<Tensor>& placeholders) {
  for (size_t i = 0; i < callers.size(); ++i) {
    const AutogradMeta* m = autograd_meta(callers[i]);
    if (m == nullptr || !m->view_base || !placeholders[i].is_symbolic()) continue;
    AutogradMeta& pm = ensure_autograd_meta(placeholders[i]);
    pm.view_base = m->view_base;  // a base outside the inputs: the same autograd data
    pm.view_base_fn = m->view_base_fn;
    for (size_t j = 0; j < callers.size(); ++j) {
      if (callers[j].unsafe_impl()->autograd_ != m->view_base || !placeholders[j].is_symbolic()) continue;
      // The base is an input: inside, it is its placeholder (already stale stays stale).
      const bool stale = m->view_base->grad_fn != m->view_base_fn;
      pm.view_base = placeholders[j].unsafe_impl()->autograd_;
      pm.view_base_fn = stale ? outside_history() : pm.view_base->grad_fn;
    }
  }
}

void CaptureSession::add_input_grad(int input, const Tensor& grad) {
  contract_.input_nodes.push_back({-1, input, StepContract::kNone});
  Tensor g = add_input_like(grad);
  grad_input_of_[input] = int(placeholders_.size()) - 1;
  ensure_autograd_meta(user_placeholders_.at(input)).grad = g;
}

Tensor CaptureSession::record(OpKind op, std::span<const Tensor> inputs, const Attrs& attrs, const TensorMeta& meta,
                              const Tensor* out) {
  const OpDef& def = op_def(op);
  std::vector<ValueId> ins;
  for (const Tensor& t : inputs) ins.push_back(value_of(t));
  if (out) {
    ValueId v;
    if (op == OpKind::copy) {  // copy_: the value is the source, broadcast and converted, dense
      v = ins[0];
      TensorMeta src = g_.node(v).meta;
      if (src.shape != meta.shape)
        v = add_op(OpKind::expand, {v}, Attrs().set("shape", meta.shape), {meta.shape, src.dtype, src.device});
      v = src.dtype != meta.dtype ? add_op(OpKind::cast, {v}, Attrs().set("dtype", meta.dtype), meta)
                                  : add_op(OpKind::copy, {v}, {}, meta);
    } else {
      v = add_op(op, ins, attrs, meta);
    }
    Alias& a = alias_of(*out);
    if (!out->is_symbolic()) note_layout(*out);
    write(a, *out, v);
    out->storage()->bump_version();  // as the kernel layer would: saved-tensor checks see it
    return *out;
  }
  ValueId v = add_op(op, ins, attrs, meta);
  // A view shares its input's storage, with the strides eager mode would give it (so code
  // that asks is_contiguous() takes the same path), unless eager mode would copy.
  const bool copies = (op == OpKind::reshape && !view_strides(inputs[0].sizes(), inputs[0].strides(), meta.shape)) ||
                      (op == OpKind::as_strided && !inputs[0].is_contiguous());
  if (def.view && !copies) {
    Tensor r = def.view(inputs, attrs, meta);
    alias_of(inputs[0]).views[ViewKey{r.storage_offset(), r.sizes(), r.strides()}] = v;
    if (!r.is_symbolic()) views_made_.push_back(r.impl_ptr());
    return r;
  }
  Tensor r = new_value(v, meta);
  if (def.view) r.unsafe_impl()->is_view_ = true;  // eager marks a view op's copy as a view too
  return r;
}

}  // namespace duet::graph
