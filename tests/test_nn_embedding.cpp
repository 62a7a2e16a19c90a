// nn::Embedding and nn::functional::embedding: rows looked up for indices of any shape,
// the gradient of repeated indices accumulated (exactly, in index order: the same bits on
// any thread count), clear errors for bad indices, a weight tied to an output head whose
// gradient sums both uses, and a small token model trained compiled with eager's bits.
#include <doctest/doctest.h>

#include <cstring>

#include "autograd/autograd.h"
#include "core/generator.h"
#include "graph/graph.h"
#include "nn/nn.h"
#include "optim/optim.h"
#include "tests/test_support.h"

using namespace duet;
namespace F = duet::nn::functional;
using duet::testing::ThreadCount;

TEST_CASE("Embedding: rows for indices of any shape; repeated indices accumulate their gradients") {
  manual_seed(3);
  nn::Embedding emb(5, 3);
  CHECK(emb.extra_repr() == "5, 3");
  CHECK(emb.state_dict().contains("weight"));
  const Tensor idx = tensor(std::vector<double>{4, 0, 4, 2, 4, 0}, {2, 3}).to(DType::Int64);
  const Tensor e = emb.forward(idx);
  REQUIRE(e.sizes() == Shape{2, 3, 3});
  const auto w = emb.weight.to_vector<float>(), got = e.to_vector<float>();
  const int64_t rows[] = {4, 0, 4, 2, 4, 0};
  for (int p = 0; p < 6; ++p)
    for (int d = 0; d < 3; ++d) CHECK(got[size_t(p * 3 + d)] == w[size_t(rows[p] * 3 + d)]);
  // d sum(e * c) / d weight[v] = sum of c over the positions holding v (small integers: exact).
  auto grad_with_threads = [&](int threads) {
    ThreadCount tc(threads);
    emb.zero_grad();
    const Tensor c = arange(0, 18, 1, DType::Float32).reshape({2, 3, 3});
    (emb.forward(idx) * c).sum().backward();
    return emb.weight.grad().to_vector<float>();
  };
  const auto g = grad_with_threads(2);
  const std::vector<float> want{3 + 15, 4 + 16, 5 + 17, 0, 0, 0, 9, 10, 11, 0, 0, 0, 0 + 6 + 12, 1 + 7 + 13, 2 + 8 + 14};
  CHECK(g == want);
  CHECK(grad_with_threads(1) == g);
  // int32 indices too, and an empty index tensor.
  CHECK(emb.forward(idx.to(DType::Int32)).to_vector<float>() == got);
  CHECK(emb.forward(zeros({0, 2}, DType::Int64)).sizes() == Shape{0, 2, 3});
}

TEST_CASE("embedding: bad indices and weights are clear errors") {
  nn::Embedding emb(5, 3);
  EXPECT_ERROR(emb.forward(tensor(std::vector<double>{1, 5}, {2}).to(DType::Int64)), "index 5 is out of range",
               "size 5");
  EXPECT_ERROR(emb.forward(tensor(std::vector<double>{-1}, {1}).to(DType::Int64)), "index -1 is out of range");
  EXPECT_ERROR(emb.forward(zeros({2}, DType::Float32)), "embedding", "int64 or int32 indices", "float32[2]");
  EXPECT_ERROR(F::embedding(zeros({2}, DType::Int64), zeros({5})), "embedding", "2-D weight", "float32[5]");
  EXPECT_ERROR(nn::Embedding(0, 3), "Embedding", "must be positive");
}

TEST_CASE("a weight tied to the output head gets the sum of both uses' gradients") {
  manual_seed(4);
  nn::Embedding tok(7, 4);
  const Tensor idx = tensor(std::vector<double>{1, 3, 3, 6}, {4}).to(DType::Int64);
  auto loss_of = [&](const Tensor& in_w, const Tensor& out_w) {
    const Tensor h = tanh(F::embedding(idx, in_w));
    return F::cross_entropy(matmul(h, out_w.t()), tensor(std::vector<double>{0, 1, 2, 3}, {4}).to(DType::Int64));
  };
  loss_of(tok.weight, tok.weight).backward();
  const Tensor tied = tok.weight.grad().clone();
  // The same two uses through two separate leaves with the tied values.
  Tensor a = tok.weight.detach().clone().requires_grad_(), b = tok.weight.detach().clone().requires_grad_();
  loss_of(a, b).backward();
  const auto want = (a.grad() + b.grad()).to_vector<float>(), got = tied.to_vector<float>();
  REQUIRE(want.size() == got.size());
  for (size_t i = 0; i < want.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-6));
}

TEST_CASE("a tied token model with layer norm trains compiled with eager's bits") {
  auto run = [](bool compiled_mode) {
    manual_seed(9);
    nn::Embedding tok(11, 8), pos(6, 8);
    nn::LayerNorm ln({8});
    nn::Linear mix(8, 8);
    std::vector<Tensor> params{tok.weight, pos.weight, ln.weight, ln.bias, mix.weight, mix.bias};
    optim::Adam opt(params, 1e-2);
    const Tensor x = randint(0, 11, {3, 6}), y = randint(0, 11, {3, 6}), t = arange(0, 6, 1, DType::Int64);
    auto step = [&](const std::vector<Tensor>& in) {
      opt.zero_grad();
      Tensor h = tok.forward(in[0]) + pos.forward(in[2]);
      h = h + gelu(mix.forward(ln.forward(h)), "tanh");
      Tensor logits = matmul(h, tok.weight.t());  // the head shares the token table
      Tensor loss = F::cross_entropy(logits.reshape({-1, 11}), in[1].reshape({-1}));
      loss.backward();
      opt.step();
      return std::vector<Tensor>{loss.detach()};
    };
    auto compiled = graph::compile(step);
    std::vector<double> values;
    for (int i = 0; i < 6; ++i)
      values.push_back((compiled_mode ? compiled({x, y, t}) : step({x, y, t}))[0].item<double>());
    for (const Tensor& p : params) duet::testing::append_values(values, p);
    return values;
  };
  const std::vector<double> eager = duet::testing::check_compiled_matches_eager(run);
  CHECK(eager[5] < eager[0]);
}
