// train_bench: trains a workload in one mode on one device and writes one JSON record per
// run (JSON Lines), for scripts/bench.sh and bench/report.py to compare against peers.
//
//   train_bench [--workload fashion-mlp|fashion-lenet|fashion-resnet] [--repeat R] [--json PATH] <common flags>
//   train_bench --workload fashion-lenet --mode graph --epochs 5 --json out.jsonl
//
// The flags, the defaults (each workload's recipe) and the record are the example
// programs' (examples/common/): step time median and p90 over all steps, samples/s, epoch
// times, test accuracy, peak RSS and allocator bytes, allocations, compile_seconds,
// kernel_launches (per step, from step 3 on), arena_bytes, lower_bound_bytes and a loss
// curve. Medians are taken over every step: the first steps (graph mode's warm-up and
// capture) cannot move them, and their cost is reported apart as compile_seconds.
#include <cstdio>
#include <fstream>
#include <string>

#include "core/error.h"
#include "examples/common/command_line.h"
#include "examples/common/console_output.h"
#include "examples/common/json_record.h"
#include "examples/common/train_loop.h"
#include "examples/workloads/registry.h"

using namespace duet::workloads;

int main(int argc, char** argv) {
  try {
    CLI::App app{"train_bench: trains a workload in one mode and appends one JSON record per run", "train_bench"};
    std::string workload = "fashion-mlp";
    int repeat = 1;
    app.add_option("--workload", workload, "the workload to train")
        ->check(CLI::IsMember(workload_names()))
        ->capture_default_str();
    app.add_option("--repeat", repeat, "runs, one record each")->check(CLI::Range(1, 1000000))->capture_default_str();
    CommonFlags flags(app, std::nullopt);
    if (auto exit_code = flags.parse(argc, argv)) return *exit_code;
    const WorkloadSpec& spec = find_workload(workload);
    const TrainConfig config = flags.config_for(spec);

    std::ofstream out;
    if (!flags.json_path().empty()) {
      out.open(flags.json_path(), std::ios::app);
      DUET_CHECK(out.good(), "train_bench: cannot write ", flags.json_path());
    }
    for (int run = 0; run < repeat; ++run) {
      TrainResult r = run_workload(spec, config);
      std::printf("%s %s run %d: step %.3f ms median (p90 %.3f) | %.0f samples/s | %s | "
                  "peak RSS %.1f MB | allocator %.2f MB | %.1f kernels/step | compile %.1f ms\n",
                  spec.name.c_str(), config.mode.c_str(), run + 1, r.step_ms_median, r.step_ms_p90,
                  r.samples_per_second, quality(r).c_str(), double(r.peak_rss_bytes) / 1e6,
                  double(r.peak_allocator_bytes) / 1e6, r.kernel_launches_per_step, r.compile_ms);
      if (out.is_open()) out << to_json(r) << "\n" << std::flush;
    }
    return 0;
  } catch (const duet::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
