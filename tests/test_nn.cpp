// nn/: modules (registration, traversal, train/eval, state dicts, printing), layers,
// initialisers and losses against hand-computed references.
#include <doctest/doctest.h>

#include <cmath>
#include <map>

#include "autograd/autograd.h"
#include "nn/nn.h"

using namespace duet;
namespace F = duet::nn::functional;

namespace {

std::shared_ptr<nn::Sequential> make_mlp() {
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(4, 3), std::make_shared<nn::ReLU>(), std::make_shared<nn::Dropout>(0.25),
      std::make_shared<nn::Linear>(3, 2)});
}

}  // namespace

TEST_CASE("modules register, name and print their parts") {
  manual_seed(0);
  auto mlp = make_mlp();
  CHECK(mlp->named_parameters().keys() == std::vector<std::string>{"0.weight", "0.bias", "3.weight", "3.bias"});
  CHECK(mlp->parameters().size() == 4);
  for (const Tensor& p : mlp->parameters()) CHECK(p.requires_grad());
  CHECK(mlp->str() ==
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=3, bias=true)\n"
        "  (1): ReLU()\n"
        "  (2): Dropout(p=0.25)\n"
        "  (3): Linear(in_features=3, out_features=2, bias=true)\n"
        ")");
  mlp->eval();
  for (const auto& c : mlp->children()) CHECK_FALSE(c->is_training());
  Tensor x = randn({5, 4});
  Tensor y1 = mlp->forward(x), y2 = (*mlp)(x);
  CHECK(y1.sizes() == Shape{5, 2});
  CHECK(y1.to_vector<float>() == y2.to_vector<float>());  // eval: dropout is the identity
  CHECK_THROWS_WITH_AS(mlp->forward(randn({5, 7})), doctest::Contains("linear"), Error);
  CHECK_THROWS_WITH_AS(nn::Linear(0, 3), doctest::Contains("positive"), Error);
}

TEST_CASE("Linear uses PyTorch's default init bounds") {
  manual_seed(0);
  nn::Linear fc(100, 50);
  double bound = 1.0 / std::sqrt(100.0);  // kaiming_uniform(a=sqrt(5)) gives the same bound
  for (float v : fc.weight.to_vector<float>()) CHECK(std::fabs(v) <= bound + 1e-7);
  for (float v : fc.bias.to_vector<float>()) CHECK(std::fabs(v) <= bound + 1e-7);
  CHECK(fc.weight.amax().item<float>() > 0.9 * bound);
  nn::Linear no_bias(3, 2, false);
  CHECK_FALSE(no_bias.bias.defined());
  CHECK(no_bias.parameters().size() == 1);
}

TEST_CASE("initialisers match their formulas") {
  manual_seed(3);
  Tensor w = empty({400, 300});
  nn::init::xavier_uniform_(w);
  double bound = std::sqrt(6.0 / 700.0);
  CHECK(w.amax().item<float>() <= bound);
  CHECK(w.amax().item<float>() > 0.99 * bound);
  nn::init::kaiming_normal_(w, 0, "fan_in", "relu");
  double expected_std = std::sqrt(2.0) / std::sqrt(300.0);
  CHECK(duet::std(w).item<float>() == doctest::Approx(expected_std).epsilon(0.02));
  nn::init::xavier_normal_(w, 2.0);
  CHECK(duet::std(w).item<float>() == doctest::Approx(2.0 * std::sqrt(2.0 / 700.0)).epsilon(0.02));
  nn::init::constant_(w, 0.5);
  CHECK(w.amin().item<float>() == 0.5f);
  CHECK(nn::init::calculate_gain("tanh") == doctest::Approx(5.0 / 3.0));
  CHECK_THROWS_AS(nn::init::calculate_gain("nope"), Error);
}

TEST_CASE("state_dict round trip and checks") {
  manual_seed(1);
  auto a = make_mlp();
  manual_seed(2);
  auto b = make_mlp();
  Tensor x = randn({3, 4});
  a->eval();
  b->eval();
  CHECK(a->forward(x).to_vector<float>() != b->forward(x).to_vector<float>());
  b->load_state_dict(a->state_dict());
  CHECK(a->forward(x).to_vector<float>() == b->forward(x).to_vector<float>());

  NamedTensors missing = a->state_dict();
  NamedTensors partial;
  for (const auto& [k, v] : missing)
    if (k != "3.bias") partial.insert(k, v);
  CHECK_THROWS_WITH_AS(b->load_state_dict(partial), doctest::Contains("missing key '3.bias'"), Error);
  b->load_state_dict(partial, /*strict=*/false);
  NamedTensors extra = a->state_dict();
  extra.insert("bogus", zeros({1}));
  CHECK_THROWS_WITH_AS(b->load_state_dict(extra), doctest::Contains("unexpected key 'bogus'"), Error);
  NamedTensors wrong = a->state_dict();
  wrong.insert("0.weight", zeros({2, 2}));
  CHECK_THROWS_WITH_AS(b->load_state_dict(wrong), doctest::Contains("'0.weight' has shape"), Error);
}

TEST_CASE("load_state_dict is all or nothing") {
  manual_seed(1);
  auto a = make_mlp();
  manual_seed(2);
  auto b = make_mlp();
  std::map<std::string, std::vector<float>> before;  // values, not the parameters themselves
  for (const auto& [k, v] : b->state_dict()) before[k] = v.to_vector<float>();
  auto unchanged = [&] {
    for (const auto& [k, v] : b->state_dict()) CHECK_MESSAGE(v.to_vector<float>() == before[k], k << " was overwritten");
  };
  // Each bad dict has good entries before the bad one: none of them may be loaded.
  NamedTensors late_shape = a->state_dict();
  late_shape.insert("3.bias", zeros({7}));
  CHECK_THROWS_WITH_AS(b->load_state_dict(late_shape), doctest::Contains("'3.bias' has shape [7]"), Error);
  unchanged();
  NamedTensors late_missing;
  for (const auto& [k, v] : a->state_dict())
    if (k != "3.bias") late_missing.insert(k, v);
  CHECK_THROWS_WITH_AS(b->load_state_dict(late_missing), doctest::Contains("missing key '3.bias'"), Error);
  unchanged();
  NamedTensors extra = a->state_dict();
  extra.insert("zzz", zeros({1}));
  CHECK_THROWS_WITH_AS(b->load_state_dict(extra), doctest::Contains("unexpected key 'zzz'"), Error);
  unchanged();
  NamedTensors undefined = a->state_dict();
  undefined.insert("3.weight", Tensor());
  CHECK_THROWS_WITH_AS(b->load_state_dict(undefined), doctest::Contains("'3.weight' is an undefined tensor"), Error);
  unchanged();
  b->load_state_dict(a->state_dict());
  for (const auto& [k, v] : b->state_dict()) CHECK(v.to_vector<float>() == a->state_dict().at(k).to_vector<float>());
}

TEST_CASE("zero_grad and to(dtype) keep parameter identity") {
  auto mlp = make_mlp();
  Tensor w = mlp->parameters()[0];
  F::mse_loss(mlp->forward(ones({2, 4})), zeros({2, 2})).backward();
  CHECK(w.grad().defined());
  mlp->zero_grad(/*set_to_none=*/false);
  CHECK(abs(w.grad()).sum().item<float>() == 0.0f);
  mlp->zero_grad();
  CHECK_FALSE(w.grad().defined());
  mlp->to(DType::Float64);
  CHECK(w.dtype() == DType::Float64);
  CHECK(mlp->parameters()[0].is_same(w));
  CHECK(mlp->forward(ones({1, 4}, DType::Float64)).dtype() == DType::Float64);
}

TEST_CASE("dropout zeroes about p of the elements and rescales the rest") {
  manual_seed(5);
  Tensor x = ones({10000});
  Tensor y = F::dropout(x, 0.3, true);
  auto v = y.to_vector<float>();
  int zeros_seen = 0;
  for (float e : v) {
    if (e == 0) ++zeros_seen;
    else CHECK(e == doctest::Approx(1.0 / 0.7));
  }
  CHECK(zeros_seen == doctest::Approx(3000).epsilon(0.06));
  CHECK(F::dropout(x, 0.3, false).is_same(x));
  CHECK_THROWS_AS(F::dropout(x, 1.5), Error);
}

TEST_CASE("cross_entropy against a hand computation") {
  Tensor logits = tensor<double>({1, 2, 3, 1, 0, -1}, {2, 3});
  Tensor target = tensor<int64_t>({2, 0});
  auto lse = [](std::vector<double> z) {
    double m = *std::max_element(z.begin(), z.end()), s = 0;
    for (double e : z) s += std::exp(e - m);
    return m + std::log(s);
  };
  double l0 = lse({1, 2, 3}) - 3, l1 = lse({1, 0, -1}) - 1;
  CHECK(F::cross_entropy(logits, target).item<double>() == doctest::Approx((l0 + l1) / 2));
  CHECK(F::cross_entropy(logits, target, {.reduction = F::Reduction::Sum}).item<double>() == doctest::Approx(l0 + l1));
  auto none = F::cross_entropy(logits, target, {.reduction = F::Reduction::None}).to_vector<double>();
  CHECK(none[0] == doctest::Approx(l0));
  CHECK(none[1] == doctest::Approx(l1));
  // ignore_index: the ignored row leaves the mean.
  Tensor ignored = tensor<int64_t>({2, -100});
  CHECK(F::cross_entropy(logits, ignored).item<double>() == doctest::Approx(l0));
  // label smoothing: (1 - e) * nll + e * mean over classes of -log p.
  double e = 0.1;
  double s0 = (3 * lse({1, 2, 3}) - 6) / 3, s1 = (3 * lse({1, 0, -1}) - 0) / 3;
  double smoothed = ((1 - e) * l0 + e * s0 + (1 - e) * l1 + e * s1) / 2;
  CHECK(F::cross_entropy(logits, target, {.label_smoothing = e}).item<double>() == doctest::Approx(smoothed));
  // Huge logits stay finite.
  Tensor big = tensor<float>({1000, -1000, 0}, {1, 3});
  CHECK(F::cross_entropy(big, tensor<int64_t>({1})).item<float>() == doctest::Approx(2000));
  CHECK_THROWS_WITH_AS(F::cross_entropy(logits, tensor<int64_t>({2, 3})), doctest::Contains("out of range"), Error);
  CHECK_THROWS_WITH_AS(F::cross_entropy(logits, tensor<float>({2, 0})), doctest::Contains("int64"), Error);
  CHECK_THROWS_WITH_AS(F::cross_entropy(logits, tensor<int64_t>({1, 2, 0})), doctest::Contains("target of shape"),
                       Error);
}

TEST_CASE("losses have correct gradients") {
  manual_seed(9);
  Tensor target = tensor<int64_t>({2, 0, 1, 1});
  Tensor logits = randn({4, 3}, DType::Float64).requires_grad_();
  auto r = gradcheck([&](const std::vector<Tensor>& in) { return F::cross_entropy(in[0], target, {.label_smoothing = 0.2}); },
                     {logits});
  CHECK_MESSAGE(r.ok, r.message);
  Tensor y = randn({4, 3}, DType::Float64);
  Tensor b = rand({4, 3}, DType::Float64);
  for (auto fn : {+[](const Tensor& a, const Tensor& t) { return F::mse_loss(a, t); },
                  +[](const Tensor& a, const Tensor& t) { return F::l1_loss(a, t); },
                  +[](const Tensor& a, const Tensor& t) { return F::binary_cross_entropy_with_logits(a, t); }}) {
    auto res = gradcheck([&](const std::vector<Tensor>& in) { return fn(in[0], b); }, {logits});
    CHECK_MESSAGE(res.ok, res.message);
  }
  CHECK(F::mse_loss(tensor<float>({1, 2}), tensor<float>({3, 2})).item<float>() == 2.0f);
  CHECK(F::l1_loss(tensor<float>({1, 2}), tensor<float>({3, 2}), F::Reduction::Sum).item<float>() == 2.0f);
  CHECK_THROWS_WITH_AS(F::mse_loss(zeros({4, 1}), zeros({4})), doctest::Contains("differ"), Error);
  // Stable for large logits: log(1 + exp(-|x|)) never overflows.
  Tensor bce = F::binary_cross_entropy_with_logits(tensor<float>({100, -100}), tensor<float>({0, 1}), F::Reduction::None);
  CHECK(bce.to_vector<float>()[0] == doctest::Approx(100));
  CHECK(bce.to_vector<float>()[1] == doctest::Approx(100));
}

TEST_CASE("a small model learns") {
  manual_seed(0);
  auto mlp = std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(2, 16), std::make_shared<nn::Tanh>(), std::make_shared<nn::Linear>(16, 2)});
  // Two Gaussian blobs.
  Tensor x = cat({randn({64, 2}) + 2.0, randn({64, 2}) - 2.0}, 0);
  Tensor y = cat({zeros({64}, DType::Int64), ones({64}, DType::Int64)}, 0);
  float first = 0, last = 0;
  for (int step = 0; step < 60; ++step) {
    mlp->zero_grad();
    Tensor loss = F::cross_entropy(mlp->forward(x), y);
    loss.backward();
    NoGradGuard g;
    for (const Tensor& p : mlp->parameters()) p.sub_(p.grad() * 0.5);
    (step == 0 ? first : last) = loss.item<float>();
  }
  CHECK(last < 0.1f * first);
}
