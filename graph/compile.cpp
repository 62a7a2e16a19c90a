// graph::compile: signature cache, warm-up, capture, the compile pipeline, replay with
// the step's contract checked before and carried out after each run.
#include "graph/compile.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>

#include "autograd/autograd_meta.h"
#include "autograd/grad_mode.h"
#include "graph/boundary_history.h"
#include "graph/capture.h"
#include "graph/executable.h"
#include "graph/fusion.h"
#include "graph/lowering.h"
#include "graph/passes/pass.h"
#include "graph/passes/pipeline.h"
#include "graph/remat.h"
#include "graph/schedule.h"
#include "graph/step_inputs.h"
#include "graph/step_memory.h"
#include "graph/unsupported.h"

namespace duet::graph {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

std::string mb(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f MB", double(bytes) / 1e6);
  return buf;
}

}  // namespace

std::string CompileReport::str() const {
  std::ostringstream os;
  os << "duet graph compile report\n";
  os << "  captured nodes      " << captured_nodes << "\n";
  for (const PassStats& p : passes)
    os << "  pass " << p.name << std::string(p.name.size() < 15 ? 15 - p.name.size() : 1, ' ') << p.nodes_before
       << " -> " << p.nodes_after << " nodes (" << p.ms << " ms)\n";
  os << "  after passes        " << nodes_after_passes << " nodes\n";
  os << "  fusion              " << elementwise_groups << " elementwise groups (" << fused_nodes << " nodes), "
     << matmul_epilogues << " matmul epilogues, " << reduction_prologues << " reduction prologues, "
     << conv_epilogues << " conv epilogues, " << batch_norm_relus << " batch norm + relu\n";
  os << "  kernels per run     " << kernels << "\n";
  os << "  schedule            " << (rescheduled ? "memory-aware" : "capture order") << " (capture order's arena "
     << mb(capture_order_arena_bytes) << ")\n";
  os << "  rematerialized      " << rematerialized << " values (" << mb(rematerialized_bytes)
     << " no longer held for the backward pass), " << rematerialized_convolutions << " of them convolutions\n";
  os << "  memory              arena " << mb(arena_bytes) << ", naive " << mb(naive_bytes) << ", lower bound "
     << mb(lower_bound_bytes);
  if (lower_bound_bytes > 0) os << " (arena/lower bound " << double(arena_bytes) / double(lower_bound_bytes) << "x)";
  os << ", " << inplace_reuses << " in-place reuses\n";
  os << "  state updates       " << writebacks << " (" << direct_writebacks << " computed in place, " << side_stores
     << " of them stored by a fused group; the rest copied back)\n";
  os << "  time                capture " << capture_ms << " ms, compile " << compile_ms << " ms\n";
  return os.str();
}

CompiledFunction::CompiledFunction(StepFunction fn, CompileOptions options)
    : fn_(std::move(fn)), options_(std::move(options)) {
  if (options_.dump_dir.empty())
    if (const char* d = std::getenv("DUET_DUMP_GRAPH")) options_.dump_dir = d;
  if (const char* r = std::getenv("DUET_COMPILE_REPORT")) options_.print_report = options_.print_report || r[0] == '1';
  if (const char* r = std::getenv("DUET_PROFILE_GRAPH")) options_.profile = options_.profile || r[0] == '1';
}
CompiledFunction::~CompiledFunction() {
  if (!options_.profile) return;
  for (const auto& [sig, e] : cache_)
    for (const Variant& v : e.variants)
      std::fprintf(stderr, "signature %s\n%s", sig.c_str(), v.exe->profile_table().c_str());
}
CompiledFunction::CompiledFunction(CompiledFunction&&) noexcept = default;
CompiledFunction& CompiledFunction::operator=(CompiledFunction&&) noexcept = default;

CompiledFunction::Variant* CompiledFunction::capture(Entry& e, const std::vector<Tensor>& inputs) {
  // A parameter passed as an input binds its group (Note [Inputs share what they share]):
  // the capture restarts with that group bound, at most once per group.
  std::set<const Storage*> bound;
  for (;;) {
    try {
      return capture_with(e, inputs, InputPlan::of(inputs, bound));
    } catch (const BindInputs& b) {
      InputPlan plan = InputPlan::of(inputs, bound);
      bound.insert(inputs[size_t(plan.groups[size_t(b.group)].members[0])].storage().get());
    }
  }
}

CompiledFunction::Variant* CompiledFunction::capture_with(Entry& e, const std::vector<Tensor>& inputs,
                                                          InputPlan plan) {
  CompileReport rep;
  auto t0 = Clock::now();
  Variant v;
  Graph g;
  CaptureSession session;
  {
    std::vector<Tensor> placeholders(inputs.size());
    for (size_t gi = 0; gi < plan.groups.size(); ++gi) {
      const InputPlan::Group& grp = plan.groups[gi];
      Tensor base;
      if (!grp.bound) {
        Tensor span = plan.span_of(inputs, gi);
        base = session.add_group_input(int(gi), {span.sizes(), span.dtype(), span.device()});
        session.watch_input_storage(span.storage().get(), int(gi));
      }
      for (int m : grp.members) {
        const size_t i = size_t(m);
        // The same tensor passed twice is one tensor inside too.
        if (plan.same_as[i] >= 0) placeholders[i] = placeholders[size_t(plan.same_as[i])];
        else placeholders[i] = grp.bound ? inputs[i] : plan.member_of(base, inputs, i);
        session.set_user_input(int(i), placeholders[i], inputs[i]);
      }
    }
    session.link_input_views(inputs, placeholders);
    for (size_t i = 0; i < inputs.size(); ++i)
      if (inputs[i].requires_grad() && inputs[i].is_leaf() && plan.same_as[i] < 0 &&
          !plan.groups[size_t(plan.group_of[i])].bound && autograd_meta(inputs[i])->grad.defined())
        session.add_input_grad(int(i), autograd_meta(inputs[i])->grad);
    try {
      std::vector<Tensor> outs = fn_(placeholders);
      g = session.finish(outs);
    } catch (const NeedsEagerCall&) {
      return nullptr;  // the session undoes what capturing changed
    }
  }
  for (const InputPlan::Group& grp : plan.groups)
    if (grp.bound)
      for (int m : grp.members) v.bound.push_back({m, inputs[size_t(m)].storage().get()});
  v.plan = std::move(plan);
  session.check_nothing_escaped();
  rep.captured_nodes = g.size();
  rep.capture_ms = ms_since(t0);
  auto t1 = Clock::now();
  PipelineOptions popts;
  popts.dump_dir = options_.dump_dir;
  if (options_.optimize) rep.passes = run_passes(g, popts);
  rep.nodes_after_passes = g.size();
  // Lower first, so fusion sees the explicit casts and can absorb them.
  lower_for_cpu(g);
  // Lowering adds a cast per use of a value that needs one; merge the copies.
  common_subexpression_elimination(g);
  dead_code_elimination(g);
  copy_escaping_aliases(g);
  if (options_.fuse) {
    // A CUDA graph keeps only the fusions CUDA runs (elementwise groups, side stores).
    FusionStats fs = fuse(g, fuse_options_for(g.device(), options_.side_stores));
    rep.elementwise_groups = fs.elementwise_groups;
    rep.fused_nodes = fs.fused_elementwise_nodes;
    rep.matmul_epilogues = fs.matmul_epilogues;
    rep.reduction_prologues = fs.reduction_prologues;
    rep.conv_epilogues = fs.conv_epilogues;
    rep.batch_norm_relus = fs.batch_norm_relus;
  }
  // The schedule is chosen before rematerialisation, which may do more in the captured
  // order (a transformer block's weight gradient read before the GELU's backward keeps the
  // GELU's input live at the copy); when the scheduler reordered, both orders are
  // rematerialised and the smaller arena wins (Note [Rematerialisation] in remat.h).
  Graph captured_order;
  if (options_.schedule) {
    if (options_.rematerialize) captured_order = g;
    ScheduleStats ss = schedule_for_memory(g, options_.strategy);
    rep.capture_order_arena_bytes = ss.arena_before;
    rep.rescheduled = ss.reordered;
  }
  if (options_.rematerialize) {
    auto remat = [&](Graph& graph) {
      return rematerialize(graph, options_.remat_min_gap, options_.recompute_convolutions,
                           options_.recompute_activations, options_.strategy);
    };
    RematStats rs = remat(g);
    if (rep.rescheduled) {
      const RematStats in_captured_order = remat(captured_order);
      if (in_captured_order.values > 0 && plan_step_memory(captured_order, options_.strategy).plan.arena_bytes <
                                              plan_step_memory(g, options_.strategy).plan.arena_bytes) {
        g = std::move(captured_order);
        rs = in_captured_order;
        rep.rescheduled = false;
      }
    }
    rep.rematerialized = rs.values;
    rep.rematerialized_bytes = rs.bytes;
    rep.rematerialized_convolutions = rs.convolutions;
  }
#ifndef NDEBUG
  g.verify();
#endif
  if (!options_.dump_dir.empty()) {
    std::FILE* f = std::fopen((options_.dump_dir + "/99-lowered.txt").c_str(), "w");
    if (f) {
      std::fputs(g.str().c_str(), f);
      std::fclose(f);
    }
  }
  rep.writebacks = g.writebacks.size();  // plus the side stores, below
  v.exe = std::make_unique<Executable>(std::move(g), options_.strategy, shared_arena_);
  v.exe->set_profiling(options_.profile);
  v.contract = session.take_contract();
  session.commit();
  if (!shared_arena_ || v.exe->arena()->nbytes() > shared_arena_->nbytes()) shared_arena_ = v.exe->arena();
  rep.compile_ms = ms_since(t1);
  const MemoryPlan& memory = v.exe->plan();
  rep.kernels = v.exe->kernel_steps();
  rep.arena_bytes = memory.arena_bytes;
  if (!options_.schedule) rep.capture_order_arena_bytes = memory.arena_bytes;
  rep.naive_bytes = memory.naive_bytes;
  rep.lower_bound_bytes = memory.lower_bound_bytes;
  rep.inplace_reuses = memory.inplace_reuses;
  rep.writebacks += v.exe->side_stores();
  rep.side_stores = v.exe->side_stores();
  rep.direct_writebacks = v.exe->direct_writebacks() + v.exe->side_stores();
  last_report_ = rep;
  ++captures_;
  if (options_.print_report) std::fputs(rep.str().c_str(), stderr);
  if (e.variants.size() >= kMaxVariants) e.variants.erase(e.variants.begin());
  e.variants.push_back(std::move(v));
  return &e.variants.back();
}

namespace {

// Refuses Input nodes whose memory the step would see differently from eager mode: two
// sharing a storage where the step writes one (a .grad passed in, and a caller's input
// that is that .grad), or one sharing a state's storage where the step writes either
// (the graph holds them as separate values). The caller's inputs that share memory are
// one group, and one that is state is bound (Note [Inputs share what they share]).
void check_input_aliasing(const std::vector<Tensor>& inputs, const StepContract& c, const Executable& exe) {
  auto written = [&](size_t i) {
    for (const StepContract::InputWrite& w : c.input_writes)
      if (size_t(w.input) == i) return true;
    return false;
  };
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Storage* s = inputs[i].storage().get();
    for (size_t j = 0; j < i; ++j)
      if (inputs[j].storage().get() == s && (written(i) || written(j)))
        DUET_REFUSE("an input and a .grad the compiled function reads share memory, and the function writes into "
                    "one of them; pass a clone()");
    if (int use = exe.state_use(s); use != 0 && (use > 1 || written(i)))
      DUET_REFUSE("an input or a .grad the compiled function reads shares memory with a tensor it reads directly "
                  "(a parameter, buffer or closure tensor), and the function writes into one of them; pass a "
                  "clone()");
  }
}

}  // namespace

bool CompiledFunction::Variant::accepts(const std::vector<Tensor>& inputs) const {
  std::vector<bool> is_bound(inputs.size(), false);
  for (const auto& [i, s] : bound) {
    if (inputs[size_t(i)].storage().get() != s) return false;
    is_bound[size_t(i)] = true;
  }
  for (size_t i = 0; i < inputs.size(); ++i)
    if (!is_bound[i] && contract.names_state(inputs[i].storage().get())) return false;
  return true;
}

namespace {

// Note [Views among outputs] in capture.h: the links eager mode's returned views have.
void link_output_views(const StepContract& c, const std::vector<Tensor>& inputs, std::vector<Tensor>& result) {
  using Link = StepContract::Output::Link;
  for (size_t i = 0; i < c.outputs.size(); ++i) {
    const StepContract::Output& o = c.outputs[i];
    if (o.link == Link::None || !o.requires_grad || o.same_as >= 0) continue;
    std::shared_ptr<AutogradMeta> base;
    if (o.link == Link::Stale) {
      base = std::make_shared<AutogradMeta>();  // a base whose history is no longer the view's
      base->grad_fn = output_history();
    } else if (o.link == Link::Real) {
      base = o.link_meta;
    } else {
      const Tensor& b = o.link == Link::Output ? result[size_t(o.link_index)] : inputs[size_t(o.link_index)];
      ensure_autograd_meta(b);
      base = b.unsafe_impl()->autograd_;
    }
    AutogradMeta& m = ensure_autograd_meta(result[i]);
    m.view_base = base;
    m.view_base_fn = o.link == Link::Stale ? nullptr : base->grad_fn;
  }
}

}  // namespace

std::vector<Tensor> CompiledFunction::run(Variant& v, const std::vector<Tensor>& inputs) {
  const StepContract& c = v.contract;
  // What each Input node takes: a group's span of the caller's memory, or a .grad.
  std::vector<Tensor> given, all;
  for (const StepContract::InputNode& n : c.input_nodes) {
    if (n.group >= 0) {
      given.push_back(inputs[size_t(v.plan.groups[size_t(n.group)].members[0])]);
      all.push_back(v.plan.span_of(inputs, size_t(n.group)));
      continue;
    }
    std::shared_ptr<TensorImpl> owner =
        n.grad_of_input >= 0 ? inputs[size_t(n.grad_of_input)].impl_ptr() : c.grad_slots[n.grad_slot].owner.lock();
    DUET_ASSERT(owner && owner->autograd_ && owner->autograd_->grad.defined(), "compiled step: a .grad input is gone");
    given.push_back(owner->autograd_->grad);
    all.push_back(input_window(owner->autograd_->grad));
  }
  check_input_aliasing(given, c, *v.exe);
  last_ = v.exe.get();
  std::vector<Tensor> outs = v.exe->run(all);
  {
    NoGradGuard no_grad;
    for (const StepContract::InputWrite& w : c.input_writes) all[size_t(w.input)].copy_(outs[w.output]);
  }
  for (const StepContract::InputGrad& g : c.input_grads) {
    if (g.output == StepContract::kClear) inputs[size_t(g.input)].set_grad({});
    else if (g.output != StepContract::kKeep) inputs[size_t(g.input)].set_grad(outs[g.output].clone());
  }
  for (const StepContract::GradSlot& s : c.grad_slots) {
    std::shared_ptr<TensorImpl> owner = s.owner.lock();
    if (owner && !s.keep) {
      Tensor end = s.end;
      if (s.output != StepContract::kNone) {
        const Tensor& base = outs[s.output];
        end = Tensor(std::make_shared<TensorImpl>(base.storage(), s.sizes, s.strides, base.storage_offset() + s.offset,
                                                  base.dtype(), base.device()));
      }
      if (end.defined() || owner->autograd_) ensure_autograd_meta(Tensor(owner)).grad = end;
    }
    if (owner && s.end_history) give_step_history(owner->autograd_->grad);
  }
  // Each run is a new in-place write with gradient tracking, as each eager call is: views
  // taken before it go stale (Note [Stale views] in autograd/autograd_layer.cpp).
  for (const auto& impl : c.rebased) give_step_history(Tensor(impl));
  for (int i : c.rebased_inputs) give_step_history(inputs[size_t(i)]);
  if (v.ran)
    for (const auto& redo : c.replays) redo();
  v.ran = true;
  // Note [Outputs as eager returns them] in capture.h.
  std::vector<Tensor> result;
  for (const StepContract::Output& o : c.outputs) {
    using Kind = StepContract::Output::Kind;
    if (o.same_as >= 0) {  // the function returned one tensor twice
      result.push_back(result[size_t(o.same_as)]);
      continue;
    }
    if (o.kind == Kind::State && !o.fresh) {
      result.push_back(o.tensor);
      continue;
    }
    if (o.kind == Kind::Input && o.caller_input >= 0) {
      result.push_back(inputs[size_t(o.caller_input)]);
      continue;
    }
    std::shared_ptr<TensorImpl> impl;
    if (o.kind == Kind::State) {  // a view the function took of a real tensor
      const Tensor& v = o.tensor;
      impl = std::make_shared<TensorImpl>(v.storage(), v.sizes(), v.strides(), v.storage_offset(), v.dtype(), v.device());
    } else {
      const Tensor& base = o.kind == Kind::Input ? all[size_t(o.input)] : outs[o.graph_output];
      impl = std::make_shared<TensorImpl>(base.storage(), o.sizes, o.strides, base.storage_offset() + o.offset,
                                          base.dtype(), base.device());
    }
    impl->is_view_ = o.is_view;
    Tensor t(std::move(impl));
    if (o.requires_grad) {
      AutogradMeta& m = ensure_autograd_meta(t);
      m.requires_grad = true;
      m.grad_fn = output_history();
    }
    result.push_back(std::move(t));
  }
  link_output_views(c, inputs, result);
  return result;
}

std::vector<Tensor> CompiledFunction::operator()(const std::vector<Tensor>& inputs) {
  if (AnomalyMode::is_enabled()) {
    ++eager_calls_;
    return fn_(inputs);
  }
  Entry& e = cache_[InputPlan::of(inputs).signature];
  // Warm-up creates the state the code makes lazily (optimizer moments, .grad buffers);
  // it persists, so later signatures are captured without another eager call.
  if (e.variants.empty() && warmups_ < options_.warmup_calls) {
    ++warmups_;
    ++eager_calls_;
    return fn_(inputs);
  }
  for (auto it = e.variants.rbegin(); it != e.variants.rend(); ++it)
    if (it->accepts(inputs) && it->contract.broken_assumption().empty()) return run(*it, inputs);
  Variant* v = capture(e, inputs);
  if (v == nullptr) {
    ++eager_calls_;
    return fn_(inputs);
  }
  return run(*v, inputs);
}

CompiledFunction compile(StepFunction fn, CompileOptions options) { return CompiledFunction(std::move(fn), std::move(options)); }

}  // namespace duet::graph
