// char_gpt: the char-gpt workload (shared/WORKLOADS.md), a character-level GPT on the text
// of Debian's fortunes package, in two commands:
//
//   char_gpt train  [common flags: --mode --device --steps --batch --lr --threads --data
//                    --limit --seed --json] [--eval-every N] [--eval-batches M]
//       trains with a progress line, prints train and validation loss every N steps, and
//       writes the workload layer's record (plus tokens/s and validation loss);
//   char_gpt sample [the same flags] [--prompt TEXT] [--tokens N] [--temperature T]
//                   [--top-k K] [--no-cache]
//       trains as `train` does for --steps (0: samples from the untrained model; duet has
//       no checkpoint files yet), then generates N tokens after the prompt with the
//       key/value cache (eager, or one compiled step in graph mode), or with nanoGPT's
//       uncached loop (--no-cache), and reports sampling tokens/s.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "core/generator.h"
#include "examples/common/command_line.h"
#include "examples/common/console_output.h"
#include "examples/common/json_record.h"
#include "examples/common/metrics.h"
#include "examples/workloads/char_gpt.h"
#include "examples/workloads/registry.h"
#include "nn/generation.h"

using namespace duet;
using namespace duet::workloads;

namespace {

struct SampleFlags {
  std::string prompt = "\n";
  int64_t tokens = char_gpt::kSampleTokens;
  double temperature = char_gpt::kSampleTemperature;
  int64_t top_k = char_gpt::kSampleTopK;
  bool no_cache = false;
};

void add_eval_flags(CLI::App& app, TrainConfig& eval) {
  app.add_option("--eval-every", eval.eval_every, "evaluate every N steps (0: the recipe's 250)")->capture_default_str();
  app.add_option("--eval-batches", eval.eval_batches, "batches per split in an evaluation (0: the recipe's 200)")
      ->capture_default_str();
}

void write_json(const std::string& path, const std::string& line) {
  if (path.empty()) return;
  std::ofstream out(path);
  DUET_CHECK(out.good(), "char_gpt: cannot write ", path);
  out << line << "\n";
  std::printf("wrote %s\n", path.c_str());
}

TrainConfig with_eval(TrainConfig c, const TrainConfig& eval) {
  c.eval_every = eval.eval_every;
  c.eval_batches = eval.eval_batches;
  check_config(c, "char_gpt");
  return c;
}

int train_command(int argc, char** argv, const WorkloadSpec& spec) {
  CLI::App app{"char_gpt train: trains the char-gpt workload (" + spec.summary + ") and reports speed, memory and "
               "validation loss", "char_gpt train"};
  CommonFlags flags(app, spec.defaults);
  TrainConfig eval;
  add_eval_flags(app, eval);
  if (auto exit_code = flags.parse(argc, argv)) return *exit_code;
  const TrainConfig config = with_eval(flags.config_for(spec), eval);
  print_run_header(spec, config);
  TrainResult r = char_gpt::train(spec, config, ProgressLine(1)).result;
  print_summary(r);
  write_json(flags.json_path(), to_json(r));
  return 0;
}

int sample_command(int argc, char** argv, const WorkloadSpec& spec) {
  CLI::App app{"char_gpt sample: trains the char-gpt workload for --steps (0: none), then samples text from it",
               "char_gpt sample"};
  CommonFlags flags(app, spec.defaults);
  TrainConfig eval;
  add_eval_flags(app, eval);
  SampleFlags s;
  app.add_option("--prompt", s.prompt, "the text to continue (its bytes must be in the corpus)");
  app.add_option("--tokens", s.tokens, "tokens to generate")->check(CLI::Range(int64_t(0), int64_t(1) << 30))->capture_default_str();
  app.add_option("--temperature", s.temperature, "divides the logits (> 0)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--top-k", s.top_k, "draw among the k most likely tokens (0: all)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_flag("--no-cache", s.no_cache, "nanoGPT's loop: the whole model over the last 64 tokens per new token");
  if (auto exit_code = flags.parse(argc, argv)) return *exit_code;
  const TrainConfig config = with_eval(flags.config_for(spec), eval);
  print_run_header(spec, config);
  char_gpt::Trained trained = char_gpt::train(spec, config, ProgressLine(1));
  if (config.max_steps > 0) print_summary(trained.result);
  DUET_CHECK(!s.prompt.empty(), "char_gpt sample: --prompt must not be empty");
  const Tensor prompt = trained.text->encode(s.prompt).reshape({1, -1});

  const nn::SamplingOptions sampling{.temperature = s.temperature, .top_k = s.top_k};
  const bool compiled = config.mode == "graph";
  manual_seed(config.seed);
  std::optional<nn::CachedDecoder> decoder;
  if (!s.no_cache) decoder.emplace(*trained.model, nn::DecoderOptions{.batch = 1, .sampling = sampling, .compiled = compiled});
  DUET_CHECK(!(s.no_cache && compiled), "char_gpt sample: --no-cache runs eagerly; graph mode compiles the cached step");
  const auto t0 = Clock::now();
  const Tensor ids = decoder ? decoder->generate(prompt, s.tokens) : nn::generate(*trained.model, prompt, s.tokens, sampling);
  const double seconds = ms_since(t0) / 1e3;
  const std::string text = trained.text->decode(ids.to(Device::cpu()));
  std::printf("---\n%s\n---\n", text.c_str());
  const double tokens_per_second = seconds > 0 ? double(s.tokens) / seconds : 0;
  std::printf("sampled %lld tokens in %.3f s: %.0f tokens/s (%s, %s)\n", (long long)s.tokens, seconds,
              tokens_per_second, s.no_cache ? "no cache" : "key/value cache", compiled ? "compiled step" : "eager");

  nlohmann::ordered_json j;
  j["workload"] = spec.name;
  j["task"] = "sample";
  j["framework"] = "duet";
  j["mode"] = config.mode;
  j["device"] = config.device;
  j["threads"] = trained.result.threads;
  j["seed"] = config.seed;
  j["train_steps"] = config.max_steps;
  j["cache"] = !s.no_cache;
  j["temperature"] = s.temperature;
  j["top_k"] = s.top_k;
  j["tokens"] = s.tokens;
  j["sample_seconds"] = seconds;
  j["tokens_per_second"] = tokens_per_second;
  if (decoder) j["captures"] = decoder->captures();
  if (trained.result.val_loss) j["val_loss"] = *trained.result.val_loss;
  j["text"] = text;  // bytes that are not UTF-8 are written as U+FFFD
  write_json(flags.json_path(), j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const WorkloadSpec& spec = find_workload("char-gpt");
    const std::string command = argc > 1 ? argv[1] : "";
    if (command == "train") return train_command(argc - 1, argv + 1, spec);
    if (command == "sample") return sample_command(argc - 1, argv + 1, spec);
    const bool help = command == "--help" || command == "-h";
    const std::string usage =
        "char_gpt: trains and samples a character-level GPT on the fortunes text\n"
        "usage: char_gpt train [flags]    (char_gpt train --help for them)\n"
        "       char_gpt sample [flags]   (char_gpt sample --help for them)\n";
    if (help) std::printf("%s", usage.c_str());
    else if (command.empty()) std::fprintf(stderr, "error: char_gpt: give a command\n%s", usage.c_str());
    else std::fprintf(stderr, "error: char_gpt: unknown command '%s'\n%s", command.c_str(), usage.c_str());
    return help ? 0 : 1;
  } catch (const duet::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
