// WorkloadSpec: what makes one workload differ from another. A Fashion-MNIST
// classification workload gives its model, optimizer, how an image is laid out for the
// model, an optional learning rate schedule and the recipe's defaults, and the shared
// classification loop (train_loop.h) does the rest; a workload on other data (char-gpt, a
// language model) brings its own loop in `run` and shares the rest. Either way the command
// line (command_line.h), the result and JSON record (train_result.h, json_record.h) and
// the console output are common, so a workload is one small file (examples/workloads/)
// plus one line in workloads.def.
//
//   WorkloadSpec make_fashion_lenet() {
//     return {.name = "fashion-lenet", .summary = "LeNet-5, Adam, cross-entropy",
//             .defaults = {.epochs = 5, .batch = 64, .lr = 1e-3},
//             .example_shape = {1, 28, 28},
//             .make_model = [] { return std::make_shared<nn::Sequential>(...); },
//             .make_optimizer = [](std::vector<Tensor> p, double lr) { return std::make_unique<optim::Adam>(p, lr); }};
//   }
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/shape.h"
#include "core/tensor.h"
#include "examples/common/train_config.h"
#include "examples/common/train_result.h"
#include "nn/module.h"
#include "optim/optimizer.h"

namespace duet::workloads {

// Called after every step: (epoch, step in epoch, steps per epoch, loss, samples/s so far).
using StepCallback = std::function<void(int, int64_t, int64_t, double, double)>;

struct WorkloadSpec;
// A workload's own training loop: trains and evaluates as `config` says, calling
// `on_step` (when set) after every step.
using RunWorkload = std::function<TrainResult(const WorkloadSpec&, const TrainConfig&, const StepCallback& on_step)>;

struct WorkloadSpec {
  std::string name = {};    // as on the command line and in the JSON record: "fashion-lenet"
  std::string summary = {}; // one line for --help: the model and the recipe
  WorkloadDefaults defaults = {};
  // One example as the model reads it; batches of Fashion-MNIST's float32 [N, 784] images
  // become [N, example_shape...] (a view): {784} for an MLP, {1, 28, 28} for a CNN.
  Shape example_shape = {784};
  // Builds the model on the CPU, after the seed is set (its init order fixes the weights).
  std::function<std::shared_ptr<nn::Module>()> make_model = {};
  // The optimizer over the model's parameters at the run's learning rate.
  std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor> params, double lr)> make_optimizer = {};
  // Optional: the learning rate of step `step` (0-based) of `total_steps`, given the run's
  // base rate; set on the optimizer before each step whose rate differs from the last one.
  // (The compiled step reads the rate as a runtime value: no capture again.)
  std::function<double(double base_lr, int64_t step, int64_t total_steps)> lr_at_step = {};
  // Optional: the workload's own loop (data, model, optimizer, evaluation), used instead of
  // the classification loop above, whose fields it then need not set.
  RunWorkload run = {};
};

// The config a run of `spec` starts from: TrainConfig's defaults with the recipe's.
inline TrainConfig defaults_for(const WorkloadSpec& spec) {
  TrainConfig c;
  c.epochs = spec.defaults.epochs;
  c.batch = spec.defaults.batch;
  c.lr = spec.defaults.lr;
  c.max_steps = spec.defaults.steps;
  return c;
}

}  // namespace duet::workloads
