// train_bench: trains a workload in one mode on one device and writes one JSON record per
// run (JSON Lines), for scripts/bench.sh and bench/report.py to compare against peers.
//
//   train_bench [--workload fashion-mlp] [--repeat R] [--json PATH] <workload flags>
//   train_bench --mode graph --epochs 5 --json out.jsonl
//
// A record holds fashion_mlp's --json fields (step time median and p90 over all steps,
// samples/s, epoch times, test accuracy, peak RSS and allocator bytes, allocations) plus
// compile_seconds, kernel_launches (per step, from step 3 on), arena_bytes,
// lower_bound_bytes and a loss curve. Medians are taken over every step: the first steps
// (graph mode's warm-up and capture) cannot move them, and their cost is reported apart as
// compile_seconds. Later workloads join through the same flags and record format.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "core/error.h"
#include "examples/fashion_mlp/workload.h"

namespace {

std::string usage() {
  return std::string("usage: train_bench [--workload fashion-mlp] [--repeat R] [--json PATH]\n         ") +
         duet::workloads::kConfigFlagsUsage + "\n";
}

struct Args {
  std::string workload = "fashion-mlp";
  int repeat = 1;
  std::string json_path;
  duet::workloads::FashionMlpConfig config;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      std::cout << usage();
      std::exit(0);
    }
    DUET_CHECK(i + 1 < argc, "train_bench: ", flag, " needs a value\n", usage());
    std::string v = argv[++i];
    if (flag == "--workload") {
      a.workload = v;
    } else if (flag == "--json") {
      a.json_path = v;
    } else if (flag == "--repeat") {
      DUET_CHECK(v.find_first_not_of("0123456789") == std::string::npos && !v.empty() && std::stoi(v) >= 1,
                 "train_bench: --repeat needs a positive integer, got '", v, "'");
      a.repeat = std::stoi(v);
    } else if (!duet::workloads::apply_config_flag(a.config, flag, v)) {
      DUET_FAIL("train_bench: unknown option ", flag, "\n", usage());
    }
  }
  DUET_CHECK(a.workload == "fashion-mlp", "train_bench: unknown workload '", a.workload,
             "'; available: fashion-mlp");
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Args args = parse(argc, argv);
    std::ofstream out;
    if (!args.json_path.empty()) {
      out.open(args.json_path, std::ios::app);
      DUET_CHECK(out.good(), "train_bench: cannot write ", args.json_path);
    }
    for (int run = 0; run < args.repeat; ++run) {
      auto r = duet::workloads::run_fashion_mlp(args.config);
      std::printf("%s %s run %d: step %.3f ms median (p90 %.3f) | %.0f samples/s | accuracy %.4f | "
                  "peak RSS %.1f MB | allocator %.2f MB | %.1f kernels/step | compile %.1f ms\n",
                  args.workload.c_str(), args.config.mode.c_str(), run + 1, r.step_ms_median, r.step_ms_p90,
                  r.samples_per_second, r.test_accuracy, double(r.peak_rss_bytes) / 1e6,
                  double(r.peak_allocator_bytes) / 1e6, r.kernel_launches_per_step, r.compile_ms);
      if (out.is_open()) out << duet::workloads::to_json(r) << "\n" << std::flush;
    }
    return 0;
  } catch (const duet::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
