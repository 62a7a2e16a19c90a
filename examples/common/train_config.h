// TrainConfig: the settings every workload's run takes, one per common command-line flag
// (--mode --device --epochs --steps --batch --lr --threads --data --limit --seed
// --recompute-convs), and the check that refuses bad values before any data is read.
//
//   TrainConfig c = defaults_for(spec);   // the workload's epochs, batch and lr
//   c.mode = "graph";
//   check_config(c, spec.name);           // duet::Error naming the flag and the value
#pragma once

#include <cstdint>
#include <string>

#include "data/fashion_mnist.h"

namespace duet::workloads {

struct TrainConfig {
  std::string mode = "eager";   // eager | graph
  std::string device = "cpu";   // cpu | cuda[:N]
  int epochs = 5;
  int64_t batch = 128;
  double lr = 1e-3;
  int threads = 0;              // 0: all cores
  std::string data_dir = data::kFashionMnistDefaultDir;
  int64_t limit = -1;           // use only the first N training (and test) examples
  uint64_t seed = 0;
  int64_t max_steps = 0;        // > 0: stop training after this many steps in all
  bool recompute_convs = false; // graph mode: recompute convolutions for the backward pass
  bool recompute_activations = false;  // graph mode: recompute GELU and layer-norm outputs too
  // A language model's evaluation (char-gpt): every N steps, the mean loss over M batches
  // of each split; 0: the recipe's.
  int64_t eval_every = 0;
  int64_t eval_batches = 0;
};

// What a workload's recipe sets and a flag may override.
struct WorkloadDefaults {
  int epochs = 5;
  int64_t batch = 128;
  double lr = 1e-3;
  int64_t steps = 0;  // 0: the epochs decide; a language model's recipe counts iterations
};

// --threads must be in [0, max_num_threads()]; `who` prefixes the message.
void check_threads(int threads, const std::string& who);

// Every field's range, the mode, and whether the device exists in this build and machine.
void check_config(const TrainConfig& c, const std::string& who);

}  // namespace duet::workloads
