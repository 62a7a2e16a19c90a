// char-gpt (shared/WORKLOADS.md): nanoGPT's CPU "baby GPT" trained on the text of Debian's
// fortunes package, a character-level language model. What the char_gpt program's two
// commands share with the workload's training loop: the recipe's constants, the corpus
// (from --data and --limit), the model, and the loop itself.
//
//   data::CharCorpus text = char_gpt::corpus(config);
//   std::shared_ptr<nn::GPT> gpt = char_gpt::model(text.vocab_size());
#pragma once

#include <cstdint>
#include <memory>

#include "data/char_corpus.h"
#include "examples/common/train_config.h"
#include "examples/common/train_result.h"
#include "examples/common/workload.h"
#include "nn/models/gpt.h"

namespace duet::workloads::char_gpt {

// The recipe.
inline constexpr int64_t kBlockSize = 64, kLayers = 4, kHeads = 4, kWidth = 128;
inline constexpr int64_t kWarmupIters = 100;
inline constexpr double kBeta2 = 0.99, kWeightDecay = 0.1, kClipNorm = 1.0;
inline constexpr double kMinLrFraction = 0.1;  // cosine to lr / 10 (1e-4 at lr 1e-3)
inline constexpr int64_t kEvalEvery = 250, kEvalBatches = 200;
inline constexpr double kSampleTemperature = 0.8;
inline constexpr int64_t kSampleTopK = 40, kSampleTokens = 500;

// The text: the fortune files when --data is Fashion-MNIST's default folder (the common
// flag's default), else the file --data names or every regular file in the folder it
// names, sorted; --limit >= 0 keeps only the first N bytes.
data::CharCorpus corpus(const TrainConfig& config);

// The recipe's GPT for a vocabulary, built on the CPU from the current seed.
std::shared_ptr<nn::GPT> model(int64_t vocab_size);

// The workload's training loop (what run_workload runs for char-gpt), which also hands
// back the trained model (on config.device) and its corpus; config.max_steps == 0 builds
// the model from the seed and trains nothing.
struct Trained {
  TrainResult result;
  std::shared_ptr<nn::GPT> model;
  std::shared_ptr<data::CharCorpus> text;
};
Trained train(const WorkloadSpec& spec, const TrainConfig& config, const StepCallback& on_step = {});

}  // namespace duet::workloads::char_gpt
