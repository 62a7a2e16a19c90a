// example_main: parse, run with progress, print the figures, write the record.
#include "examples/common/example_main.h"

#include <cstdio>
#include <fstream>

#include "core/error.h"
#include "examples/common/command_line.h"
#include "examples/common/console_output.h"
#include "examples/common/json_record.h"
#include "examples/common/train_loop.h"
#include "examples/workloads/registry.h"

namespace duet::workloads {

int example_main(int argc, char** argv, const std::string& program, const std::string& workload) {
  try {
    const WorkloadSpec& spec = find_workload(workload);
    CLI::App app{program + ": trains the " + spec.name + " workload (" + spec.summary +
                     ") on Fashion-MNIST and reports speed, memory and accuracy",
                 program};
    CommonFlags flags(app, spec.defaults);
    if (auto exit_code = flags.parse(argc, argv)) return *exit_code;
    const TrainConfig config = flags.config_for(spec);
    print_run_header(spec, config);
    TrainResult result = run_workload(spec, config, ProgressLine(config.epochs));
    print_summary(result);
    if (!flags.json_path().empty()) {
      std::ofstream out(flags.json_path());
      DUET_CHECK(out.good(), program, ": cannot write ", flags.json_path());
      out << to_json(result) << "\n";
      std::printf("wrote %s\n", flags.json_path().c_str());
    }
    return 0;
  } catch (const duet::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

}  // namespace duet::workloads
