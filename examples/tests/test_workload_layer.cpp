// Tests of the examples' workload layer (examples/common/, examples/workloads/): the
// registry, the command line over each workload's defaults, the JSON record's fields,
// LeNet's shapes, and a per-step learning-rate schedule in both modes (what fashion-resnet's
// cosine decay will use).
#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <numbers>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/functions.h"
#include "core/generator.h"
#include "data/fashion_mnist.h"
#include "examples/common/command_line.h"
#include "examples/common/json_record.h"
#include "examples/common/train_loop.h"
#include "examples/workloads/registry.h"

using namespace duet;
using namespace duet::workloads;

namespace {

// Parses `args` (after the program name) with the common flags; returns parse()'s answer.
std::optional<int> parse(CommonFlags& flags, std::vector<std::string> args) {
  args.insert(args.begin(), "test_program");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return flags.parse(int(argv.size()), argv.data());
}

bool have_data() {
  if (data::FashionMnist::available(data::kFashionMnistDefaultDir, data::FashionMnist::Split::Train)) return true;
  MESSAGE("skipped: Fashion-MNIST is not installed (install Debian's dataset-fashion-mnist package)");
  return false;
}

}  // namespace

TEST_CASE("workload registry: every workload, and an unknown name lists them") {
  CHECK(workload_names() == std::vector<std::string>{"fashion-mlp", "fashion-lenet", "fashion-resnet", "char-gpt"});
  CHECK(find_workload("fashion-lenet").defaults.batch == 64);
  CHECK(find_workload("fashion-mlp").defaults.batch == 128);
  try {
    find_workload("fashion-gan");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("available: fashion-mlp, fashion-lenet, fashion-resnet, char-gpt") != std::string::npos);
  }
}

TEST_CASE("common flags: given flags over each workload's defaults") {
  CLI::App app{"test", "test_program"};
  CommonFlags flags(app, std::nullopt);
  REQUIRE_FALSE(parse(flags, {"--mode", "graph", "--lr", "0.01", "--limit", "-1", "--steps", "7", "--recompute-convs",
                              "--recompute-activations"})
                    .has_value());
  for (const char* name : {"fashion-mlp", "fashion-lenet"}) {
    const WorkloadSpec& spec = find_workload(name);
    TrainConfig c = flags.config_for(spec);
    CHECK(c.mode == "graph");
    CHECK(c.lr == 0.01);                         // given
    CHECK(c.batch == spec.defaults.batch);       // the workload's
    CHECK(c.epochs == spec.defaults.epochs);
    CHECK(c.limit == -1);
    CHECK(c.max_steps == 7);
    CHECK(c.recompute_convs);
    CHECK(c.recompute_activations);
    CHECK(compile_options(c).recompute_activations);
  }
}

TEST_CASE("common flags: bad values are refused while parsing") {
  auto exit_code = [](std::vector<std::string> args) {
    CLI::App app{"test", "test_program"};
    CommonFlags flags(app, WorkloadDefaults{});
    return parse(flags, std::move(args));
  };
  CHECK(exit_code({"--threads", "100000"}) == 1);
  CHECK(exit_code({"--mode", "lazy"}) == 1);
  CHECK(exit_code({"--epochs", "two"}) == 1);
  CHECK(exit_code({"--json", "/nonexistent/dir/out.json"}) == 1);
  CHECK(exit_code({"--unknown", "1"}) == 1);
  CHECK_FALSE(exit_code({"--epochs", "2"}).has_value());

  CLI::App app{"test", "test_program"};
  CommonFlags flags(app, WorkloadDefaults{});
  REQUIRE_FALSE(parse(flags, {"--batch", "0"}).has_value());  // a range, checked with the workload's config
  CHECK_THROWS_AS(flags.config_for(find_workload("fashion-mlp")), Error);

  CLI::App eager_app{"test", "test_program"};
  CommonFlags eager_flags(eager_app, WorkloadDefaults{});
  REQUIRE_FALSE(parse(eager_flags, {"--recompute-convs"}).has_value());  // a compile option: graph mode only
  CHECK_THROWS_WITH_AS(eager_flags.config_for(find_workload("fashion-lenet")),
                       doctest::Contains("--recompute-convs is a graph-mode compile option"), Error);
  CLI::App eager_app2{"test", "test_program"};
  CommonFlags eager_flags2(eager_app2, WorkloadDefaults{});
  REQUIRE_FALSE(parse(eager_flags2, {"--recompute-activations"}).has_value());
  CHECK_THROWS_WITH_AS(eager_flags2.config_for(find_workload("char-gpt")),
                       doctest::Contains("--recompute-activations is a graph-mode compile option"), Error);
}

TEST_CASE("fashion-resnet: shapes, parameter count, batch-norm buffers, cosine learning rate") {
  const WorkloadSpec& spec = find_workload("fashion-resnet");
  CHECK(spec.defaults.batch == 128);
  manual_seed(0);
  auto model = spec.make_model();
  int64_t count = 0;
  for (const Tensor& p : model->parameters()) count += p.numel();
  const int64_t stem = 1 * 16 * 9 + 32, stage1 = 2 * (2 * 16 * 16 * 9 + 2 * 32);
  const int64_t stage2 = (16 * 32 * 9 + 32 * 32 * 9 + 16 * 32 + 3 * 64) + (2 * 32 * 32 * 9 + 2 * 64);
  const int64_t stage3 = (32 * 64 * 9 + 64 * 64 * 9 + 32 * 64 + 3 * 128) + (2 * 64 * 64 * 9 + 2 * 128);
  CHECK(count == stem + stage1 + stage2 + stage3 + 64 * 10 + 10);
  CHECK(model->named_buffers().size() == 3 * 15);  // 15 batch norms: running mean, var, count
  CHECK(model->forward(randn({3, 1, 28, 28})).sizes() == Shape{3, 10});
  CHECK(spec.lr_at_step(0.1, 0, 100) == doctest::Approx(0.1));
  CHECK(spec.lr_at_step(0.1, 50, 100) == doctest::Approx(0.05));
  CHECK(spec.lr_at_step(0.1, 100, 100) == doctest::Approx(0.0));
}

TEST_CASE("fashion-lenet: LeNet-5's shapes and parameter count") {
  const WorkloadSpec& spec = find_workload("fashion-lenet");
  CHECK(spec.example_shape == Shape{1, 28, 28});
  manual_seed(0);
  auto model = spec.make_model();
  int64_t count = 0;
  for (const Tensor& p : model->parameters()) count += p.numel();
  CHECK(count == 156 + 2416 + 48120 + 10164 + 850);  // conv1, conv2, fc 400-120, 120-84, 84-10
  Tensor logits = model->forward(randn({2, 1, 28, 28}));
  CHECK(logits.sizes() == Shape{2, 10});
}

TEST_CASE("JSON record: the fields bench/report.py and the peers share") {
  TrainResult r;
  r.workload = "fashion-lenet";
  r.config.mode = "graph";
  r.epoch_seconds = {1.5};
  r.loss_curve = {{0.5, 2.25}};
  r.test_accuracy = 0.875;
  auto j = nlohmann::json::parse(to_json(r));
  for (const char* field : {"workload", "framework", "mode", "device", "threads", "batch", "epochs", "lr", "steps",
                            "seed", "epoch_seconds", "step_ms_median", "step_ms_p90", "samples_per_second",
                            "test_accuracy", "final_train_loss", "peak_rss_bytes", "peak_allocator_bytes",
                            "allocations", "kernel_launches", "compile_ms", "compile_seconds", "arena_bytes",
                            "lower_bound_bytes", "loss_curve"})
    CHECK_MESSAGE(j.contains(field), field);
  CHECK(j["workload"] == "fashion-lenet");
  CHECK(j["framework"] == "duet");
  CHECK(j["loss_curve"][0][1] == 2.25);
  CHECK_FALSE(j.contains("val_loss"));  // a classifier's record
}

TEST_CASE("a per-step learning-rate schedule: applied every step, the same in eager and graph mode") {
  if (!have_data()) return;
  WorkloadSpec spec = find_workload("fashion-mlp");
  TrainConfig config = defaults_for(spec);
  config.limit = 640;
  config.batch = 64;
  config.max_steps = 6;
  auto run = [&](const std::string& mode) {
    config.mode = mode;
    return run_workload(spec, config).step_losses;
  };
  const std::vector<double> constant = run("eager");
  spec.lr_at_step = [](double base, int64_t step, int64_t total) {  // cosine decay to 0, as fashion-resnet's
    return base * 0.5 * (1 + std::cos(std::numbers::pi * double(step) / double(total)));
  };
  const std::vector<double> eager = run("eager"), graph = run("graph");
  REQUIRE(eager.size() == 6);
  CHECK(eager == graph);
  CHECK(eager[0] == constant[0]);  // step 0 runs at the base rate
  CHECK(eager[1] == constant[1]);  // step 1 runs at cos(pi/6)-scaled rate: its loss precedes that update
  CHECK(eager.back() != constant.back());
}

TEST_CASE("char-gpt: its own loop trains the same steps in both modes; the record has validation loss, not accuracy") {
  // A small text of its own (the fortunes corpus would be the recipe's): this file.
  const std::string text_file = std::string(DUET_SOURCE_DIR) + "/examples/tests/test_workload_layer.cpp";
  const WorkloadSpec& spec = find_workload("char-gpt");
  CHECK(spec.defaults.steps == 2000);
  CHECK(spec.defaults.batch == 12);
  TrainConfig config = defaults_for(spec);
  config.data_dir = text_file;
  config.max_steps = 6;
  config.batch = 2;
  config.eval_every = 3;
  config.eval_batches = 2;
  auto run = [&](const std::string& mode) {
    config.mode = mode;
    return run_workload(spec, config);
  };
  const TrainResult eager = run("eager"), graph = run("graph");
  REQUIRE(eager.step_losses.size() == 6);
  CHECK(eager.step_losses == graph.step_losses);
  REQUIRE(eager.evaluations.size() == 2);  // after steps 3 and 6
  CHECK(eager.evaluations[1].step == 6);
  CHECK(eager.val_loss == graph.val_loss);
  CHECK_FALSE(eager.test_accuracy.has_value());
  CHECK(graph.compile_ms > 0);
  auto j = nlohmann::json::parse(to_json(graph));
  for (const char* field : {"tokens_per_second", "val_loss", "evaluations", "step_ms_median", "peak_allocator_bytes"})
    CHECK_MESSAGE(j.contains(field), field);
  CHECK_FALSE(j.contains("test_accuracy"));
  CHECK(j["evaluations"][0][0] == 3);
  config.max_steps = 0;
  CHECK_THROWS_WITH_AS(run("eager"), doctest::Contains("--steps must be > 0"), Error);
}
