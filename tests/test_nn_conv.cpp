// nn/ convolution and pooling layers: shapes, PyTorch's initialisation, printing, "same"
// padding against explicit padding, and a small convolutional network trained eagerly
// and compiled (graph mode must give eager's bits step by step).
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/autograd.h"
#include "graph/graph.h"
#include "nn/nn.h"
#include "optim/optim.h"

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
