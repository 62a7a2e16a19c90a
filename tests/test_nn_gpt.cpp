// nn::GPT (nn/models/gpt.h): nanoGPT's parameter names and count, its initialisation
// (residual projections scaled by 1 / sqrt(2 n_layer)), the tied head (one parameter, its
// gradient summing both uses), causality of the logits, and a few Adam steps compiled with
// eager's bits on a small configuration.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <optional>

#include "autograd/autograd.h"
#include "core/generator.h"
#include "graph/graph.h"
#include "nn/models/gpt.h"
#include "nn/nn.h"
#include "optim/optim.h"
#include "tests/test_support.h"

using namespace duet;
namespace F = duet::nn::functional;

namespace {

double std_of(const Tensor& t) { return t.detach().reshape({-1}).std({}, false, 0).item<double>(); }

}  // namespace

TEST_CASE("GPT: nanoGPT's names, parameter count and initialisation") {
  manual_seed(1);
  nn::GPT one({.vocab_size = 11, .block_size = 8, .n_layer = 1, .n_head = 2, .n_embd = 8});
  const std::vector<std::string> want{
      "transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.ln_1.weight",
      "transformer.h.0.ln_1.bias", "transformer.h.0.attn.c_attn.weight", "transformer.h.0.attn.c_attn.bias",
      "transformer.h.0.attn.c_proj.weight", "transformer.h.0.attn.c_proj.bias", "transformer.h.0.ln_2.weight",
      "transformer.h.0.ln_2.bias", "transformer.h.0.mlp.c_fc.weight", "transformer.h.0.mlp.c_fc.bias",
      "transformer.h.0.mlp.c_proj.weight", "transformer.h.0.mlp.c_proj.bias", "transformer.ln_f.weight",
      "transformer.ln_f.bias"};
  CHECK(one.state_dict().keys() == want);
  // The recipe's model (vocabulary of the fortunes corpus): V C + T C + L (12 C^2 + 13 C) + 2 C.
  manual_seed(2);
  nn::GPT gpt({.vocab_size = 114, .block_size = 64, .n_layer = 4, .n_head = 4, .n_embd = 128});
  int64_t count = 0;
  for (const Tensor& p : gpt.parameters()) count += p.numel();
  CHECK(count == 114 * 128 + 64 * 128 + 4 * (12 * 128 * 128 + 13 * 128) + 2 * 128);
  auto& b0 = static_cast<nn::GPTBlock&>(*gpt.h->children()[0]);
  CHECK(std_of(gpt.wte->weight) == doctest::Approx(0.02).epsilon(0.05));
  CHECK(std_of(b0.attn->c_attn->weight) == doctest::Approx(0.02).epsilon(0.05));
  CHECK(std_of(b0.mlp_proj->weight) == doctest::Approx(0.02 / std::sqrt(8.0)).epsilon(0.05));
  CHECK(abs(b0.attn->c_proj->bias).sum().item<double>() == 0.0);
  EXPECT_ERROR(gpt.forward(zeros({2, 65}, DType::Int64)), "GPT", "T <= block_size 64", "int64[2, 65]");
}

TEST_CASE("GPT: causal logits, and the tied head's gradient through one parameter") {
  manual_seed(3);
  nn::GPT gpt({.vocab_size = 13, .block_size = 8, .n_layer = 2, .n_head = 2, .n_embd = 16});
  const Tensor idx = randint(0, 13, {2, 8});
  const Tensor logits = gpt.forward(idx);
  CHECK(logits.sizes() == Shape{2, 8, 13});
  Tensor later = idx.clone();
  later.narrow(1, 5, 3).fill_(0.0);
  const auto a = gpt.forward(later).narrow(1, 0, 5).contiguous().to_vector<float>();
  CHECK(a == logits.narrow(1, 0, 5).contiguous().to_vector<float>());
  // The token table appears once among the parameters and gets the head's gradient too.
  int tables = 0;
  for (const Tensor& p : gpt.parameters()) tables += p.storage() == gpt.wte->weight.storage();
  CHECK(tables == 1);
  F::cross_entropy(logits.reshape({-1, 13}), idx.reshape({-1})).backward();
  const Tensor g = gpt.wte->weight.grad();
  REQUIRE(g.defined());
  // Row 12 is a token the input may lack, but every row is a column of the head.
  CHECK(abs(g).sum({1}).amin().item<float>() > 0.0f);
}

TEST_CASE("GPT: AdamW steps with global-norm clipping and a per-step LR compile once, with eager's bits") {
  int captures = 0, epilogues = 0;
  // `warmup` > 0: nanoGPT's schedule changes the rate before every step (outside the
  // step function, as a training loop does); 0: a constant rate.
  auto train = [&](bool compiled_mode, int64_t warmup) {
    manual_seed(4);
    nn::GPT gpt({.vocab_size = 9, .block_size = 6, .n_layer = 2, .n_head = 2, .n_embd = 8});
    optim::AdamW opt(gpt.parameters(), 3e-3, {.weight_decay = 0.1});
    std::optional<optim::WarmupCosineLR> schedule;
    if (warmup > 0) schedule.emplace(opt, warmup, 5, 3e-4);
    const Tensor x = randint(0, 9, {3, 6}), y = randint(0, 9, {3, 6});
    auto step = [&](const std::vector<Tensor>& in) {
      opt.zero_grad();
      Tensor loss = F::cross_entropy(gpt.forward(in[0]).reshape({-1, 9}), in[1].reshape({-1}));
      loss.backward();
      // A small limit, so that steps clip.
      Tensor norm = optim::clip_grad_norm_(gpt.parameters(), 0.5);
      opt.step();
      return std::vector<Tensor>{loss.detach(), norm};
    };
    auto compiled = graph::compile(step);
    std::vector<double> values;
    for (int i = 0; i < 5; ++i) {
      const std::vector<Tensor> out = compiled_mode ? compiled({x, y}) : step({x, y});
      values.push_back(out[0].item<double>());
      values.push_back(out[1].item<double>());
      if (schedule) schedule->step();
    }
    for (const Tensor& p : gpt.parameters()) duet::testing::append_values(values, p);
    if (compiled_mode) {
      captures = compiled.captures();
      epilogues = compiled.report().matmul_epilogues;
    }
    return values;
  };
  auto run = [&](bool compiled_mode) { return train(compiled_mode, 2); };
  const std::vector<double> eager = duet::testing::check_compiled_matches_eager(run);
  CHECK(captures == 1);  // five rates, one capture
  // Each block's four Linear layers take their bias in the GEMM (gelu's backward reads
  // its input, so in training the GELU stays a kernel of its own).
  CHECK(epilogues == 8);
  // The compiled step read each new rate when it ran: with a constant rate the same steps
  // end elsewhere (the first step's rate differs, so every later value does).
  const std::vector<double> constant = train(true, 0);
  REQUIRE(constant.size() == eager.size());
  CHECK(constant[2] != eager[2]);  // the second step's loss
  CHECK(constant.back() != eager.back());
  CHECK(eager[8] < eager[0]);  // the loss falls
  int clipped = 0;  // steps whose gradient norm was over the limit
  for (int i = 0; i < 5; ++i) clipped += eager[size_t(2 * i + 1)] > 0.5;
  CHECK(clipped > 0);
}

TEST_CASE("GPT: the compiled inference forward fuses Linear + bias (+ GELU) and gives eager's logits bit for bit") {
  manual_seed(5);
  nn::GPT gpt({.vocab_size = 11, .block_size = 8, .n_layer = 2, .n_head = 2, .n_embd = 16});
  gpt.eval();
  NoGradGuard no_grad;
  const Tensor x = randint(0, 11, {3, 8});
  auto forward = [&](const std::vector<Tensor>& in) { return std::vector<Tensor>{gpt.forward(in[0])}; };
  const std::vector<float> want = forward({x})[0].to_vector<float>();
  auto compiled = graph::compile(forward, {.warmup_calls = 0});
  const std::vector<float> got = compiled({x})[0].to_vector<float>();
  REQUIRE(got.size() == want.size());
  CHECK(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0);
  // Four Linear layers per block, the MLP's first with its GELU.
  const graph::CompileReport& r = compiled.report();
  INFO(r.str());
  CHECK(r.matmul_epilogues == 8);
  int gelu_epilogues = 0;
  for (const graph::Node& n : compiled.executable()->graph().nodes)
    gelu_epilogues += n.kind == graph::NodeKind::Fused && n.name == "matmul+bias+gelu";
  CHECK(gelu_epilogues == 2);
}

TEST_CASE("GPT: recomputing GELU and layer-norm outputs for the backward pass keeps eager's bits in less memory") {
  auto train = [&](bool compiled_mode, bool recompute, int64_t* arena, int* recomputed) {
    manual_seed(6);
    nn::GPT gpt({.vocab_size = 9, .block_size = 16, .n_layer = 3, .n_head = 2, .n_embd = 32});
    optim::AdamW opt(gpt.parameters(), 3e-3, {.weight_decay = 0.1});
    const Tensor x = randint(0, 9, {4, 16}), y = randint(0, 9, {4, 16});
    auto step = [&](const std::vector<Tensor>& in) {
      opt.zero_grad();
      Tensor loss = F::cross_entropy(gpt.forward(in[0]).reshape({-1, 9}), in[1].reshape({-1}));
      loss.backward();
      opt.step();
      return std::vector<Tensor>{loss.detach()};
    };
    graph::CompileOptions options;
    options.recompute_activations = recompute;
    auto compiled = graph::compile(step, options);
    std::vector<double> values;
    for (int i = 0; i < 3; ++i) values.push_back((compiled_mode ? compiled({x, y}) : step({x, y}))[0].item<double>());
    for (const Tensor& p : gpt.parameters()) duet::testing::append_values(values, p);
    if (compiled_mode) {
      *arena = compiled.report().arena_bytes;
      *recomputed = compiled.report().rematerialized;
    }
    return values;
  };
  int64_t arena_held = 0, arena_recomputed = 0;
  int held = 0, recomputed = 0;
  const std::vector<double> eager = train(false, false, nullptr, nullptr);
  const std::vector<double> with = train(true, true, &arena_recomputed, &recomputed);
  const std::vector<double> without = train(true, false, &arena_held, &held);
  REQUIRE(with.size() == eager.size());
  CHECK(std::memcmp(with.data(), eager.data(), eager.size() * sizeof(double)) == 0);
  CHECK(std::memcmp(without.data(), eager.data(), eager.size() * sizeof(double)) == 0);
  CHECK(recomputed > held);
  CHECK(arena_recomputed < arena_held);
}
