// Executable: a lowered graph turned into a flat list of kernel calls over one arena.
// It runs on the device its values live on: on CUDA the arena is one device allocation,
// each step calls the op's registered CUDA kernel, and fused elementwise groups run
// kernels generated as CUDA C and compiled with NVRTC (graph/cuda_codegen.h).
// Building it plans memory and makes every tensor the run will touch (views into the
// arena, the state tensors, owned input buffers); running it copies the inputs in, calls
// each step's kernel directly (no dispatch; the only allocations are the returned
// outputs' own memory), and writes changed state back.
//
//   Executable exe(std::move(graph), PlanStrategy::GreedyBySize);
//   std::vector<Tensor> outs = exe.run(inputs);   // fresh outputs (or views of states and inputs)
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "graph/ir.h"
#include "graph/memory_planner.h"

namespace duet::graph {

// How a fused group runs (set by the fuser; see graph/fusion.h).
using FusedKernel = std::function<void(std::span<const Tensor> inputs, const Tensor& out)>;
FusedKernel fused_kernel_for(const Node& node);

class Executable {
 public:
  // `arena` may be a buffer to reuse (another signature's arena of the same compiled
  // function: only one runs at a time); a bigger one is allocated when it is too small.
  Executable(Graph graph, PlanStrategy strategy, std::shared_ptr<Storage> arena = nullptr);
  const std::shared_ptr<Storage>& arena() const { return arena_; }
  Device device() const { return device_; }
  // State write-backs computed straight into the state's memory (no copy, no arena space).
  size_t direct_writebacks() const { return direct_writebacks_; }
  // State updates a fused group stores as it runs (Note [Side stores] in fusion.cpp).
  size_t side_stores() const { return side_store_states_.size(); }
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);
  // How the step uses a storage as state: 0 not at all, 1 reads it, 2 writes it.
  int state_use(const Storage* s) const;

  // Per-kernel timing of runs (off by default; on with DUET_PROFILE_GRAPH=1 through
  // compile()). profile_table(): the steps by total time, with their nodes.
  void set_profiling(bool on) { profiling_ = on; }
  std::string profile_table() const;

  const Graph& graph() const { return graph_; }
  const MemoryPlan& plan() const { return plan_; }
  size_t kernel_steps() const { return steps_.size(); }

 private:
  struct Step {
    ValueId value;
    KernelFn kernel = nullptr;  // a registry kernel, or
    FusedKernel fused;          // a fused group
    std::vector<Tensor> inputs;
    Tensor out;
    Attrs attrs;
    bool random = false;        // a random op: seed and offset set each run
    int64_t random_offset = 0;  // its draw's position from the run's start
  };

  Graph graph_;
  Device device_;              // where every value lives; its registered kernels run
  KernelFn copy_kernel_ = nullptr;  // the device's copy kernel (inputs in, write-backs)
  MemoryPlan plan_;
  std::shared_ptr<Storage> arena_;
  std::vector<Tensor> values_;
  std::vector<Tensor> input_buffers_;
  // Note [Inputs read in place]: every tensor over an input's memory (the input and its
  // views) with its offset from the input's start. A contiguous input of the compiled
  // layout is read where it lies (these tensors are re-pointed at it); any other is
  // copied into the owned buffer.
  struct InputAlias {
    TensorImpl* impl;
    int64_t offset;
  };
  std::vector<std::vector<InputAlias>> input_aliases_;
  std::vector<std::shared_ptr<Storage>> input_storage_;  // owned buffers, made on first need
  // Note [Outputs of their own]: an output computed in the arena gets fresh memory each
  // run (its root buffer and every tensor over it are re-pointed before the steps run), so
  // outputs a caller keeps are not overwritten by the next call, as in eager mode.
  struct OutputRoot {
    size_t bytes;
    std::vector<InputAlias> tensors;  // every tensor over the root's buffer, offsets from its start
  };
  std::vector<OutputRoot> output_roots_;
  std::vector<std::pair<const Storage*, int>> state_use_;  // (storage, 1 read / 2 written)
  std::vector<Step> steps_;
  std::vector<std::pair<Tensor, Tensor>> writebacks_;  // (value, state)
  std::vector<Tensor> outputs_;
  uint64_t random_counters_ = 0;  // Note [Random draws in a graph] in ir.h
  size_t direct_writebacks_ = 0;
  std::vector<Tensor> side_store_states_;
  bool profiling_ = false;
  int64_t profiled_runs_ = 0;
  std::vector<double> step_seconds_;  // per step, summed over profiled runs
};

}  // namespace duet::graph
