// Graph capture: while a CaptureSession is active on a thread, apply() records nodes
// instead of computing (the Capture dispatch layer). Inputs become symbolic placeholders;
// real tensors the code touches (parameters, optimizer state, constants) become State
// nodes read in place; in-place writes, also through views and aliases, are
// functionalised (Note [Functionalization] in capture.cpp): later reads of any alias see
// the new value, and the final values are written back when the compiled step runs.
//
//   CaptureSession s;                               // recording starts
//   Tensor x = s.add_input({{128, 784}, DType::Float32, Device::cpu()});
//   Tensor loss = user_step(x);                     // ops are recorded, nothing computed
//   Graph g = s.finish({loss});                     // recording stops
//   s.commit();                                     // keep the host-side changes
//
// A session that is destroyed without commit() undoes what capturing changed on the host
// (.grad slots, optimizer counters through CaptureHooks::on_abort, the generator).
//
// Note [Capture specialises]: control flow in user code runs once, at capture, on shapes
// and host values; the graph holds the path taken. What the path depended on is recorded
// in the step's contract (StepContract) and checked before every run: the layouts of the
// real tensors it touched, what their .grad slots held, host values code declared with
// CaptureHooks::guard (an optimizer's learning rate, a module's training flag), and the
// versions of real tensors whose values it read on the host. When one has changed, the
// function is captured again. Reading the values of a tensor the step computes (item(),
// to_vector()) cannot be captured and is refused (graph::Unsupported).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/capture_hooks.h"
#include "graph/ir.h"

namespace duet::graph {

// What a compiled step must check and do around each run besides the graph itself.
struct StepContract {
  // Note [Outputs as eager returns them]: what the function returned, by the storage each
  // tensor lives in. A tensor the step computed (Value) comes back as a view, with the
  // layout it had, of fresh memory holding its storage's final contents (graph output
  // `graph_output`); a real tensor the function returned (State: a parameter, a closure
  // tensor) comes back as itself; a view of an input as that view of the caller's tensor.
  // So outputs alias each other, the inputs and the state exactly as eager's do.
  struct Output {
    enum class Kind : uint8_t { Value, State, Input } kind = Kind::Value;
    size_t graph_output = 0;  // Value
    Tensor tensor;            // State: the tensor itself
    int input = -1;           // Input: the Input node (of the group) it views
    int caller_input = -1;    // Input: the caller's input it is, when it is one of them
    Shape sizes, strides;
    int64_t offset = 0;       // from the start of its storage's base
    bool is_view = false;
    bool requires_grad = false;
    bool fresh = false;       // State: a view the function took of it: a new tensor each run
    int same_as = -1;         // the same tensor object as this earlier output
    // Note [Views among outputs]: a returned view taken with gradient tracking keeps eager
    // mode's link to its base (Note [Stale views] in autograd/autograd_layer.cpp), so a
    // later in-place write into the base makes using it an error in both modes: stale
    // already when returned; or its base is output `link_index`, caller input
    // `link_index`, or the real tensor whose autograd data is `link_meta`.
    enum class Link : uint8_t { None, Stale, Output, Input, Real } link = Link::None;
    int link_index = -1;
    std::shared_ptr<AutogradMeta> link_meta;
  };
  std::vector<Output> outputs;
  // The function wrote into Input node `input`: output `output` is copied into it after a run.
  struct InputWrite {
    int input;
    size_t output;
  };
  std::vector<InputWrite> input_writes;
  // An input that requires grad: its .grad after a run. hidden_input >= 0: its .grad at
  // the start was passed as that input. output: the new .grad (copied), or kKeep (left as
  // it was) or kClear (undefined).
  static constexpr size_t kKeep = size_t(-1), kClear = size_t(-2);
  struct InputGrad {
    int input;
    int hidden_input;
    size_t output;
  };
  std::vector<InputGrad> input_grads;
  // The .grad slot of a real tensor the function read or wrote: what it held when the
  // capture began (a run needs the same) and what a run leaves there: `end` (a real tensor
  // or none), or, for a gradient the step makes anew, graph output `output`.
  static constexpr size_t kNone = size_t(-3);
  struct GradSlot {
    std::weak_ptr<TensorImpl> owner;
    Tensor start, end;
    bool start_requires_grad = false, start_has_history = false;  // the start's autograd state
    int input = -1;         // the .grad at the start, passed as this input (it was defined)
    bool keep = false;      // the run leaves that same tensor there (its values written back)
    size_t output = kNone;
    Shape sizes, strides;  // the new gradient's layout over the output's memory
    int64_t offset = 0;
    // The step wrote the gradient (the one it kept, or the one it made) with gradient
    // tracking: eager mode leaves it with that history; a run gives it the step's
    // boundary history instead (graph/boundary_history.h).
    bool end_history = false;
  };
  std::vector<GradSlot> grad_slots;
  // What each Input node takes, in order: a group of the caller's inputs (InputPlan in
  // graph/step_inputs.h), or the .grad of a caller's input that requires grad, or of a
  // grad slot's owner, as it is when the step runs.
  struct InputNode {
    int group = -1;
    int grad_of_input = -1;
    size_t grad_slot = kNone;
  };
  std::vector<InputNode> input_nodes;
  // Every real storage the function named (read, wrote, or took the .grad or the autograd
  // identity of a tensor over it): a caller's input over one of them must be passed as
  // itself (a bound group), so a step captured without binding it cannot run such a call.
  std::vector<std::weak_ptr<Storage>> states;
  bool names_state(const Storage* s) const {
    for (const auto& w : states)
      if (auto st = w.lock(); st && st.get() == s) return true;
    return false;
  }
  // A real tensor the function touched, and its layout and autograd state then (whether
  // it requires grad, and has a history, decides what autograd records and refuses).
  struct Layout {
    std::weak_ptr<TensorImpl> impl;
    std::weak_ptr<Storage> storage;
    const Storage* storage_ptr;
    int64_t offset;
    Shape sizes, strides;
    DType dtype;
    bool requires_grad, has_history;
  };
  std::vector<Layout> layouts;
  // A real tensor whose values the function read on the host, and its version then.
  struct HostRead {
    std::weak_ptr<Storage> storage;
    uint64_t version;
  };
  std::vector<HostRead> host_reads;
  std::vector<std::pair<std::string, std::function<bool()>>> guards;
  std::vector<std::function<void()>> replays;
  // Tensors outside the step that it gave an autograd history: they keep a StepHistory
  // (Note [History of tensors outside the step] in capture_contract.cpp).
  std::vector<std::shared_ptr<TensorImpl>> rebased;
  std::vector<int> rebased_inputs;  // caller inputs the same (they keep a StepHistory after each run)

  // What no longer holds ("" when the step may run): checked before every run.
  std::string broken_assumption() const;
};

class CaptureSession final : public CaptureHooks {
 public:
  CaptureSession();
  ~CaptureSession() override;
  CaptureSession(const CaptureSession&) = delete;
  CaptureSession& operator=(const CaptureSession&) = delete;

  static CaptureSession* current();

  // A placeholder for the next input of the step; a leaf that requires grad when asked.
  Tensor add_input(const TensorMeta& meta, bool requires_grad = false);
  // The Input node of a group of the caller's inputs (graph/step_inputs.h), over `span`.
  Tensor add_group_input(int group, const TensorMeta& span);
  // Caller input `i` is `placeholder` inside (a view of its group's, or, for a bound group,
  // the caller's tensor itself). It is made to look as `caller` does to the code: whether
  // it is a view, whether it requires grad and is a leaf.
  void set_user_input(int i, Tensor placeholder, const Tensor& caller);
  // After set_user_input for every input: a caller's input that is a view taken with
  // gradient tracking keeps its link to its base (Note [Stale views] in
  // autograd/autograd_layer.cpp), to the base's placeholder when the base is an input too.
  void link_input_views(const std::vector<Tensor>& callers, const std::vector<Tensor>& placeholders);
  // Caller input `input` (which requires grad) arrives with a .grad: it is passed as the
  // next input, and the placeholder's .grad starts as its placeholder.
  void add_input_grad(int input, const Tensor& grad);
  // The storage of a group of the caller's inputs: if the function reads it directly as
  // state, the capture stops with BindInputs (compile() binds the group and captures again).
  void watch_input_storage(const Storage* s, int group) { watched_.emplace(s, group); }
  // Records an op (out == nullptr) or an in-place write into *out; what the Capture layer calls.
  Tensor record(OpKind op, std::span<const Tensor> inputs, const Attrs& attrs, const TensorMeta& meta,
                const Tensor* out);
  // Stops recording; returns the graph with the contents of `outputs` and the hidden
  // outputs of the contract (written inputs, new gradients), and the write-backs of
  // changed state (Note [Grad slots under capture] for .grad).
  Graph finish(const std::vector<Tensor>& outputs);
  // After finish(), once the caller has let go of the function's outputs and inputs:
  // refuses a tensor made while capturing that something still holds (a closure, a module,
  // an optimizer), since a replay could not update it.
  void check_nothing_escaped() const;
  // Keeps the host-side changes of the capture (else the destructor undoes them).
  void commit() { committed_ = true; }
  StepContract take_contract() { return std::move(contract_); }

  // The value a tensor stands for in the graph (registering a real tensor as state).
  ValueId value_of(const Tensor& t);
  bool is_symbolic(const Tensor& t) const;

  // CaptureHooks
  void on_abort(std::function<void()> undo) override { undo_.push_back(std::move(undo)); }
  void on_replay(std::function<void()> redo) override { contract_.replays.push_back(std::move(redo)); }
  void guard(std::string what, std::function<bool()> holds) override {
    contract_.guards.emplace_back(std::move(what), std::move(holds));
  }
  [[noreturn]] void needs_eager_call(const std::string& why) override;
  void on_host_read(const Tensor& t) override;
  void on_alias(const Tensor& t, const Tensor& alias) override {
    if (!recording_ || t.is_symbolic() || !t.storage()) return;
    note_layout(t);
    views_made_.push_back(alias.impl_ptr());
  }
  [[noreturn]] void refuse(const std::string& why) override;
  void on_identity_use(const Tensor& t) override {
    if (!recording_ || t.is_symbolic() || !t.storage()) return;
    note_layout(t);
    alias_of(t);
  }

  // autograd's observer (Note [Grad slots under capture] in capture_contract.cpp).
  void on_grad_slot(const Tensor& owner);
  void on_rebase(const Tensor& t);
  // Backward is about to run autograd node number `sequence_nr` (named `name`); leaf
  // accumulators are not reported.
  void on_backward_node(uint64_t sequence_nr, const std::string& name);
  // A real storage made while the function runs (not under CaptureSuspendGuard): a
  // constant of the step, made anew by every eager call (Note [Constants made inside]).
  void on_new_storage(const Storage* s) override { born_.insert(s); }
  void on_storage_freed(const Storage* s) override { born_.erase(s); }

 private:
  // Everything known about one storage (Note [Functionalization]).
  struct Alias;
  using ViewKey = std::tuple<int64_t, Shape, Shape>;  // offset, sizes, strides

  Alias* find_alias(const Storage* s);
  Alias& alias_of(const Tensor& t);
  Alias& register_state(const Tensor& t);
  ValueId read(Alias& a, const Tensor& t);
  void write(Alias& a, const Tensor& t, ValueId v);
  Tensor new_value(ValueId v, const TensorMeta& meta);
  ValueId add_op(OpKind op, std::vector<ValueId> inputs, Attrs attrs, TensorMeta meta);
  void note_layout(const Tensor& t);
  void stop_recording();
  void abort();

  Graph g_;
  int inputs_ = 0;
  std::unordered_map<const Storage*, std::unique_ptr<Alias>> aliases_;
  std::vector<const Storage*> state_order_;
  // A placeholder over the memory `t` spans, laid out as `t` is (a .grad passed as input).
  Tensor add_input_like(const Tensor& t);
  void link_output_view(StepContract::Output& o, const Tensor& t, const std::vector<Tensor>& outputs);
  void dress_like(const Tensor& placeholder, const Tensor& t);

  std::vector<Tensor> placeholders_;       // per Input node: the placeholder of its whole memory
  std::map<int, Tensor> user_placeholders_;  // per caller input
  std::map<int, int> grad_input_of_;       // caller input -> the Input node of its starting .grad
  std::map<const Storage*, int> watched_;  // caller inputs' storages -> their group
  std::unordered_map<const TensorImpl*, size_t> grad_slot_index_;
  std::unordered_set<const TensorImpl*> noted_;  // real tensors whose layout the contract holds
  std::vector<std::weak_ptr<Storage>> made_;  // symbolic storages made while recording
  std::unordered_set<const Storage*> born_;    // real storages made while recording
  std::vector<std::weak_ptr<Storage>> constants_;  // of those, the ones the graph reads
  StepContract contract_;
  std::vector<std::function<void()>> undo_;
  // Real tensors the function rebased: the tensor, its autograd meta (null if none), and a
  // copy of that meta as it was, which abort() puts back into the same object (views keep
  // pointing at it: Note [Stale views]).
  struct Rebased {
    std::shared_ptr<TensorImpl> impl;
    std::shared_ptr<AutogradMeta> meta;
    std::shared_ptr<AutogradMeta> before;  // the copy
  };
  std::vector<Rebased> rebased_;
  // Tensors over real storage that the function made (views, detach()): eager mode makes
  // them anew each call (Note [Views among outputs]).
  std::vector<std::weak_ptr<TensorImpl>> views_made_;
  uint64_t generator_seed_ = 0, generator_offset_ = 0;
  uint64_t first_node_ = 0;  // autograd nodes numbered below were made before the capture
  bool prev_capturing_ = false;
  bool recording_ = true;
  bool committed_ = false;
};

// Gives `t` the history a compiled step leaves on a tensor outside it that it wrote with
// gradient tracking: it requires grad, and a later backward that reaches it stops with an
// error (Note [History of tensors outside the step] in capture_contract.cpp).
void give_step_history(const Tensor& t);

// Thrown when the function reads a caller input's storage directly as state (a parameter
// passed as an input): compile() captures again with that group bound.
class BindInputs : public Error {
 public:
  explicit BindInputs(int group) : Error("bind input group"), group(group) {}
  int group;
};

// Thrown by CaptureHooks::needs_eager_call: compile() abandons the capture and runs the
// call eagerly instead.
class NeedsEagerCall : public Error {
 public:
  explicit NeedsEagerCall(const std::string& why) : Error(why) {}
};

}  // namespace duet::graph
