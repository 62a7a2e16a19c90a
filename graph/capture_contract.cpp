// Graph capture's host state and its end: the hooks code above core calls while a
// capture runs (.grad slots, histories, host reads), finish() (outputs as eager returns
// them, input writes, .grad slots, write-backs, random draws), the check that nothing made
// while capturing escaped, and the contract a compiled step checks before each run.
//
// Note [Constants made inside]: a real tensor the captured code makes from host data
// (tensor(), from_blob()) is a constant of the graph, read in place; every eager call would
// make it anew, so writes into it are functionalised but never written back, a returned
// one comes back as a fresh copy, and one the code keeps is refused. Real tensors made
// under CaptureSuspendGuard (an optimizer's new state) are ordinary persistent state.
//
// Note [Grad slots under capture]: .grad is host state, not a value: the capture records
// what each .grad slot it touches held at the start, and at the end either keeps a real
// tensor there (one that existed, which gradients accumulate into in place, as eager
// mode does: a write-back), clears it, or, for a gradient the step makes anew, returns it
// as a hidden output that each run puts in the slot (a new tensor per run, as in eager
// mode). A run needs the slot to hold what the capture saw (the contract checks it) and
// leaves it as eager mode would; a failed capture puts it back.
#include <algorithm>
#include <unordered_map>

#include "autograd/autograd_meta.h"
#include "core/dispatch.h"
#include "core/generator.h"
#include "graph/capture.h"
#include "graph/boundary_history.h"
#include "graph/capture_alias.h"
#include "graph/unsupported.h"

namespace duet::graph {

void give_step_history(const Tensor& t) {
  AutogradMeta& m = ensure_autograd_meta(t);
  m.requires_grad = true;
  m.grad_fn = step_history_node();
}

// ---- host state

void CaptureSession::on_grad_slot(const Tensor& owner) {
  if (!recording_ || owner.is_symbolic()) return;  // inputs' and values' .grad are part of the graph
  const TensorImpl* key = owner.unsafe_impl();
  if (grad_slot_index_.count(key)) return;
  // The caller may pass this very tensor as an input too: its group is passed as itself,
  // so the input and the tensor the code names have one .grad, as in eager mode.
  if (auto w = watched_.find(owner.storage().get()); w != watched_.end()) throw BindInputs(w->second);
  contract_.states.push_back(owner.storage());
  grad_slot_index_[key] = contract_.grad_slots.size();
  AutogradMeta* am = autograd_meta(owner);
  StepContract::GradSlot slot;
  slot.owner = owner.impl_ptr();
  slot.start = am ? am->grad : Tensor();
  if (slot.start.defined()) {
    slot.start_requires_grad = slot.start.requires_grad();
    slot.start_has_history = !slot.start.is_leaf();
  }
  if (slot.start.defined() && !slot.start.is_symbolic()) {
    // A .grad that exists is an input of the step, read from the slot at each run: its
    // identity changes from call to call (each run may put a new tensor there).
    contract_.input_nodes.push_back({-1, -1, contract_.grad_slots.size()});
    slot.input = inputs_;
    am->grad = add_input_like(slot.start);
  }
  contract_.grad_slots.push_back(std::move(slot));
}

// Note [History of tensors outside the step]: autograd history is host state too. A
// backward that walks history made before the call would replay it every run, where eager
// mode frees it after one backward: refused. An in-place op with gradient tracking gives a
// tensor that outlives the step (a closure tensor) a history; within the call it is
// captured like any other, and afterwards the tensor keeps a history that refuses a later
// backward (graph/boundary_history.h) instead of one that would describe the capture, not the runs.
void CaptureSession::on_rebase(const Tensor& t) {
  if (!recording_ || !is_capturing()) return;
  if (t.is_symbolic()) {  // the caller's input itself gets that history in eager mode
    for (const auto& [i, p] : user_placeholders_)
      if (t.is_same(p) && std::find(contract_.rebased_inputs.begin(), contract_.rebased_inputs.end(), i) ==
                              contract_.rebased_inputs.end())
        contract_.rebased_inputs.push_back(i);
    return;
  }
  note_layout(t);  // its autograd state before this write
  for (const Rebased& r : rebased_)
    if (r.impl.get() == t.unsafe_impl()) return;
  const std::shared_ptr<AutogradMeta>& m = t.unsafe_impl()->autograd_;
  rebased_.push_back({t.impl_ptr(), m, m ? std::make_shared<AutogradMeta>(*m) : nullptr});
}

void CaptureSession::on_backward_node(uint64_t sequence_nr, const std::string& name) {
  if (!recording_ || sequence_nr >= first_node_) return;
  refuse("backward inside the compiled function reached autograd history recorded before the call (" + name +
         "); a compiled step can only differentiate what it computes: detach() tensors made "
         "outside the compiled function, or compute them inside it");
}

void CaptureSession::on_host_read(const Tensor& t) {
  if (!recording_ || !is_capturing()) return;
  if (t.is_symbolic())
    refuse("the values of a tensor computed inside the function (" + describe_tensor(t) + ") were read on the host "
           "(item(), to_vector(), printing) while capturing; a compiled step cannot branch on or print them: "
           "keep the computation in tensors, or read the value outside the compiled function");
  contract_.host_reads.push_back({t.storage(), t.storage()->version()});
}

// ---- finishing

// Note [Views among outputs] in capture.h. Called before finish() gives rebased real
// tensors their step history, so a view taken after a rebase inside the step is not stale.
void CaptureSession::link_output_view(StepContract::Output& o, const Tensor& t, const std::vector<Tensor>& outputs) {
  using Link = StepContract::Output::Link;
  const AutogradMeta* m = autograd_meta(t);
  if (m == nullptr || !m->view_base) return;
  const bool made_here = o.kind != StepContract::Output::Kind::State || o.fresh;
  if (!made_here) return;  // a real tensor returned as itself keeps its own autograd data
  if (m->view_base->grad_fn != m->view_base_fn) {
    o.link = Link::Stale;
    return;
  }
  for (size_t j = 0; j < outputs.size(); ++j)
    if (outputs[j].unsafe_impl()->autograd_ == m->view_base) {
      o.link = Link::Output, o.link_index = int(j);
      return;
    }
  for (const auto& [i, p] : user_placeholders_)
    if (p.unsafe_impl()->autograd_ == m->view_base) {
      o.link = Link::Input, o.link_index = i;
      return;
    }
  if (o.kind == StepContract::Output::Kind::State) o.link = Link::Real, o.link_meta = m->view_base;
  // Otherwise its base is a tensor of the step nobody can reach after the call: never stale.
}

Graph CaptureSession::finish(const std::vector<Tensor>& outputs) {
  DUET_ASSERT(recording_, "graph capture: finish() called twice");
  // Outputs as eager returns them (Note [Outputs as eager returns them] in capture.h):
  // one graph output per storage, whatever returns or keeps it, so tensors sharing memory
  // in eager mode share it in the step, and no others do (Note [Outputs of their own]).
  std::unordered_map<const Alias*, size_t> output_of_storage;
  auto storage_output = [&](const Alias& a) {
    auto [it, fresh] = output_of_storage.emplace(&a, g_.outputs.size());
    if (fresh) g_.outputs.push_back(a.current);
    return it->second;
  };
  for (const Tensor& t : outputs) {
    DUET_CHECK(t.defined(), "graph capture: the compiled function returned an undefined tensor");
    Alias& a = alias_of(t);
    if (!t.is_symbolic()) note_layout(t);
    StepContract::Output o;
    for (size_t j = 0; j < contract_.outputs.size() && o.same_as < 0; ++j)
      if (outputs[j].is_same(t)) o.same_as = int(j);
    o.sizes = t.sizes();
    o.strides = t.strides();
    o.offset = t.storage_offset() - a.base_offset;
    o.is_view = t.unsafe_impl()->is_view_;
    o.requires_grad = t.requires_grad();
    const NodeKind origin = a.initial == kNoValue ? NodeKind::Op : g_.node(a.initial).kind;
    if (origin == NodeKind::State && !a.constant) {
      o.kind = StepContract::Output::Kind::State;
      o.tensor = t;
      for (const auto& w : views_made_) o.fresh = o.fresh || w.lock().get() == t.unsafe_impl();
    } else if (origin == NodeKind::Input) {
      o.kind = StepContract::Output::Kind::Input;
      o.input = g_.node(a.initial).input_index;
      for (const auto& [i, p] : user_placeholders_)
        if (t.is_same(p)) o.caller_input = i;
    } else {
      o.kind = StepContract::Output::Kind::Value;
      o.graph_output = storage_output(a);
    }
    link_output_view(o, t, outputs);
    contract_.outputs.push_back(std::move(o));
  }
  // Inputs written in place are copied back; inputs that require grad get their .grad.
  for (size_t i = 0; i < placeholders_.size(); ++i) {
    Alias& a = alias_of(placeholders_[i]);
    if (a.current != a.initial) {
      contract_.input_writes.push_back({int(i), g_.outputs.size()});
      g_.outputs.push_back(a.current);
      g_.written_inputs.push_back(int(i));
    }
  }
  for (const auto& [i, p] : user_placeholders_) {
    if (!p.is_symbolic() || !p.requires_grad() || !p.is_leaf()) continue;
    auto hidden = grad_input_of_.find(i);
    const int hidden_input = hidden == grad_input_of_.end() ? -1 : hidden->second;
    Tensor end = autograd_meta(p)->grad;
    size_t output = StepContract::kKeep;
    if (!end.defined()) {
      if (hidden_input >= 0) output = StepContract::kClear;
    } else {
      ValueId v = value_of(end);
      const bool unchanged = hidden_input >= 0 && v == alias_of(placeholders_[size_t(hidden_input)]).initial;
      if (!unchanged) {
        output = g_.outputs.size();
        g_.outputs.push_back(v);
      }
    }
    contract_.input_grads.push_back({i, hidden_input, output});
  }
  // .grad slots of real tensors (Note [Grad slots under capture]).
  for (StepContract::GradSlot& s : contract_.grad_slots) {
    std::shared_ptr<TensorImpl> owner = s.owner.lock();
    if (!owner) continue;
    AutogradMeta* am = owner->autograd_.get();
    Tensor end = am ? am->grad : Tensor();
    const AutogradMeta* em = end.defined() ? autograd_meta(end) : nullptr;
    s.end_history = em && em->grad_fn && em->grad_fn->sequence_nr >= first_node_;
    if (s.input >= 0 && end.is_same(placeholders_.at(size_t(s.input)))) {
      s.keep = true;  // the same tensor as at the start; what the step wrote is an input write
      s.end = Tensor();
    } else if (end.defined() && (end.is_symbolic() || born_.count(end.storage().get()))) {
      // A gradient made in the step: eager mode makes a new tensor each call.
      Alias& a = alias_of(end);
      s.output = storage_output(a);
      s.sizes = end.sizes();
      s.strides = end.strides();
      s.offset = end.storage_offset() - a.base_offset;
      s.end = Tensor();
    } else {
      s.end = end;
    }
    if (am) am->grad = s.start;  // as at the start: the run reads it, and then leaves `end`
  }
  for (const Storage* key : state_order_) {
    const Alias& a = *aliases_.at(key);
    if (!a.constant) contract_.states.push_back(a.storage);
    if (a.current != a.initial && !a.constant) g_.writebacks.push_back({a.current, a.initial});
  }
  for (const StepContract::HostRead& r : contract_.host_reads) {
    auto st = r.storage.lock();
    Alias* a = st ? find_alias(st.get()) : nullptr;
    if (a && a->current != a->initial)
      refuse("the function reads the values of a tensor on the host (item(), to_vector()) and also changes it; "
             "the compiled step would keep the values seen while capturing: read it outside the compiled "
             "function");
  }
  // Tensors outside the step that it gave a history (Note [History of tensors outside the step]).
  for (const Rebased& r : rebased_) {
    give_step_history(Tensor(r.impl));
    contract_.rebased.push_back(r.impl);
  }
  // Random draws by their position in the run (Note [Random draws in a graph]).
  const Generator& gen = default_generator();
  if (gen.seed() != generator_seed_ || gen.offset() < generator_offset_)
    refuse("the function reseeds the random generator (manual_seed); a compiled step draws from the generator "
           "as it stands when the step runs: seed outside the compiled function");
  for (Node& n : g_.nodes)
    if (n.kind == NodeKind::Op && op_def(n.op).has(kRandom))
      n.attrs.set("offset", n.attrs.get<int64_t>("offset") - int64_t(generator_offset_));
  g_.random_counters = gen.offset() - generator_offset_;
  stop_recording();
  placeholders_.clear();
  user_placeholders_.clear();
  return std::move(g_);
}

void CaptureSession::check_nothing_escaped() const {
  // A constant the code made is held once, by its State node; anything more is a reference
  // the code kept (Note [Constants made inside]).
  for (const std::weak_ptr<Storage>& w : constants_) {
    std::shared_ptr<Storage> st = w.lock();
    if (st && st.use_count() > 2)  // the State node's tensor and `st` here
      DUET_REFUSE("a tensor the compiled function made from host data (tensor(), from_blob()) is still referenced "
                  "after the function returned: it was kept outside the step (in a closure, a module, an "
                  "optimizer or a hook), and every eager call would make a new one; return it as an output "
                  "instead, or make it once outside the compiled function");
  }
  for (const std::weak_ptr<Storage>& w : made_) {
    std::shared_ptr<Storage> st = w.lock();
    if (!st) continue;
    auto it = aliases_.find(st.get());
    std::string what = it == aliases_.end() ? std::string("a tensor")
                                            : std::string(dtype_name(it->second->dtype)) +
                                                  shape_str(it->second->base_sizes);
    DUET_REFUSE("a tensor made while capturing (" + what + ") is still referenced after the function returned: it "
           "was kept outside the step (in a closure, a module, an optimizer or a hook), which replays of the "
           "compiled step cannot update; return it as an output, or write it into an existing tensor with copy_()");
  }
}

// ---- the contract

std::string StepContract::broken_assumption() const {
  for (const Layout& l : layouts) {
    std::shared_ptr<TensorImpl> t = l.impl.lock();
    if (!t) continue;
    if (t->storage_.get() != l.storage_ptr || t->offset_ != l.offset || t->sizes_ != l.sizes ||
        t->strides_ != l.strides || t->dtype_ != l.dtype)
      return "a tensor the step reads (" + std::string(dtype_name(l.dtype)) + shape_str(l.sizes) +
             ") was given new memory, shape or dtype";
    const Tensor now(t);
    if (now.requires_grad() != l.requires_grad || now.is_leaf() == l.has_history)
      return "a tensor the step reads (" + std::string(dtype_name(l.dtype)) + shape_str(l.sizes) +
             ") started or stopped requiring grad, or gained or lost its history";
  }
  for (const GradSlot& s : grad_slots) {
    std::shared_ptr<TensorImpl> owner = s.owner.lock();
    if (!owner) continue;
    const AutogradMeta* am = owner->autograd_.get();
    const Tensor now = am ? am->grad : Tensor();
    if (s.input < 0 && now.unsafe_impl() != s.start.unsafe_impl())
      return "a .grad the step reads or writes was set or replaced";
    if (s.input >= 0 && (!now.defined() || now.sizes() != s.start.sizes() || now.strides() != s.start.strides() ||
                         now.dtype() != s.start.dtype() || now.device() != s.start.device() ||
                         now.unsafe_impl()->is_view_ != s.start.unsafe_impl()->is_view_ ||
                         now.requires_grad() != s.start_requires_grad || now.is_leaf() == s.start_has_history))
      return "a .grad the step reads or writes was cleared, or replaced by one of another shape or layout";
  }
  for (const HostRead& r : host_reads) {
    std::shared_ptr<Storage> st = r.storage.lock();
    if (st && st->version() != r.version) return "a tensor whose values the step read on the host was changed";
  }
  for (const auto& [what, holds] : guards)
    if (!holds()) return what + " changed";
  return "";
}

}  // namespace duet::graph
