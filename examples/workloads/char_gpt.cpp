// char-gpt's workload and training loop (char_gpt.h): random blocks of the corpus, the
// recipe's GPT, AdamW with decay on matrices only, nanoGPT's warmup + cosine schedule,
// global-norm clipping; the step (forward, backward, clipping, AdamW) written once and run
// eagerly or compiled once, the learning rate reaching the compiled step as a runtime value.
// Every eval interval the mean loss over the recipe's number of random batches of each
// split (run eagerly in both modes, without gradients, from the same generator state, so
// the two modes see the same batches everywhere).
#include "examples/workloads/char_gpt.h"

#include <algorithm>
#include <filesystem>

#include "autograd/autograd.h"
#include "core/dispatch.h"
#include "core/error.h"
#include "core/generator.h"
#include "core/parallel.h"
#include "data/fashion_mnist.h"
#include "examples/common/metrics.h"
#include "examples/common/train_config.h"
#include "examples/common/train_loop.h"
#include "examples/common/workload.h"
#include "graph/compile.h"
#include "nn/nn.h"
#include "optim/optim.h"

namespace duet::workloads {
namespace char_gpt {

data::CharCorpus corpus(const TrainConfig& config) {
  if (config.data_dir == data::kFashionMnistDefaultDir)
    return data::CharCorpus::from_files(data::CharCorpus::fortune_files(), config.limit);
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  if (fs::is_directory(config.data_dir)) {
    for (const auto& entry : fs::directory_iterator(config.data_dir))
      if (entry.is_regular_file()) files.push_back(entry.path().string());
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(config.data_dir);
  }
  DUET_CHECK(!files.empty(), "char-gpt: --data ", config.data_dir, " holds no text files");
  return data::CharCorpus::from_files(files, config.limit);
}

std::shared_ptr<nn::GPT> model(int64_t vocab_size) {
  return std::make_shared<nn::GPT>(
      nn::GPTConfig{.vocab_size = vocab_size, .block_size = kBlockSize, .n_layer = kLayers, .n_head = kHeads, .n_embd = kWidth});
}

namespace {

// The recipe's parameter groups: weight decay on the Linear layers' matrices; none on
// biases, layer norms and the embeddings (the token table is also the tied output head).
std::vector<optim::ParamGroup> param_groups(nn::GPT& gpt) {
  optim::ParamGroup decay{{}, kWeightDecay}, no_decay{{}, 0.0};
  for (const auto& [name, p] : gpt.named_parameters()) {
    const bool embedding = name.find(".wte.") != std::string::npos || name.find(".wpe.") != std::string::npos;
    (p.dim() >= 2 && !embedding ? decay : no_decay).params.push_back(p);
  }
  return {decay, no_decay};
}

double mean_loss(nn::GPT& gpt, const data::CharCorpus& text, data::CharCorpus::Split split, int64_t batch,
                 int64_t batches, const Device& dev) {
  NoGradGuard no_grad;
  double total = 0;
  for (int64_t i = 0; i < batches; ++i) {
    auto [x, y] = text.batch(split, batch, kBlockSize);
    const Tensor logits = gpt.forward(x.to(dev));
    total += nn::functional::cross_entropy(logits.reshape({-1, logits.size(2)}), y.to(dev).reshape({-1})).item<double>();
  }
  return total / double(batches);
}

}  // namespace

Trained train(const WorkloadSpec& spec, const TrainConfig& config, const StepCallback& on_step) {
  check_config(config, spec.name);
  DUET_CHECK(config.epochs == 1, spec.name, ": the recipe counts iterations (--steps), not epochs: --epochs must be ",
             "1, got ", config.epochs);
  if (config.threads > 0) set_num_threads(config.threads);
  Trained trained;
  TrainResult& r = trained.result;
  r.workload = spec.name;
  r.config = config;
  r.threads = get_num_threads();
  const int64_t steps = config.max_steps;
  const int64_t eval_every = config.eval_every > 0 ? config.eval_every : kEvalEvery;
  const int64_t eval_batches = config.eval_batches > 0 ? config.eval_batches : kEvalBatches;

  trained.text = std::make_shared<data::CharCorpus>(corpus(config));
  const data::CharCorpus& text = *trained.text;
  const Device dev = Device::parse(config.device);
  manual_seed(config.seed);
  std::shared_ptr<nn::GPT> gpt = trained.model = model(text.vocab_size());
  gpt->to(dev);
  const std::vector<Tensor> params = gpt->parameters();
  optim::AdamW opt(param_groups(*gpt), config.lr, {.beta1 = 0.9, .beta2 = kBeta2, .weight_decay = kWeightDecay});
  optim::WarmupCosineLR schedule(opt, std::min(kWarmupIters, steps / 2), std::max<int64_t>(steps, 1),
                                 config.lr * kMinLrFraction);

  // The training step, written once; graph mode compiles the very same function.
  auto train_step = [&](const std::vector<Tensor>& in) {
    opt.zero_grad();
    const Tensor logits = gpt->forward(in[0]);
    Tensor loss = nn::functional::cross_entropy(logits.reshape({-1, logits.size(2)}), in[1].reshape({-1}));
    loss.backward();
    optim::clip_grad_norm_(params, kClipNorm);
    opt.step();
    return std::vector<Tensor>{loss.detach()};
  };
  graph::CompiledFunction compiled = graph::compile(train_step, compile_options(config));
  const bool graph_mode = config.mode == "graph";

  const int64_t baseline_bytes = memory_stats(dev).current_bytes;  // as the classification loop
  int64_t launches_from = 0, tokens = 0;
  double train_ms = 0, curve_loss = 0;
  // Peak bytes and allocations of the training steps only (evaluation runs eagerly in both
  // modes): the counters are read before each evaluation and reset after it.
  int64_t peak_bytes = 0, allocations = 0;
  const auto train_start = Clock::now();
  for (int64_t step = 0; step < steps; ++step) {
    auto [x, y] = text.batch(data::CharCorpus::Split::Train, config.batch, kBlockSize);
    const auto t0 = Clock::now();
    const std::vector<Tensor> in{x.to(dev), y.to(dev)};
    const double loss = (graph_mode ? compiled(in) : train_step(in))[0].item<double>();
    schedule.step();
    const double ms = ms_since(t0);
    if (step + 1 == 2) {
      reset_peak_memory(dev);
      launches_from = kernel_launches();
    }
    train_ms += ms;
    tokens += config.batch * kBlockSize;
    r.step_ms.push_back(ms);
    r.step_losses.push_back(loss);
    curve_loss += loss;
    if ((step + 1) % TrainResult::kLossCurveEvery == 0) {
      r.loss_curve.emplace_back(ms_since(train_start) / 1e3, curve_loss / TrainResult::kLossCurveEvery);
      curve_loss = 0;
    }
    if (on_step) on_step(0, step + 1, steps, loss, double(tokens / kBlockSize) / (train_ms / 1e3));
    if ((step + 1) % eval_every == 0 || step + 1 == steps) {
      if (step + 1 >= 2) {
        const MemoryStats before = memory_stats(dev);
        peak_bytes = std::max(peak_bytes, before.peak_bytes);
        allocations += before.allocations;
      }
      gpt->eval();
      const double train_loss = mean_loss(*gpt, text, data::CharCorpus::Split::Train, config.batch, eval_batches, dev);
      const double val_loss = mean_loss(*gpt, text, data::CharCorpus::Split::Validation, config.batch, eval_batches, dev);
      gpt->train();
      r.evaluations.push_back({step + 1, train_loss, val_loss});
      std::printf("step %lld: train loss %.4f, val loss %.4f\n", (long long)(step + 1), train_loss, val_loss);
      if (step + 1 >= 2) reset_peak_memory(dev);
    }
  }
  if (steps > 2) r.kernel_launches_per_step = double(kernel_launches() - launches_from) / double(steps - 2);
  // The last step evaluated, so the counters hold the training steps' figures.
  r.peak_allocator_bytes = peak_bytes - baseline_bytes;
  r.allocations = allocations;
  r.epoch_seconds.push_back(ms_since(train_start) / 1e3);
  if (train_ms > 0) {
    r.samples_per_second = double(tokens / kBlockSize) / (train_ms / 1e3);
    r.tokens_per_second = double(tokens) / (train_ms / 1e3);
  }
  r.step_ms_median = percentile(r.step_ms, 0.5);
  r.step_ms_p90 = percentile(r.step_ms, 0.9);
  if (!r.evaluations.empty()) {
    r.final_train_loss = r.evaluations.back().train_loss;
    r.val_loss = r.evaluations.back().val_loss;
  }
  if (graph_mode) record_compile(r, compiled);
  r.peak_rss_bytes = peak_rss_bytes();
  return trained;
}

namespace {

TrainResult run(const WorkloadSpec& spec, const TrainConfig& config, const StepCallback& on_step) {
  DUET_CHECK(config.max_steps > 0, spec.name, ": the recipe counts iterations: --steps must be > 0, got ",
             config.max_steps);
  return train(spec, config, on_step).result;
}

}  // namespace
}  // namespace char_gpt

WorkloadSpec make_char_gpt() {
  return {.name = "char-gpt",
          .summary = "a 4-layer GPT on the fortunes text, AdamW, warmup + cosine LR, clipping",
          .defaults = {.epochs = 1, .batch = 12, .lr = 1e-3, .steps = 2000},
          .run = char_gpt::run};
}

}  // namespace duet::workloads
