// Building and running an Executable (see executable.h).
#include "graph/executable.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>

#include "core/dispatch.h"
#include "core/generator.h"
#include "graph/cuda_codegen.h"
#include "graph/lifetimes.h"
#include "graph/fusion.h"
#include "graph/lowering.h"
#include "graph/step_memory.h"
#include "kernels/cuda/cuda_api.h"

namespace duet::graph {
namespace {

// The registered kernel of `op` for the graph's device (what eager dispatch would call).
KernelFn device_kernel(OpKind op, Device d, ValueId v) {
  KernelFn fn = op_def(op).kernels[int(d.type)];
  DUET_CHECK(fn != nullptr, "graph: ", op_name(op), v == kNoValue ? "" : " (%" + std::to_string(v) + ")",
             " has no kernel for ", d, " in this build of duet, so the step cannot be compiled for it");
  return fn;
}

}  // namespace

Executable::Executable(Graph graph, PlanStrategy strategy, std::shared_ptr<Storage> arena) : graph_(std::move(graph)) {
  const Graph& g = graph_;
  device_ = g.device();
  // Registers the device's kernels (and checks it is usable) before they are looked up.
  if (!device_.is_cpu()) cuda::ensure_initialized(device_, "compiled step");
  copy_kernel_ = device_kernel(OpKind::copy, device_, kNoValue);
  StepMemory memory = plan_step_memory(g, strategy);
  const std::vector<ValueId>& lives_in = memory.lives_in;
  plan_ = std::move(memory.plan);
#ifndef NDEBUG
  check_plan(memory.requests, plan_);
#endif
  // One allocation on the graph's device holds every intermediate value.
  const bool reuse = arena && arena->device() == device_ && arena->nbytes() >= size_t(plan_.arena_bytes);
  arena_ = reuse ? std::move(arena) : std::make_shared<Storage>(size_t(plan_.arena_bytes), device_);
  values_.resize(g.size());
  // State first: a write-back target can be defined after the value computed into it.
  for (size_t v = 0; v < g.size(); ++v)
    if (g.nodes[v].kind == NodeKind::State) values_[v] = Tensor(g.nodes[v].state);
  for (size_t v = 0; v < g.size(); ++v) {
    const Node& n = g.nodes[v];
    switch (n.kind) {
      case NodeKind::Input: {
        // No memory of its own: each run points it at the caller's tensor, or at an owned
        // buffer made on first need (Note [Inputs read in place]).
        Tensor buf(std::make_shared<TensorImpl>(nullptr, n.meta.shape, contiguous_strides(n.meta.shape), 0,
                                                n.meta.dtype, n.meta.device));
        if (int(input_buffers_.size()) <= n.input_index) input_buffers_.resize(size_t(n.input_index) + 1);
        input_buffers_[size_t(n.input_index)] = buf;
        values_[v] = buf;
        break;
      }
      case NodeKind::State:
        break;
      case NodeKind::Op:
        if (const ViewFn view = op_def(n.op).view) {
          std::vector<Tensor> ins;
          for (ValueId in : n.inputs) ins.push_back(values_[size_t(in)]);
          values_[v] = view(ins, n.attrs, n.meta);
          DUET_ASSERT(values_[v].storage() == ins[0].storage(), "graph: view %", v, " needed a copy; lowering missed it");
          break;
        }
        [[fallthrough]];
      case NodeKind::Fused: {
        if (lives_in[v] != kNoValue) {
          values_[v] = values_[size_t(lives_in[v])];  // computed straight into the state
        } else {
          int64_t offset_bytes = plan_.offsets[v];
          size_t elem = dtype_size(n.meta.dtype);
          DUET_ASSERT(offset_bytes >= 0 && offset_bytes % int64_t(elem) == 0, "graph: bad arena offset for %", v);
          values_[v] = Tensor(std::make_shared<TensorImpl>(arena_, n.meta.shape, contiguous_strides(n.meta.shape),
                                                           offset_bytes / int64_t(elem), n.meta.dtype, n.meta.device));
        }
        Step s;
        s.value = ValueId(v);
        for (ValueId in : n.inputs) {
          DUET_ASSERT(values_[size_t(in)].defined(), "graph: %", v, " reads %", in, ", which has no tensor");
          s.inputs.push_back(values_[size_t(in)]);
        }
        s.out = values_[v];
        if (n.kind == NodeKind::Fused) {
          s.fused = device_.is_cpu() ? fused_kernel_for(n) : cuda_fused_kernel_for(n, s.inputs, s.out);
          for (const FusedProgram::SideStore& st : n.fused->side_stores)
            side_store_states_.push_back(s.inputs[size_t(st.operand)]);
        } else {
          s.kernel = device_kernel(n.op, device_, ValueId(v));
          s.attrs = n.attrs;
          if (op_def(n.op).has(kRandom)) s.random = true, s.random_offset = n.attrs.get<int64_t>("offset");
        }
        steps_.push_back(std::move(s));
        break;
      }
    }
  }
  for (const WriteBack& w : g.writebacks) {
    if (lives_in[size_t(w.value)] == w.state) {
      ++direct_writebacks_;
      continue;
    }
    writebacks_.emplace_back(values_[size_t(w.value)], values_[size_t(w.state)]);
  }
  // Tensors over each input's memory, to re-point at the caller's tensor (Note [Inputs read in place]).
  std::vector<ValueId> root = value_buffers(g);
  input_aliases_.resize(input_buffers_.size());
  for (size_t v = 0; v < g.size(); ++v) {
    const Node& r = g.nodes[size_t(root[v])];
    if (r.kind != NodeKind::Input) continue;
    const Tensor& t = values_[v];
    input_aliases_[size_t(r.input_index)].push_back({t.unsafe_impl(), t.storage_offset()});
  }
  input_storage_.resize(input_buffers_.size());
  // Outputs computed in the arena get memory of their own each run (Note [Outputs of their own]).
  std::vector<ValueId> output_roots;
  for (ValueId o : g.outputs) {
    ValueId r = root[size_t(o)];
    const Node& rn = g.nodes[size_t(r)];
    if ((rn.kind == NodeKind::Op || rn.kind == NodeKind::Fused) && lives_in[size_t(r)] == kNoValue &&
        std::find(output_roots.begin(), output_roots.end(), r) == output_roots.end())
      output_roots.push_back(r);
  }
  for (ValueId r : output_roots) {
    const Tensor& rt = values_[size_t(r)];
    OutputRoot o{size_t(rt.numel()) * rt.element_size(), {}};
    for (size_t v = 0; v < g.size(); ++v)
      if (root[v] == r) o.tensors.push_back({values_[v].unsafe_impl(), values_[v].storage_offset() - rt.storage_offset()});
    output_roots_.push_back(std::move(o));
  }
  for (ValueId o : g.outputs) outputs_.push_back(values_[size_t(o)]);
  random_counters_ = g.random_counters;
  for (size_t v = 0; v < g.size(); ++v)
    if (g.nodes[v].kind == NodeKind::State) state_use_.emplace_back(g.nodes[v].state->storage_.get(), 1);
  for (const WriteBack& w : g.writebacks)
    for (auto& [storage, use] : state_use_)
      if (storage == g.node(w.state).state->storage_.get()) use = 2;
  for (const Tensor& t : side_store_states_)
    for (auto& [storage, use] : state_use_)
      if (storage == t.storage().get()) use = 2;
}

int Executable::state_use(const Storage* s) const {
  for (const auto& [storage, use] : state_use_)
    if (storage == s) return use;
  return 0;
}

std::vector<Tensor> Executable::run(const std::vector<Tensor>& inputs) {
  DUET_CHECK(inputs.size() == input_buffers_.size(), "compiled step: expected ", input_buffers_.size(),
             " inputs, got ", inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& dst = input_buffers_[i];
    if (!dst.defined()) continue;  // an input the graph never reads
    const Tensor& src = inputs[i];
    DUET_CHECK(src.sizes() == dst.sizes() && src.dtype() == dst.dtype() && src.device() == dst.device(),
               "compiled step: input ", i, " is ", dtype_name(src.dtype()), shape_str(src.sizes()), " on ",
               src.device(), ", but the step was compiled for ", dtype_name(dst.dtype()), shape_str(dst.sizes()),
               " on ", dst.device());
    // An input in this step's own arena (an output of an earlier call fed back) is copied
    // first: the step overwrites the arena as it runs.
    bool in_place = src.is_contiguous() && src.storage() != nullptr && src.storage() != arena_;
    if (!in_place && !input_storage_[i])
      input_storage_[i] = std::make_shared<Storage>(size_t(dst.numel()) * dst.element_size(), dst.device());
    const std::shared_ptr<Storage>& storage = in_place ? src.storage() : input_storage_[i];
    int64_t base = in_place ? src.storage_offset() : 0;
    for (const InputAlias& a : input_aliases_[i]) {
      a.impl->storage_ = storage;
      a.impl->offset_ = base + a.offset;
    }
    if (!in_place && dst.numel() > 0) copy_kernel_(std::span<const Tensor>(&src, 1), dst, {});
  }
  for (const OutputRoot& o : output_roots_) {
    auto fresh = std::make_shared<Storage>(o.bytes, device_);
    for (const InputAlias& a : o.tensors) {
      a.impl->storage_ = fresh;
      a.impl->offset_ = a.offset;
    }
  }
  if (profiling_) step_seconds_.resize(steps_.size(), 0.0), ++profiled_runs_;
  // Device kernels run asynchronously: a profiled run waits for each step (and for the
  // input copies queued above, which are not the first step's time).
  const bool wait_for_device = profiling_ && !device_.is_cpu();
  if (wait_for_device) cuda::synchronize(device_);
  for (size_t i = 0; i < steps_.size(); ++i) {
    Step& s = steps_[i];
    const auto t0 = profiling_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    if (s.random) {  // the generator's seed and position now, as an eager draw would read them
      const Generator& gen = default_generator();
      s.attrs.set("seed", int64_t(gen.seed()));
      s.attrs.set("offset", int64_t(gen.offset()) + s.random_offset);
    }
    if (s.fused) s.fused(s.inputs, s.out);
    else if (s.out.numel() > 0) s.kernel(s.inputs, s.out, s.attrs);
    if (wait_for_device) cuda::synchronize(device_);
    if (profiling_) step_seconds_[i] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  for (auto& [value, state] : writebacks_)
    if (state.numel() > 0) copy_kernel_(std::span<const Tensor>(&value, 1), state, {});
  default_generator().advance(random_counters_);
  count_kernel_launches(int64_t(steps_.size() + writebacks_.size()));
  for (const WriteBack& w : graph_.writebacks) values_[size_t(w.state)].storage()->bump_version();
  for (const Tensor& state : side_store_states_) state.storage()->bump_version();
  // The caller's tensors: new handles (later runs re-point this step's own), which keep the
  // memory they show alive. Then let go of the caller's inputs.
  std::vector<Tensor> outs;
  outs.reserve(outputs_.size());
  for (const Tensor& o : outputs_) outs.emplace_back(std::make_shared<TensorImpl>(*o.unsafe_impl()));
  for (const auto& aliases : input_aliases_)
    for (const InputAlias& a : aliases) a.impl->storage_ = nullptr;
  return outs;
}

std::string Executable::profile_table() const {
  std::ostringstream os;
  if (profiled_runs_ == 0) return "no profiled runs\n";
  std::vector<size_t> order(step_seconds_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return step_seconds_[a] > step_seconds_[b]; });
  double total = 0;
  for (double t : step_seconds_) total += t;
  os << "graph profile: " << profiled_runs_ << " runs, " << steps_.size() << " kernels, "
     << total / double(profiled_runs_) * 1e3 << " ms per run in kernels\n";
  for (size_t i : order) {
    const Node& n = graph_.node(steps_[i].value);
    std::string what = n.kind == NodeKind::Fused ? "fused[" + n.name + "]" : std::string(op_name(n.op));
    char line[64];
    std::snprintf(line, sizeof line, "  %8.4f ms %5.1f%%  %%%d ", step_seconds_[i] / double(profiled_runs_) * 1e3,
                  100.0 * step_seconds_[i] / total, int(steps_[i].value));
    os << line << what << " -> " << dtype_name(n.meta.dtype) << shape_str(n.meta.shape) << "\n";
  }
  return os.str();
}

}  // namespace duet::graph
