// The training loop every workload shares: reads Fashion-MNIST, builds the workload's
// model and optimizer from the seed, trains eagerly or through graph::compile of the same
// step function, and measures step times, memory, kernel launches, graph mode's compile
// figures, losses and test accuracy.
//
//   const WorkloadSpec& spec = find_workload("fashion-lenet");
//   TrainConfig config = defaults_for(spec);
//   config.mode = "graph";
//   TrainResult r = run_workload(spec, config);
#pragma once

#include <cstdint>
#include <functional>

#include "examples/common/train_config.h"
#include "examples/common/train_result.h"
#include "examples/common/workload.h"
#include "graph/compile.h"

namespace duet::workloads {

// Trains and evaluates (with spec.run when the workload has its own loop); throws
// duet::Error for bad configs, missing data, or a mode or device this build does not have.
TrainResult run_workload(const WorkloadSpec& spec, const TrainConfig& config, const StepCallback& on_step = {});

// The graph compiler's options the flags ask for (--recompute-convs,
// --recompute-activations).
graph::CompileOptions compile_options(const TrainConfig& config);

// Graph mode's figures from the compiled step's last capture into r (the report, compile
// time, arena and its lower bound); nothing when the step never compiled.
void record_compile(TrainResult& r, const graph::CompiledFunction& compiled);

}  // namespace duet::workloads
