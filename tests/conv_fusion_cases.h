// Cases shared by the tests of graph mode's convolution fusions on the CPU
// (test_graph_conv_fusion.cpp) and on CUDA (test_cuda_conv_fusion.cpp): inputs with zeros
// of both signs, a NaN and an infinity; the bit comparison; conv geometries with each
// fused tail, compiled against eager on one device; a small conv network with batch norm
// trained and evaluated compiled or eagerly (Note [Conv epilogues] in graph/fusion.cpp).
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <string>

#include "autograd/grad_mode.h"
#include "core/functions.h"
#include "core/generator.h"
#include "graph/graph.h"
#include "nn/nn.h"
#include "optim/optim.h"

namespace duet::testing::conv_fusion {

namespace F = duet::nn::functional;

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// Normal draws with exact zeros of both signs mixed in, and one NaN and one infinity when
// `specials` (deterministic).
inline Tensor draws(const Shape& shape, DType dtype, uint32_t seed, bool specials = false) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> v(size_t(numel_of(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = i % 7 == 3 ? 0.0 : i % 11 == 5 ? -0.0 : normal(gen);
  if (specials && v.size() > 40) v[17] = NAN, v[38] = INFINITY;
  return tensor(v, shape).to(dtype);
}

// Elements whose bits differ (both NaN counts as equal); either tensor on any device.
inline int64_t differing(const Tensor& want, const Tensor& got) {
  REQUIRE(want.sizes() == got.sizes());
  REQUIRE(want.dtype() == got.dtype());
  auto host64 = [](const Tensor& t) { return t.to(Device::cpu()).to(DType::Float64).to_vector<double>(); };
  auto a = host64(want), b = host64(got);
  int64_t d = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (!(std::isnan(a[i]) && std::isnan(b[i])) && std::memcmp(&a[i], &b[i], sizeof(double)) != 0) ++d;
  return d;
}

// The names of the compiled graph's fused nodes, joined by spaces.
inline std::string fused_names(const graph::CompiledFunction& compiled) {
  std::string names;
  for (const graph::Node& n : compiled.executable()->graph().nodes)
    if (n.kind == graph::NodeKind::Fused) names += (names.empty() ? "" : " ") + n.name;
  return names;
}

struct Geometry {
  std::string name;
  int64_t C, OC, k, stride, padding, groups;
  bool bias, channels_last;  // channels_last: x is fed as [N, H, W, C] and permuted inside
};

inline std::vector<Geometry> geometries() {
  return {
      {"3x3, padding 1, bias", 3, 8, 3, 1, 1, 1, true, false},
      {"3x3 stride 2, groups 2, no bias", 4, 6, 3, 2, 0, 2, false, false},
      {"1x1, bias", 5, 7, 1, 1, 0, 1, true, false},
      {"depthwise 3x3 stride 2 padding 1, channels-last input", 6, 6, 3, 2, 1, 6, true, true},
      {"5x5 padding 2, groups 3, channels-last input, no bias", 6, 9, 5, 1, 2, 3, false, true},
  };
}

enum class Tail { Relu, BatchNorm, BatchNormRelu };

// conv2d(x) followed by `tail`, eagerly and compiled, on `device`: the compiled graph must
// be the one fused conv node named `conv_name + tail`, with eager's bits.
inline void check_conv_fusion(const Geometry& geo, DType dtype, Tail tail, Device device = Device::cpu()) {
  const int64_t N = 3, H = 9, W = 8;
  const Shape x_shape = geo.channels_last ? Shape{N, H, W, geo.C} : Shape{N, geo.C, H, W};
  Tensor x = draws(x_shape, dtype, 1, true).to(device);
  Tensor w = draws({geo.OC, geo.C / geo.groups, geo.k, geo.k}, dtype, 2).to(device);
  Tensor b = geo.bias ? draws({geo.OC}, dtype, 3).to(device) : Tensor();
  // Running statistics and affine parameters, negative weights and a zero variance included.
  Tensor mean = draws({geo.OC}, dtype, 4).to(device), var = (abs(draws({geo.OC}, dtype, 5)) * 3.0).to(device);
  Tensor gamma = draws({geo.OC}, dtype, 6).to(device), beta = draws({geo.OC}, dtype, 7).to(device);
  Fn f = [&](const std::vector<Tensor>& in) {
    const Tensor xs = geo.channels_last ? in[0].permute({0, 3, 1, 2}) : in[0];
    Tensor y = conv2d(xs, w, b, {geo.stride}, {geo.padding}, {1}, geo.groups);
    if (tail != Tail::Relu) y = F::batch_norm(y, mean, var, gamma, beta, /*training=*/false);
    if (tail != Tail::BatchNorm) y = relu(y);
    return y;
  };
  const Tensor want = f({x});
  auto compiled = graph::compile([&](const std::vector<Tensor>& v) { return std::vector<Tensor>{f(v)}; },
                                 {.warmup_calls = 0});
  const Tensor got = compiled({x})[0];
  const graph::CompileReport& r = compiled.report();
  INFO(geo.name, " ", dtype_name(dtype), " on ", device, "\n", r.str());
  CHECK(r.conv_epilogues == 1);
  CHECK(r.kernels == 1);
  const std::string tail_name = tail == Tail::Relu ? "+relu" : tail == Tail::BatchNorm ? "+batch_norm" : "+batch_norm+relu";
  CHECK(fused_names(compiled) == (geo.bias ? "conv2d+bias" : "conv2d") + tail_name);
  CHECK(differing(want, got) == 0);
}

// relu(batch_norm(x)) with eval statistics, eagerly and compiled, on `device`: one fused
// batch-norm node with eager's bits. (Training's batch statistics are checked in run_net,
// where they come with their running averages.)
inline void check_batch_norm_relu(DType dtype, bool channels_last, Device device = Device::cpu()) {
  const Shape shape = channels_last ? Shape{4, 5, 6, 3} : Shape{4, 3, 5, 6};
  Tensor x = draws(shape, dtype, 11, true).to(device);
  Tensor mean = draws({3}, dtype, 12).to(device), var = abs(draws({3}, dtype, 13)).to(device);
  Tensor gamma = draws({3}, dtype, 14).to(device), beta = draws({3}, dtype, 15).to(device);
  Fn f = [&](const std::vector<Tensor>& in) {
    const Tensor xs = channels_last ? in[0].permute({0, 3, 1, 2}) : in[0];
    return relu(F::batch_norm(xs, mean, var, gamma, beta, /*training=*/false));
  };
  const Tensor want = f({x});
  auto compiled = graph::compile([&](const std::vector<Tensor>& v) { return std::vector<Tensor>{f(v)}; },
                                 {.warmup_calls = 0});
  const Tensor got = compiled({x})[0];
  INFO(dtype_name(dtype), channels_last ? " channels-last" : "", " on ", device, "\n", compiled.report().str());
  CHECK(compiled.report().batch_norm_relus == 1);
  CHECK(fused_names(compiled) == "batch_norm+relu");
  CHECK(differing(want, got) == 0);
}

// conv-relu, conv(groups 2, stride 2)-BN-relu, conv 1x1-BN, pooled to 5 logits.
inline std::shared_ptr<nn::Sequential> small_convnet() {
  using M = std::shared_ptr<nn::Module>;
  return std::make_shared<nn::Sequential>(std::initializer_list<M>{
      std::make_shared<nn::Conv2d>(2, 4, Shape{3}, nn::Conv2dOptions{.padding = {1}}), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Conv2d>(4, 6, Shape{3}, nn::Conv2dOptions{.stride = {2}, .groups = 2, .bias = false}),
      std::make_shared<nn::BatchNorm2d>(6), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Conv2d>(6, 5, Shape{1}, nn::Conv2dOptions{.bias = false}),
      std::make_shared<nn::BatchNorm2d>(5), std::make_shared<nn::AdaptiveAvgPool2d>(Shape{1}),
      std::make_shared<nn::Flatten>()});
}

struct NetRun {
  std::vector<double> values;  // losses, eval logits, parameters and buffers, in order
  graph::CompileReport train_report, eval_report;
};

// Values whose bits differ between two runs (both NaN counts as equal).
inline int64_t differing(const NetRun& want, const NetRun& got) {
  REQUIRE(want.values.size() == got.values.size());
  int64_t d = 0;
  for (size_t i = 0; i < want.values.size(); ++i) {
    const double a = want.values[i], b = got.values[i];
    d += !(std::isnan(a) && std::isnan(b)) && std::memcmp(&a, &b, sizeof(double)) != 0;
  }
  return d;
}

// Trains small_convnet for a few steps (SGD with momentum) on `device`, then evaluates it;
// compiled or eagerly.
inline NetRun run_net(DType dtype, bool compiled_mode, bool channels_last, Device device = Device::cpu()) {
  manual_seed(31);
  auto net = small_convnet();
  net->to(dtype);
  net->to(device);
  optim::SGD opt(net->parameters(), 0.05, {.momentum = 0.9});
  Tensor x = draws(channels_last ? Shape{6, 9, 9, 2} : Shape{6, 2, 9, 9}, dtype, 32).to(device);
  Tensor y = randint(0, 5, {6}).to(device);
  auto input = [&](const Tensor& t) { return channels_last ? t.permute({0, 3, 1, 2}) : t; };
  std::function<std::vector<Tensor>(const std::vector<Tensor>&)> train_step = [&](const std::vector<Tensor>& in) {
    opt.zero_grad();
    Tensor loss = F::cross_entropy(net->forward(input(in[0])), in[1]);
    loss.backward();
    opt.step();
    return std::vector<Tensor>{loss.detach()};
  };
  std::function<std::vector<Tensor>(const std::vector<Tensor>&)> infer = [&](const std::vector<Tensor>& in) {
    NoGradGuard no_grad;
    return std::vector<Tensor>{net->forward(input(in[0]))};
  };
  auto train_compiled = graph::compile(train_step);
  auto infer_compiled = graph::compile(infer);
  NetRun run;
  for (int i = 0; i < 5; ++i)
    run.values.push_back(
        (compiled_mode ? train_compiled({x, y}) : train_step({x, y}))[0].to(Device::cpu()).to(DType::Float64).item<double>());
  net->eval();
  for (int i = 0; i < 2; ++i) {
    Tensor logits = compiled_mode ? infer_compiled({x})[0] : infer({x})[0];
    for (double v : logits.to(Device::cpu()).to(DType::Float64).to_vector<double>()) run.values.push_back(v);
  }
  for (const Tensor& t : net->parameters())
    for (double v : t.to(Device::cpu()).to(DType::Float64).to_vector<double>()) run.values.push_back(v);
  for (const auto& [name, b] : net->named_buffers())
    for (double v : b.to(Device::cpu()).to(DType::Float64).to_vector<double>()) run.values.push_back(v);
  run.train_report = train_compiled.report();
  run.eval_report = infer_compiled.report();
  return run;
}

}  // namespace duet::testing::conv_fusion
