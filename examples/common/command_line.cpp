// The common flags on CLI11, and the checks that run right after parsing.
#include "examples/common/command_line.h"

#include <cstdio>
#include <sstream>

#include "core/error.h"
#include "examples/common/json_record.h"

namespace duet::workloads {
namespace {

template <typename T>
std::string shown(const std::optional<WorkloadDefaults>& defaults, T WorkloadDefaults::*field) {
  if (!defaults) return "the workload's";
  std::ostringstream os;
  os << (*defaults).*field;
  return os.str();
}

}  // namespace

CommonFlags::CommonFlags(CLI::App& app, std::optional<WorkloadDefaults> shown_defaults) : app_(app) {
  app.add_option("--mode", given_.mode, "eager, or graph: the step compiled by graph::compile")
      ->check(CLI::IsMember({"eager", "graph"}))
      ->capture_default_str();
  app.add_option("--device", given_.device, "cpu, cuda or cuda:N")->capture_default_str();
  epochs_ = app.add_option("--epochs", given_.epochs, "passes over the training set")
                ->default_str(shown(shown_defaults, &WorkloadDefaults::epochs));
  steps_ = app.add_option("--steps", given_.max_steps, "stop after this many steps in all (0: no limit)")
               ->default_str(shown(shown_defaults, &WorkloadDefaults::steps));
  batch_ = app.add_option("--batch", given_.batch, "batch size (the last batch of an epoch may be smaller)")
               ->default_str(shown(shown_defaults, &WorkloadDefaults::batch));
  lr_ = app.add_option("--lr", given_.lr, "learning rate")->default_str(shown(shown_defaults, &WorkloadDefaults::lr));
  app.add_option("--threads", given_.threads, "CPU threads (0: all cores)")->capture_default_str();
  app.add_option("--data", given_.data_dir, "Fashion-MNIST's folder (IDX .gz files)")->capture_default_str();
  app.add_option("--limit", given_.limit, "use only the first N training (and test) examples (-1: all)")
      ->capture_default_str();
  app.add_option("--seed", given_.seed, "seeds the initial weights and the data order")->capture_default_str();
  app.add_flag("--recompute-convs", given_.recompute_convs,
               "graph mode: recompute convolutions for the backward pass instead of holding their outputs (less memory, more time)");
  app.add_flag("--recompute-activations", given_.recompute_activations,
               "graph mode: recompute GELU and layer-norm outputs for the backward pass instead of holding them "
               "(less memory, more time)");
  app.add_option("--json", json_path_, "write the run's record (JSON) here");
}

std::optional<int> CommonFlags::parse(int argc, char** argv) {
  const std::string& program = app_.get_name();
  try {
    app_.parse(argc, argv);
    check_threads(given_.threads, program);  // refused while parsing, before anything else runs
    if (!json_path_.empty()) check_writable(json_path_, program);
  } catch (const CLI::CallForHelp& e) {
    return app_.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "error: %s: %s\nrun '%s --help' for the flags\n", program.c_str(), e.what(), program.c_str());
    return 1;
  } catch (const duet::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return std::nullopt;
}

TrainConfig CommonFlags::config_for(const WorkloadSpec& spec) const {
  TrainConfig c = given_;
  if (epochs_->count() == 0) c.epochs = spec.defaults.epochs;
  if (batch_->count() == 0) c.batch = spec.defaults.batch;
  if (lr_->count() == 0) c.lr = spec.defaults.lr;
  if (steps_->count() == 0) c.max_steps = spec.defaults.steps;
  check_config(c, app_.get_name());  // a bad value is refused before the program prints or reads anything
  return c;
}

}  // namespace duet::workloads
