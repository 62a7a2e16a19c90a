// graph::compile: the same model code, compiled TensorFlow/XLA-style into a static graph.
//
//   auto step = duet::graph::compile([&](const std::vector<Tensor>& in) {
//     Tensor loss = nn::functional::cross_entropy(model->forward(in[0]), in[1]);
//     loss.backward();
//     opt.step();
//     opt.zero_grad();
//     return std::vector<Tensor>{loss};
//   });
//   for (auto& b : loader) Tensor loss = step({b.data, b.target})[0];
//
// The first call(s) run eagerly, so state the code creates lazily (optimizer moments,
// .grad buffers) exists; the next call with a new input signature (shapes, dtypes,
// devices, which inputs require grad) captures the function once under a CaptureSession,
// optimises (DCE, CSE, constant folding, simplification), fuses, lowers and plans memory,
// and every later call replays the compiled step from one preallocated arena: nothing is
// allocated per step. Outputs alias the arena and are valid until the next call (clone()
// to keep them); they carry no autograd history (a backward that reaches one is an error:
// gradients flow inside the compiled step, not out of it).
//
// Note [Graph mode is eager mode]: a compiled call computes what the eager call would —
// outputs, gradients, and every tensor it changes (inputs, closure tensors, parameters,
// buffers, optimizer state), bit for bit — or refuses with graph::Unsupported before
// changing anything. What the capture assumed (Note [Capture specialises]) is checked
// before every run and a broken assumption captures again (up to kMaxVariants per
// signature); state created on first use, and a capture that asks for it, run the call
// eagerly instead; with anomaly detection on every call runs eagerly, since it checks
// values as backward computes them.
//
// Note [Gradients are state only if kept]: gradients the function leaves in .grad when it
// returns are what eager mode leaves there: accumulated in place into a .grad that existed
// (a state the step writes back), or a new tensor each run (an output of the step) when
// the slot was empty. A function that clears them itself before returning (zero_grad()
// after step(), as above) leaves nothing to keep: its gradients are ordinary intermediate
// values in the arena, each dead once its parameter's update has read it, and the
// memory-aware schedule (graph/schedule.h) runs each update as soon as its gradient
// exists. Eager mode runs that function with the same peak either way.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/storage.h"
#include "graph/capture.h"
#include "graph/memory_planner.h"
#include "graph/passes/pass.h"
#include "graph/remat.h"
#include "graph/step_inputs.h"

namespace duet::graph {

class Executable;

struct CompileOptions {
  int warmup_calls = 1;       // eager calls before the first capture (not per signature)
  bool optimize = true;       // DCE, CSE, constant folding, simplification
  bool fuse = true;           // on a CUDA device: elementwise groups only, as NVRTC kernels
                              // (graph/fusion.h fuse_options_for, graph/cuda_codegen.h)
  bool side_stores = true;    // fused groups may store state updates (Note [Side stores])
  bool schedule = true;       // memory-aware node order (graph/schedule.h)
  bool rematerialize = true;  // recompute cheap activations for the backward pass (graph/remat.h)
  int remat_min_gap = 0;      // uses this many nodes apart are worth a copy (0: remat.h's default)
  // Rematerialize convolutions too (graph/remat.h): less memory, a second forward
  // convolution each; WhenSmaller keeps them only where the arena shrinks.
  ConvRecompute recompute_convolutions = ConvRecompute::Off;
  // Rematerialize gelu and layer-norm outputs too (graph/remat.h): a transformer's
  // activations, less memory for a GELU and a layer norm more per block.
  bool recompute_activations = false;
  PlanStrategy strategy = PlanStrategy::GreedyBySize;
  std::string dump_dir;       // IR text + DOT after every pass; default: $DUET_DUMP_GRAPH
  bool print_report = false;  // print the compile report to stderr; also $DUET_COMPILE_REPORT=1
  bool profile = false;       // time every kernel; tables to stderr at the end; also $DUET_PROFILE_GRAPH=1
};

struct CompileReport {
  size_t captured_nodes = 0;
  std::vector<PassStats> passes;
  size_t nodes_after_passes = 0;
  int elementwise_groups = 0, fused_nodes = 0, matmul_epilogues = 0, reduction_prologues = 0;
  int conv_epilogues = 0, batch_norm_relus = 0;  // CPU only (graph/fusion.h)
  size_t kernels = 0;           // kernel calls per run after fusion
  int64_t arena_bytes = 0, naive_bytes = 0, lower_bound_bytes = 0;
  int64_t capture_order_arena_bytes = 0;  // the arena capture order would have needed
  bool rescheduled = false;               // the memory-aware order replaced capture order
  int rematerialized = 0;                 // values recomputed for their late uses (graph/remat.h)
  int64_t rematerialized_bytes = 0;
  int rematerialized_convolutions = 0;    // of those values
  int inplace_reuses = 0;
  size_t writebacks = 0;
  size_t direct_writebacks = 0;  // of those, computed straight into the state's memory
  size_t side_stores = 0;        // of those, stored by a fused group as it runs
  double capture_ms = 0, compile_ms = 0;  // compile: passes + fusion + lowering + planning + build
  std::string str() const;
};

using StepFunction = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

class CompiledFunction {
 public:
  CompiledFunction(StepFunction fn, CompileOptions options);
  ~CompiledFunction();
  CompiledFunction(CompiledFunction&&) noexcept;
  CompiledFunction& operator=(CompiledFunction&&) noexcept;

  std::vector<Tensor> operator()(const std::vector<Tensor>& inputs);

  // The report of the most recent capture (empty before the first one).
  const CompileReport& report() const { return last_report_; }
  int captures() const { return captures_; }
  // Calls that ran eagerly: warm-up, state created on first use, anomaly mode.
  int eager_calls() const { return eager_calls_; }
  static constexpr size_t kMaxVariants = 8;  // compiled steps kept per input signature
  // The compiled graph of the most recent capture (null before the first one).
  const Executable* executable() const { return last_; }

 private:
  // One compiled step: its executable and what it assumes and does around a run.
  struct Variant {
    std::unique_ptr<Executable> exe;
    StepContract contract;
    InputPlan plan;                                  // how the caller's inputs were taken
    std::vector<std::pair<int, const Storage*>> bound;  // inputs passed as themselves, and their storage
    // A run's inputs fit: the bound ones are the same storages (as state, they are the
    // step's), and no other is a storage the step names as state.
    bool accepts(const std::vector<Tensor>& inputs) const;
    bool ran = false;              // the capturing call's run has happened
  };
  struct Entry {
    std::vector<Variant> variants;  // most recently captured last
  };
  // Captures and compiles a new variant; null when the call must run eagerly instead.
  Variant* capture(Entry& e, const std::vector<Tensor>& inputs);
  Variant* capture_with(Entry& e, const std::vector<Tensor>& inputs, InputPlan plan);
  std::vector<Tensor> run(Variant& v, const std::vector<Tensor>& inputs);

  StepFunction fn_;
  CompileOptions options_;
  std::map<std::string, Entry> cache_;  // by input signature
  CompileReport last_report_;
  const Executable* last_ = nullptr;
  int captures_ = 0;
  int warmups_ = 0;
  int eager_calls_ = 0;
  std::shared_ptr<Storage> shared_arena_;  // the largest arena so far, reused by smaller signatures
};

CompiledFunction compile(StepFunction fn, CompileOptions options = {});

}  // namespace duet::graph
