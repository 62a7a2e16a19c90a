// nn/ convolution and pooling layers: shapes, PyTorch's initialisation, printing, "same"
// padding against explicit padding, and a small convolutional network trained eagerly
// and compiled (graph mode must give eager's bits step by step).
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/autograd.h"
#include "graph/graph.h"
#include "nn/nn.h"
#include "optim/optim.h"
#include "core/dispatch.h"
#include "tests/reference/reference_conv.h"
#include "tests/reference/reference_ops.h"
#include "tests/test_support.h"

using namespace duet;
namespace F = duet::nn::functional;

namespace {

std::shared_ptr<nn::Sequential> tiny_lenet() {
  using M = std::shared_ptr<nn::Module>;
  return std::make_shared<nn::Sequential>(std::initializer_list<M>{
      std::make_shared<nn::Conv2d>(1, 4, Shape{3}, nn::Conv2dOptions{.padding = {1}}), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::MaxPool2d>(Shape{2}), std::make_shared<nn::Conv2d>(4, 6, Shape{3}),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::AvgPool2d>(Shape{2}, Shape{1}),
      std::make_shared<nn::AdaptiveAvgPool2d>(Shape{2}), std::make_shared<nn::Flatten>(),
      std::make_shared<nn::Linear>(24, 3)});
}

}  // namespace

TEST_CASE("Conv2d: shapes, PyTorch's init bounds, printing") {
  manual_seed(0);
  nn::Conv2d conv(6, 16, {5});
  CHECK(conv.weight.sizes() == Shape{16, 6, 5, 5});
  CHECK(conv.bias.sizes() == Shape{16});
  const double bound = 1.0 / std::sqrt(6.0 * 25);  // kaiming_uniform(a=sqrt(5)) and the bias share it
  CHECK(amax(abs(conv.weight)).item<float>() <= bound + 1e-7);
  CHECK(amax(abs(conv.weight)).item<float>() > 0.9 * bound);
  CHECK(amax(abs(conv.bias)).item<float>() <= bound + 1e-7);
  CHECK(conv.str() == "Conv2d(6, 16, kernel_size=[5, 5], stride=[1, 1], padding=[0, 0])");
  nn::Conv2d dw(8, 8, {3, 1}, {.stride = {2}, .padding_mode = PaddingMode::Valid, .groups = 8, .bias = false});
  CHECK(dw.weight.sizes() == Shape{8, 1, 3, 1});
  CHECK(dw.parameters().size() == 1);
  CHECK(dw.forward(randn({2, 8, 9, 9})).sizes() == Shape{2, 8, 4, 5});
  CHECK(nn::MaxPool2d({3}, {2}, {1}).forward(randn({1, 2, 7, 7})).sizes() == Shape{1, 2, 4, 4});
  CHECK(nn::AdaptiveAvgPool2d({1}).forward(randn({3, 5, 7, 6})).sizes() == Shape{3, 5, 1, 1});
  CHECK_THROWS_WITH_AS(nn::Conv2d(6, 4, {3}, {.groups = 4}), doctest::Contains("divisible by groups"), Error);
}

TEST_CASE("padding \"same\" keeps H and W; an even kernel pads one more at the bottom and right") {
  manual_seed(1);
  Tensor x = randn({2, 3, 6, 5});
  for (int64_t k : {3, 4}) {
    Tensor w = randn({4, 3, k, k});
    Tensor y = conv2d(x, w, {}, {1}, PaddingMode::Same);
    CHECK(y.sizes() == Shape{2, 4, 6, 5});
    // The same by hand: pad (k-1)/2 before and k/2 after, then a "valid" convolution.
    const int64_t before = (k - 1) / 2, after = k / 2;
    Tensor padded = zeros({2, 3, 6 + before + after, 5 + before + after});
    padded.slice(2, before, before + 6).slice(3, before, before + 5).copy_(x);
    Tensor want = conv2d(padded, w);
    CHECK(y.to_vector<float>() == want.to_vector<float>());
  }
  // Dilation 2 with a 3x3 kernel spans 5: symmetric again.
  CHECK(conv2d(x, randn({4, 3, 3, 3}), {}, {1}, PaddingMode::Same, {2}).sizes() == Shape{2, 4, 6, 5});
}

TEST_CASE("a small convolutional network trains, eagerly and compiled, to the same bits") {
  std::vector<float> losses[2];
  std::vector<float> params[2];
  for (int mode = 0; mode < 2; ++mode) {
    manual_seed(7);
    auto net = tiny_lenet();
    optim::Adam opt(net->parameters(), 1e-2);
    Tensor x = randn({8, 1, 10, 10});
    Tensor y = randint(0, 3, {8});
    std::function<std::vector<Tensor>(const std::vector<Tensor>&)> step = [&](const std::vector<Tensor>& in) {
      opt.zero_grad();
      Tensor loss = F::cross_entropy(net->forward(in[0]), in[1]);
      loss.backward();
      opt.step();
      return std::vector<Tensor>{loss.detach()};
    };
    auto compiled = graph::compile(step);
    for (int i = 0; i < 25; ++i) losses[mode].push_back((mode ? compiled({x, y}) : step({x, y}))[0].item<float>());
    for (const Tensor& p : net->parameters())
      for (float v : p.to_vector<float>()) params[mode].push_back(v);
  }
  CHECK(losses[0].back() < 0.7 * losses[0].front());  // it learns
  CHECK(losses[1] == losses[0]);
  CHECK(params[1] == params[0]);
}

TEST_CASE("BatchNorm2d: running statistics as PyTorch keeps them; eval uses them") {
  nn::BatchNorm2d bn(2);
  CHECK(bn.named_buffers().keys() == std::vector<std::string>{"running_mean", "running_var", "num_batches_tracked"});
  // Channel 0 holds 1..8, channel 1 holds 2 * (1..8): mean 4.5 / 9, biased var 5.25 / 21,
  // unbiased (8 values) 6 / 24.
  std::vector<float> v;
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 2; ++c)
      for (int i = 1; i <= 4; ++i) v.push_back(float((c + 1) * (n * 4 + i)));
  Tensor x = tensor<float>(v, {2, 2, 2, 2});
  Tensor y = bn.forward(x);
  const std::vector<float> rm = bn.running_mean.to_vector<float>();
  CHECK(rm[0] == doctest::Approx(0.45).epsilon(1e-6));
  CHECK(rm[1] == doctest::Approx(0.9).epsilon(1e-6));
  const std::vector<float> rv = bn.running_var.to_vector<float>();
  CHECK(rv[0] == doctest::Approx(0.9 + 0.1 * 6.0).epsilon(1e-6));
  CHECK(rv[1] == doctest::Approx(0.9 + 0.1 * 24.0).epsilon(1e-6));
  CHECK(bn.num_batches_tracked.item<int64_t>() == 1);
  const std::vector<float> yv = y.to_vector<float>();
  CHECK(yv[0] == doctest::Approx((1 - 4.5) / std::sqrt(5.25 + 1e-5)).epsilon(1e-6));  // batch statistics
  bn.eval();
  const std::vector<float> e = bn.forward(x).to_vector<float>();
  CHECK(e[0] == doctest::Approx((1 - 0.45) / std::sqrt(rv[0] + 1e-5)).epsilon(1e-6));
  CHECK(bn.num_batches_tracked.item<int64_t>() == 1);  // eval changes no buffer
  CHECK_THROWS_WITH_AS(bn.forward(randn({2, 3, 2, 2})), doctest::Contains("expected 2 channels"), Error);
  CHECK_THROWS_WITH_AS(bn.forward(randn({2, 2})), doctest::Contains("4-D"), Error);
  nn::BatchNorm1d bn1(3);
  bn1.train();
  CHECK_THROWS_WITH_AS(bn1.forward(randn({1, 3})), doctest::Contains("more than 1 value per channel"), Error);
}

TEST_CASE("a network with batch norm: a compiled step keeps eager's bits and buffers, in training and eval") {
  using M = std::shared_ptr<nn::Module>;
  std::vector<float> got[2];
  for (int mode = 0; mode < 2; ++mode) {
    manual_seed(11);
    auto net = std::make_shared<nn::Sequential>(std::initializer_list<M>{
        std::make_shared<nn::Conv2d>(2, 4, Shape{3}, nn::Conv2dOptions{.padding = {1}, .bias = false}),
        std::make_shared<nn::BatchNorm2d>(4), std::make_shared<nn::ReLU>(),
        std::make_shared<nn::AdaptiveAvgPool2d>(Shape{1}), std::make_shared<nn::Flatten>(),
        std::make_shared<nn::Linear>(4, 3)});
    optim::SGD opt(net->parameters(), 0.1, {.momentum = 0.9, .weight_decay = 5e-4});
    Tensor x = randn({6, 2, 5, 5});
    Tensor y = randint(0, 3, {6});
    std::function<std::vector<Tensor>(const std::vector<Tensor>&)> step = [&](const std::vector<Tensor>& in) {
      opt.zero_grad();
      Tensor loss = F::cross_entropy(net->forward(in[0]), in[1]);
      if (net->is_training()) {
        loss.backward();
        opt.step();
      }
      return std::vector<Tensor>{loss.detach()};
    };
    auto compiled = graph::compile(step);
    for (int i = 0; i < 8; ++i) {
      if (i == 6) net->eval();  // eval is another graph: captured again
      got[mode].push_back((mode ? compiled({x, y}) : step({x, y}))[0].item<float>());
    }
    for (const auto& [name, b] : net->named_buffers())
      for (double v : b.to(DType::Float64).to_vector<double>()) got[mode].push_back(float(v));
  }
  CHECK(got[1] == got[0]);
}

TEST_CASE("max pooling's interior and vector paths pick the element the general rule picks") {
  // Values from a small set, so windows hold ties, signed zeros, infinities and NaNs; wide
  // rows so 2- and 3-wide stride-2 windows take the AVX2 path (Note [Interior windows] in
  // kernels/cpu/pool.cpp), strided inputs the scalar interior path, borders the general one.
  const std::vector<float> pool = {-1.f, 0.f, -0.f, 1.f, 1.f, 2.f, NAN, -INFINITY, INFINITY};
  uint64_t seed = 7;
  struct Case { Shape x; int64_t k, s, p; bool transposed; };
  for (const Case& c : {Case{{2, 3, 12, 40}, 2, 2, 0, false}, Case{{2, 3, 13, 41}, 3, 2, 1, false},
                        Case{{1, 2, 9, 35}, 3, 2, 0, false}, Case{{1, 2, 12, 40}, 2, 2, 0, true},
                        Case{{1, 2, 11, 37}, 3, 2, 1, true}}) {
    std::vector<float> v(size_t(c.x[0] * c.x[1] * c.x[2] * c.x[3]));
    for (float& e : v) e = pool[testing::lcg(seed) % pool.size()];
    Tensor x = tensor(v, c.x);
    if (c.transposed) x = tensor(v, Shape{c.x[0], c.x[1], c.x[3], c.x[2]}).transpose(2, 3);
    const Attrs a = Attrs()
                        .set("kernel", Shape{c.k, c.k})
                        .set("stride", Shape{c.s, c.s})
                        .set("padding", Shape{c.p, c.p})
                        .set("dilation", Shape{1, 1})
                        .set("ceil_mode", false);
    const ref::PoolGeom g{.kh = c.k, .kw = c.k, .sh = c.s, .sw = c.s, .ph = c.p, .pw = c.p};
    Tensor y = apply(OpKind::max_pool2d, {x}, a);
    Tensor dy = randn(y.sizes());
    Tensor dx = apply(OpKind::max_pool2d_backward, {dy, x}, a);
    const ref::RefTensor ry = ref::max_pool2d(ref::read(x), g);
    const ref::RefTensor rdx = ref::max_pool2d_backward(ref::read(dy), ref::read(x), g);
    const std::vector<double> got = testing::values_of(y), gdx = testing::values_of(dx);
    int bad = 0, bad_dx = 0;
    for (size_t i = 0; i < got.size(); ++i)
      bad += !(std::isnan(got[i]) ? std::isnan(ry.v[i]) : got[i] == ry.v[i] && std::signbit(got[i]) == std::signbit(ry.v[i]));
    for (size_t i = 0; i < gdx.size(); ++i) bad_dx += !(std::abs(gdx[i] - rdx.v[i]) <= 1e-5 * (1 + std::abs(rdx.v[i])));
    CHECK_MESSAGE(bad == 0, shape_str(c.x), " k", c.k);
    CHECK_MESSAGE(bad_dx == 0, shape_str(c.x), " k", c.k);
  }
}
