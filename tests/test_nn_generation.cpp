// Sampling and decoding (core multinomial, nn/generation.h): multinomial's distribution
// (a chi-square test against the weights), no repeats without replacement, zero weights
// never drawn, reproducibility from the seed, its errors; temperature and top-k; the
// key/value-cached decode step against the full forward pass; and the cached decoder
// compiled once (the position a runtime input) giving eager's tokens.
#include <doctest/doctest.h>

#include <cmath>
#include <set>
#include <vector>

#include "core/functions.h"
#include "core/generator.h"
#include "graph/graph.h"
#include "nn/generation.h"
#include "nn/models/gpt.h"
#include "tests/test_support.h"

using namespace duet;

namespace {

// Counts of each category among `draws` (int64, any shape).
std::vector<int64_t> counts(const Tensor& draws, int64_t categories) {
  std::vector<int64_t> c(static_cast<size_t>(categories), 0);
  for (int64_t v : draws.contiguous().to_vector<int64_t>()) c.at(size_t(v)) += 1;
  return c;
}

// Pearson's chi-square statistic of `observed` against weights `w`.
double chi_square(const std::vector<int64_t>& observed, const std::vector<double>& w) {
  double total = 0, n = 0, stat = 0;
  for (double x : w) total += x;
  for (int64_t o : observed) n += double(o);
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i] == 0) continue;
    const double expected = n * w[i] / total;
    stat += (double(observed[i]) - expected) * (double(observed[i]) - expected) / expected;
  }
  return stat;
}

}  // namespace

TEST_CASE("multinomial: draws in proportion to the weights, reproducibly") {
  const std::vector<double> w{0.5, 2.0, 0.0, 1.0, 4.5};
  manual_seed(11);
  // 20,000 draws with replacement from one row: chi-square with 3 degrees of freedom
  // (the zero weight takes no part) stays below 16.3 (p = 0.001).
  const Tensor draws = multinomial(tensor(w, {5}).to(DType::Float32), 20000, /*replacement=*/true);
  CHECK(draws.sizes() == Shape{20000});
  CHECK(draws.dtype() == DType::Int64);
  const std::vector<int64_t> c = counts(draws, 5);
  CHECK(c[2] == 0);
  CHECK(chi_square(c, w) < 16.3);
  // Rows drawn independently, and again for a seed.
  manual_seed(12);
  const Tensor rows = multinomial(tensor(w, {5}).reshape({1, 5}).expand({4000, 5}), 1);
  CHECK(rows.sizes() == Shape{4000, 1});
  CHECK(chi_square(counts(rows, 5), w) < 16.3);
  manual_seed(12);
  CHECK(multinomial(tensor(w, {5}).reshape({1, 5}).expand({4000, 5}), 1).to_vector<int64_t>() ==
        rows.to_vector<int64_t>());
}

TEST_CASE("multinomial: without replacement, distinct categories and never a zero weight") {
  manual_seed(13);
  const Tensor w = tensor(std::vector<double>{1, 0, 3, 2, 0, 5, 1, 1}, {1, 8}).expand({300, 8}).contiguous();
  const Tensor draws = multinomial(w, 6);
  REQUIRE(draws.sizes() == Shape{300, 6});
  const std::vector<int64_t> v = draws.to_vector<int64_t>();
  for (size_t row = 0; row < 300; ++row) {
    std::set<int64_t> seen(v.begin() + long(row * 6), v.begin() + long(row * 6 + 6));
    CHECK(seen.size() == 6);
    CHECK(seen.count(1) == 0);
    CHECK(seen.count(4) == 0);
  }
  // The first draw of each row follows the weights.
  const Tensor first = draws.narrow(1, 0, 1);
  CHECK(chi_square(counts(first, 8), {1, 0, 3, 2, 0, 5, 1, 1}) < 22.5);  // 5 degrees of freedom, p = 0.0004
}

TEST_CASE("multinomial: clear errors") {
  const Tensor w = tensor(std::vector<float>{1, 2, 0});
  EXPECT_ERROR(multinomial(w, 3), "multinomial", "without replacement", "only 2 non-zero weights");
  EXPECT_ERROR(multinomial(w, 4), "multinomial", "4 samples without replacement from 3 categories");
  EXPECT_ERROR(multinomial(tensor(std::vector<float>{1, -2, 0}), 1), "multinomial", "non-negative", "-2");
  EXPECT_ERROR(multinomial(zeros({2, 3}), 1), "multinomial", "sums to zero");
  EXPECT_ERROR(multinomial(full({3}, INFINITY), 1), "multinomial", "finite");
  EXPECT_ERROR(multinomial(ones({2, 2, 2}), 1), "multinomial", "1 or 2 dimensions", "[2, 2, 2]");
  EXPECT_ERROR(multinomial(ones({3}, DType::Int64), 1), "multinomial", "floating-point", "int64");
  EXPECT_ERROR(multinomial(w, 0), "multinomial", "num_samples must be positive");
}

TEST_CASE("sample_next_token: top-k keeps the k most likely, a low temperature picks the largest") {
  manual_seed(14);
  const Tensor logits = tensor(std::vector<float>{0.0f, 3.0f, 1.0f, 2.5f, -1.0f}, {1, 5}).expand({500, 5}).contiguous();
  const std::vector<int64_t> c = counts(nn::sample_next_token(logits, {.temperature = 1.0, .top_k = 2}), 5);
  CHECK(c[0] + c[2] + c[4] == 0);
  CHECK(c[1] > c[3]);
  CHECK(c[3] > 0);
  const std::vector<int64_t> cold = counts(nn::sample_next_token(logits, {.temperature = 1e-3, .top_k = 0}), 5);
  CHECK(cold[1] == 500);
  EXPECT_ERROR(nn::sample_next_token(logits, {.temperature = 0}), "sample_next_token", "temperature must be > 0");
}

TEST_CASE("GPT decode_step: the cached logits are the full forward pass's, position by position") {
  manual_seed(15);
  nn::GPT gpt({.vocab_size = 11, .block_size = 8, .n_layer = 2, .n_head = 2, .n_embd = 16});
  gpt.eval();
  const Tensor idx = randint(0, 11, {2, 8});
  const Tensor full_logits = gpt.forward(idx);  // [2, 8, 11]
  nn::KVCache cache = gpt.make_kv_cache(2, Device::cpu());
  for (int64_t t = 0; t < 8; ++t) {
    const Tensor step = gpt.decode_step(idx.narrow(1, t, 1), full({}, double(t), DType::Int64), cache);
    const Tensor want = full_logits.narrow(1, t, 1).reshape({2, 11});
    CHECK_MESSAGE(amax(abs(step - want)).item<float>() < 1e-5f, "position ", t);
  }
  EXPECT_ERROR(gpt.decode_step(idx.narrow(1, 0, 2), full({}, 0.0, DType::Int64), cache), "GPT", "[B, 1]");
}

TEST_CASE("CachedDecoder: one compiled step for every position gives eager's tokens; the window refills") {
  manual_seed(16);
  nn::GPT gpt({.vocab_size = 13, .block_size = 8, .n_layer = 2, .n_head = 2, .n_embd = 16});
  const Tensor prompt = randint(0, 13, {2, 3});
  const nn::SamplingOptions s{.temperature = 0.9, .top_k = 5};
  auto run = [&](bool compiled) {
    manual_seed(17);
    nn::CachedDecoder decoder(gpt, {.batch = 2, .sampling = s, .compiled = compiled});
    const Tensor ids = decoder.generate(prompt, 20);  // past the 8-slot window twice
    CHECK(ids.sizes() == Shape{2, 23});
    CHECK(decoder.captures() == (compiled ? 1 : 0));
    // 3 prompt steps, then 19 new-token steps and the refills' 3 steps each time the
    // cache fills: at 8 positions, and again 4 positions later...
    CHECK(decoder.steps() > 22);
    return ids.to_vector<int64_t>();
  };
  const std::vector<int64_t> eager = run(false), compiled = run(true);
  CHECK(eager == compiled);
  CHECK(std::vector<int64_t>(eager.begin(), eager.begin() + 3) == prompt.narrow(0, 0, 1).reshape({3}).to_vector<int64_t>());
  CHECK(gpt.is_training());  // left as it was
}

TEST_CASE("generate: nanoGPT's uncached loop appends tokens from the last block_size positions") {
  manual_seed(18);
  nn::GPT gpt({.vocab_size = 7, .block_size = 4, .n_layer = 1, .n_head = 1, .n_embd = 8});
  const Tensor ids = nn::generate(gpt, randint(0, 7, {1, 2}), 9, {.temperature = 1.0, .top_k = 3});
  CHECK(ids.sizes() == Shape{1, 11});
  CHECK(amax(ids).item<int64_t>() < 7);
  EXPECT_ERROR(nn::generate(gpt, zeros({1, 2}), 1, {}), "generate", "int64 [B, T0]");
}
