// The fashion-mlp workload (see WORKLOADS in the docs): an MLP 784-256-128-10 with ReLU,
// cross-entropy and Adam on Fashion-MNIST, trained and evaluated with timings and memory
// figures. Shared by the fashion_mlp example and the benchmarks.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace duet::workloads {

struct FashionMlpConfig {
  std::string mode = "eager";   // eager | graph
  std::string device = "cpu";   // cpu | cuda[:N]
  int epochs = 5;
  int64_t batch = 128;
  double lr = 1e-3;
  int threads = 0;              // 0: all cores
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  int64_t limit = -1;           // use only the first N training (and test) examples
  uint64_t seed = 0;
  int64_t max_steps = 0;        // > 0: stop training after this many steps in all
};

struct FashionMlpResult {
  std::string workload = "fashion-mlp";
  FashionMlpConfig config;
  int threads = 0;
  std::vector<double> epoch_seconds;
  std::vector<double> step_ms;        // every training step, in order
  std::vector<double> step_losses;    // every training step's loss, in order
  double step_ms_median = 0;
  double step_ms_p90 = 0;
  double samples_per_second = 0;
  double test_accuracy = 0;
  double final_train_loss = 0;        // mean loss over the last epoch
  int64_t peak_rss_bytes = 0;
  int64_t peak_allocator_bytes = 0;   // steady-state peak (from step 3) above data + model
  int64_t allocations = 0;            // allocator calls from step 3 on
  double kernel_launches_per_step = 0; // kernels run per training step, from step 3 on
  // (seconds since training started, mean loss) every kLossCurveEvery steps
  std::vector<std::pair<double, double>> loss_curve;
  static constexpr int kLossCurveEvery = 20;
  // graph mode: the last capture's figures
  double compile_ms = 0;              // capture + passes + fusion + planning
  int64_t arena_bytes = 0;
  int64_t lower_bound_bytes = 0;
  std::string compile_report;
};

// Called after every step: (epoch, step in epoch, steps per epoch, loss, samples/s so far).
using StepCallback = std::function<void(int, int64_t, int64_t, double, double)>;

// Trains and evaluates; throws duet::Error for bad configs, missing data, or a mode or
// device this build does not have.
FashionMlpResult run_fashion_mlp(const FashionMlpConfig& config, const StepCallback& on_step = {});

// The result as one JSON object (the --json format).
std::string to_json(const FashionMlpResult& r);

// Sets the config field for a command-line flag (--mode, --device, --epochs, --steps,
// --batch, --lr, --threads, --data, --limit, --seed). Returns false for a flag it does not
// know; a value that is not a valid number is a duet::Error.
bool apply_config_flag(FashionMlpConfig& c, const std::string& flag, const std::string& value);
// The flags above, for usage text.
inline constexpr const char* kConfigFlagsUsage =
    "[--mode eager|graph] [--device cpu|cuda] [--epochs N] [--steps N] [--batch B] [--lr X]\n"
    "         [--threads T] [--data DIR] [--limit N] [--seed S]";

}  // namespace duet::workloads
