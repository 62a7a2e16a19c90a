// The --json record of a training run: one JSON object per run, with the fields
// bench/report.py, scripts/compare_runs.py and the peers (bench/peers/common.py) share:
//
//   workload framework mode device threads batch epochs lr steps seed
//   epoch_seconds step_ms_median step_ms_p90 samples_per_second test_accuracy
//   final_train_loss peak_rss_bytes peak_allocator_bytes allocations kernel_launches
//   compile_ms compile_seconds arena_bytes lower_bound_bytes loss_curve [[s, loss], ...]
//
// test_accuracy is a classifier's only; a language model's record has instead
//   tokens_per_second val_loss evaluations [[step, train_loss, val_loss], ...]
//
// With DUET_BENCH_ALL_STEPS set (as for the peers) it also holds every step's time and
// loss ("step_ms", "step_losses"), e.g. to compare eager and graph mode step by step.
#pragma once

#include <string>

#include "examples/common/train_result.h"

namespace duet::workloads {

// The record as one line of JSON (no trailing newline).
std::string to_json(const TrainResult& r);

// Fails now, not after the whole run, when `path` cannot be written: opened for append
// (an existing file is left as it is), and removed again if this made it. `who` prefixes
// the message: "<who>: --json <path> cannot be written: <reason>".
void check_writable(const std::string& path, const std::string& who);

}  // namespace duet::workloads
