// The command line every workload program shares, with CLI11: the common flags
//   --mode eager|graph --device --epochs --steps --batch --lr --threads --data --limit
//   --seed --json
// registered on a CLI::App (a program may add its own, as train_bench adds --workload and
// --repeat), parsed, checked, and turned into a TrainConfig over a workload's defaults.
//
//   CLI::App app{"fashion_lenet: trains fashion-lenet ...", "fashion_lenet"};
//   CommonFlags flags(app, spec.defaults);
//   if (auto exit_code = flags.parse(argc, argv)) return *exit_code;  // --help, or a bad command line
//   TrainConfig config = flags.config_for(spec);
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "examples/common/train_config.h"
#include "examples/common/workload.h"

namespace duet::workloads {

class CommonFlags {
 public:
  // Registers the flags on `app`. `shown_defaults`: the epochs, batch and lr --help shows
  // (none for a program whose workload is chosen on the command line: "the workload's").
  CommonFlags(CLI::App& app, std::optional<WorkloadDefaults> shown_defaults);
  CommonFlags(const CommonFlags&) = delete;
  CommonFlags& operator=(const CommonFlags&) = delete;

  // Parses argv with the app, then refuses a --threads beyond max_num_threads() and a
  // --json path that cannot be written, before anything runs. Returns nullopt when the
  // program should go on; otherwise what main should return after --help (0, the help on
  // stdout) or a bad command line (1, "error: <program>: <what>" on stderr).
  std::optional<int> parse(int argc, char** argv);

  // The flags given, over `spec`'s defaults for those not given; checked (check_config),
  // a duet::Error naming the program, the flag and the value.
  TrainConfig config_for(const WorkloadSpec& spec) const;
  // --json's path; empty when not given.
  const std::string& json_path() const { return json_path_; }

 private:
  CLI::App& app_;
  TrainConfig given_;  // the parsed values; epochs, batch and lr count only when given
  CLI::Option* epochs_ = nullptr;
  CLI::Option* batch_ = nullptr;
  CLI::Option* lr_ = nullptr;
  CLI::Option* steps_ = nullptr;
  std::string json_path_;
};

}  // namespace duet::workloads
