// TrainResult: what one training run measured (speed, memory, kernel launches, graph
// mode's compile figures, losses, and accuracy or a language model's validation loss). json_record.h writes it as the --json
// record; console_output.h prints it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "examples/common/train_config.h"

namespace duet::workloads {

struct TrainResult {
  std::string workload;               // the WorkloadSpec's name
  TrainConfig config;
  int threads = 0;                    // the thread count the run used
  std::vector<double> epoch_seconds;
  std::vector<double> step_ms;        // every training step, in order
  std::vector<double> step_losses;    // every training step's loss, in order
  double step_ms_median = 0;
  double step_ms_p90 = 0;
  double samples_per_second = 0;
  std::optional<double> test_accuracy; // a classifier's, after training
  double final_train_loss = 0;        // mean loss over the last epoch (a language model: the last evaluation's)
  // A language model (char-gpt): tokens trained on per second (training time only), and
  // the losses measured every evaluation interval, each the mean over the recipe's batches.
  struct Evaluation {
    int64_t step;                     // steps done when it was measured
    double train_loss, val_loss;
  };
  std::vector<Evaluation> evaluations;
  double tokens_per_second = 0;
  std::optional<double> val_loss;     // the last evaluation's
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

}  // namespace duet::workloads
