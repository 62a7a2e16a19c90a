// nn::LayerNorm and nn::functional::layer_norm against hand-computed values (the layer_norm
// ops are checked against float64 references in test_ops_table and by finite differences in
// test_gradcheck): PyTorch's parameters and state-dict names, the affine gradients as their
// sums, and a small pre-norm residual model trained compiled with eager mode's bits.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

#include "autograd/autograd.h"
#include "core/generator.h"
#include "graph/graph.h"
#include "nn/nn.h"
#include "optim/optim.h"
#include "tests/test_support.h"

using namespace duet;
namespace F = duet::nn::functional;

TEST_CASE("LayerNorm: hand-computed rows, parameters and the affine gradients") {
  nn::LayerNorm ln({4});
  CHECK(ln.extra_repr() == "[4], eps=1e-05, elementwise_affine=true, bias=true");
  auto sd = ln.state_dict();
  CHECK(sd.size() == 2);
  CHECK(sd.contains("weight"));
  CHECK(sd.contains("bias"));
  // Row [1, 2, 3, 4]: mean 2.5, biased variance 1.25. Row [5, 5, 5, 5]: all zeros.
  Tensor x = tensor(std::vector<double>{1, 2, 3, 4, 5, 5, 5, 5}, {2, 4}).to(DType::Float64).requires_grad_();
  ln.to(DType::Float64);
  Tensor y = ln.forward(x);
  const double rstd = 1 / std::sqrt(1.25 + 1e-5);
  const std::vector<double> want{-1.5 * rstd, -0.5 * rstd, 0.5 * rstd, 1.5 * rstd, 0, 0, 0, 0};
  auto got = y.to_vector<double>();
  for (size_t i = 0; i < want.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-14));
  // d(sum(y * c))/d weight = sum over rows of c * xhat; / d bias = sum of c.
  Tensor c = tensor(std::vector<double>{1, -1, 2, 0.5, 3, 3, 3, 3}, {2, 4}).to(DType::Float64);
  (y * c).sum().backward();
  auto gw = ln.weight.grad().to_vector<double>(), gb = ln.bias.grad().to_vector<double>();
  for (int i = 0; i < 4; ++i) {
    CHECK(gw[size_t(i)] == doctest::Approx(want[size_t(i)] * c.to_vector<double>()[size_t(i)]).epsilon(1e-14));
    CHECK(gb[size_t(i)] == doctest::Approx(c.to_vector<double>()[size_t(i)] + 3).epsilon(1e-14));
  }
  // Rows over two dims, and no affine parameters.
  nn::LayerNorm plain({2, 2}, {.elementwise_affine = false});
  CHECK(plain.parameters().empty());
  Tensor z = plain.forward(x.detach().reshape({2, 2, 2}));
  CHECK(z.sizes() == Shape{2, 2, 2});
  CHECK(z.to_vector<double>()[0] == doctest::Approx(want[0]).epsilon(1e-14));
}

TEST_CASE("a pre-norm residual model with LayerNorm trains compiled with eager's bits") {
  auto run = [](bool compiled_mode) {
    manual_seed(7);
    nn::Linear proj(16, 16), head(16, 5);
    nn::LayerNorm ln1({16}), ln2({16});
    std::vector<Tensor> params;
    for (nn::Module* m : std::initializer_list<nn::Module*>{&proj, &head, &ln1, &ln2})
      for (const Tensor& p : m->parameters()) params.push_back(p);
    optim::Adam opt(params, 1e-2);
    Tensor x = randn({8, 16}), y = randint(0, 5, {8});
    auto step = [&](const std::vector<Tensor>& in) {
      opt.zero_grad();
      Tensor h = in[0] + gelu(proj.forward(ln1.forward(in[0])));
      Tensor loss = F::cross_entropy(head.forward(ln2.forward(h)), in[1]);
      loss.backward();
      opt.step();
      return std::vector<Tensor>{loss.detach()};
    };
    auto compiled = graph::compile(step);
    std::vector<double> values;
    for (int i = 0; i < 6; ++i) values.push_back((compiled_mode ? compiled({x, y}) : step({x, y}))[0].item<double>());
    for (const Tensor& p : params) duet::testing::append_values(values, p);
    return values;
  };
  const std::vector<double> eager = duet::testing::check_compiled_matches_eager(run);
  CHECK(eager[5] < eager[0]);  // it learns
}
