// What a workload program prints: the run's settings, a progress line per epoch, and the
// figures at the end (with graph mode's compile report).
#pragma once

#include <cstdint>
#include <string>

#include "examples/common/train_config.h"
#include "examples/common/train_result.h"
#include "examples/common/workload.h"

namespace duet::workloads {

// "fashion-lenet: mode graph, device cpu, 5 epochs, batch 64, lr 0.001, seed 0"
void print_run_header(const WorkloadSpec& spec, const TrainConfig& c);

// A progress line per epoch: redrawn in place on a terminal (every 5 steps), printed
// every 100 steps and at the end of the epoch otherwise.
class ProgressLine {
 public:
  explicit ProgressLine(int epochs);
  // The arguments of a StepCallback (train_loop.h).
  void operator()(int epoch, int64_t step, int64_t steps, double loss, double samples_per_second) const;

 private:
  int epochs_;
  bool tty_;
};

// How good the trained model is: "test accuracy 0.8812" for a classifier, "val loss
// 1.9342 | 9120 tokens/s" for a language model.
std::string quality(const TrainResult& r);

// Step times, throughput, loss, accuracy, memory, and the compile report in graph mode.
void print_summary(const TrainResult& r);

}  // namespace duet::workloads
