// Rematerialisation (graph/remat.h, Note [Rematerialisation]): in a residual network's
// compiled training step the inner batch-norm + ReLU outputs are recomputed for the
// backward pass instead of held, the arena shrinks, and training keeps eager's bits; a
// block output (a ReLU of an add whose other input dies in the forward pass) is not
// recomputed; turning the option off gives the arena back. With convolutions recomputed
// too (CompileOptions::recompute_convolutions), a deeper net holds only its block outputs
// across the step, and still trains to eager's bits.
#include <doctest/doctest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#include "core/functions.h"
#include "core/generator.h"
#include "graph/graph.h"
#include "nn/nn.h"
#include "optim/optim.h"

using namespace duet;
namespace F = duet::nn::functional;

namespace {

// stem conv-BN-ReLU, one basic block (conv-BN-ReLU, conv-BN, + identity, ReLU),
// conv-BN-ReLU, global average pool, linear.
struct ResidualNet {
  std::shared_ptr<nn::Conv2d> c0 = conv(2, 8), c1 = conv(8, 8), c2 = conv(8, 8), c3 = conv(8, 8);
  std::shared_ptr<nn::BatchNorm2d> b0 = bn(), b1 = bn(), b2 = bn(), b3 = bn();
  std::shared_ptr<nn::Linear> fc = std::make_shared<nn::Linear>(8, 5);

  static std::shared_ptr<nn::Conv2d> conv(int64_t in, int64_t out) {
    return std::make_shared<nn::Conv2d>(in, out, Shape{3}, nn::Conv2dOptions{.padding = {1}, .bias = false});
  }
  static std::shared_ptr<nn::BatchNorm2d> bn() { return std::make_shared<nn::BatchNorm2d>(8); }

  Tensor forward(const Tensor& x) {
    const Tensor a0 = relu(b0->forward(c0->forward(x)));
    const Tensor a1 = relu(b1->forward(c1->forward(a0)));
    const Tensor out = relu(add(b2->forward(c2->forward(a1)), a0));
    const Tensor a3 = relu(b3->forward(c3->forward(out)));
    return fc->forward(a3.mean({2, 3}));
  }
  std::vector<Tensor> parameters() const {
    std::vector<Tensor> p;
    for (const auto& m : std::vector<std::shared_ptr<nn::Module>>{c0, c1, c2, c3, b0, b1, b2, b3, fc})
      for (const Tensor& t : m->parameters()) p.push_back(t);
    return p;
  }
};

// A stem conv-BN-ReLU and four basic blocks (the block above, repeated), pooled, linear:
// deep enough that what the forward pass holds outweighs one block's recomputation.
struct BlockNet {
  static constexpr int kBlocks = 4;
  std::shared_ptr<nn::Conv2d> stem = ResidualNet::conv(2, 8);
  std::shared_ptr<nn::BatchNorm2d> stem_bn = ResidualNet::bn();
  std::vector<std::shared_ptr<nn::Conv2d>> convs;
  std::vector<std::shared_ptr<nn::BatchNorm2d>> bns;
  std::shared_ptr<nn::Linear> fc = std::make_shared<nn::Linear>(8, 5);

  BlockNet() {
    for (int i = 0; i < 2 * kBlocks; ++i) convs.push_back(ResidualNet::conv(8, 8)), bns.push_back(ResidualNet::bn());
  }
  Tensor forward(const Tensor& x) {
    Tensor out = relu(stem_bn->forward(stem->forward(x)));
    for (int b = 0; b < kBlocks; ++b) {
      const Tensor inner = relu(bns[2 * b]->forward(convs[2 * b]->forward(out)));
      out = relu(add(bns[2 * b + 1]->forward(convs[2 * b + 1]->forward(inner)), out));
    }
    return fc->forward(out.mean({2, 3}));
  }
  std::vector<Tensor> parameters() const {
    std::vector<std::shared_ptr<nn::Module>> modules{stem, stem_bn, fc};
    for (int i = 0; i < 2 * kBlocks; ++i) modules.push_back(convs[size_t(i)]), modules.push_back(bns[size_t(i)]);
    std::vector<Tensor> p;
    for (const auto& m : modules)
      for (const Tensor& t : m->parameters()) p.push_back(t);
    return p;
  }
};

struct Run {
  std::vector<float> values;  // losses, then parameters
  graph::CompileReport report;
};

template <typename Net = ResidualNet>
Run train(bool compiled, bool remat, graph::ConvRecompute convolutions = graph::ConvRecompute::Off) {
  manual_seed(41);
  Net net;
  optim::SGD opt(net.parameters(), 0.05, {.momentum = 0.9});
  const Tensor x = randn({4, 2, 10, 10}), y = randint(0, 5, {4});
  std::function<std::vector<Tensor>(const std::vector<Tensor>&)> step = [&](const std::vector<Tensor>& in) {
    opt.zero_grad();
    Tensor loss = F::cross_entropy(net.forward(in[0]), in[1]);
    loss.backward();
    opt.step();
    return std::vector<Tensor>{loss.detach()};
  };
  graph::CompileOptions options;
  options.rematerialize = remat;
  options.recompute_convolutions = convolutions;
  auto step_compiled = graph::compile(step, options);
  Run run;
  for (int i = 0; i < 4; ++i) run.values.push_back((compiled ? step_compiled({x, y}) : step({x, y}))[0].item<float>());
  for (const Tensor& p : net.parameters())
    for (float v : p.contiguous().to_vector<float>()) run.values.push_back(v);
  if (compiled) run.report = step_compiled.report();
  return run;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("rematerialisation: inner batch-norm + ReLU outputs recomputed, smaller arena, eager's bits") {
  const Run eager = train(false, false), remat = train(true, true), held = train(true, false);
  INFO("with rematerialisation:\n", remat.report.str(), "without:\n", held.report.str());
  CHECK(same_bits(eager.values, remat.values));
  CHECK(same_bits(eager.values, held.values));
  // a0 (read by the block's add and its first conv, and again by that conv's weight
  // gradient and the ReLU's backward) and a1 are recomputed; a3 too (its conv's weight
  // gradient); the block output is not (the add's other input is gone by then).
  CHECK(remat.report.rematerialized == 3);
  CHECK(held.report.rematerialized == 0);
  CHECK(remat.report.rematerialized_bytes == 3 * 4 * 8 * 10 * 10 * 4);
  CHECK(remat.report.arena_bytes < held.report.arena_bytes);
  CHECK(remat.report.arena_bytes <= remat.report.lower_bound_bytes + remat.report.lower_bound_bytes / 10);
}

TEST_CASE("rematerialisation with convolutions: the block outputs held, the rest recomputed, eager's bits") {
  const Run eager = train<BlockNet>(false, false), remat = train<BlockNet>(true, true),
            ckpt = train<BlockNet>(true, true, graph::ConvRecompute::WhenSmaller);
  INFO("convolutions recomputed too:\n", ckpt.report.str(), "batch norm and ReLU only:\n", remat.report.str());
  CHECK(same_bits(eager.values, ckpt.values));
  CHECK(remat.report.rematerialized_convolutions == 0);
  // Every convolution but the last block's second (read again right after the forward
  // pass: a gap below the default): 2 x 4 blocks + the stem - 1; with them the stem's and
  // each block's inner batch-norm + ReLU output, as without.
  CHECK(ckpt.report.rematerialized_convolutions == 2 * BlockNet::kBlocks);
  CHECK(ckpt.report.rematerialized == 2 * BlockNet::kBlocks + remat.report.rematerialized);
  CHECK(remat.report.rematerialized == 1 + BlockNet::kBlocks);
  CHECK(ckpt.report.arena_bytes < remat.report.arena_bytes);
  CHECK(ckpt.report.arena_bytes <= ckpt.report.lower_bound_bytes + ckpt.report.lower_bound_bytes / 10);
}

TEST_CASE("rematerialisation with convolutions: not where the copies buy no memory") {
  // One block: recomputing it rebuilds most of what the forward pass held, at once, at the
  // backward pass's peak (measured: a larger arena), so the convolutions stay held.
  const Run remat = train(true, true), ckpt = train(true, true, graph::ConvRecompute::WhenSmaller),
             always = train(true, true, graph::ConvRecompute::Always);
  INFO("convolutions asked for:\n", ckpt.report.str());
  CHECK(ckpt.report.rematerialized_convolutions == 0);
  CHECK(ckpt.report.rematerialized == remat.report.rematerialized);
  CHECK(ckpt.report.arena_bytes == remat.report.arena_bytes);
  // Always keeps them, all four convolutions, and the bits stay eager's, though the arena
  // grows.
  const Run eager = train(false, false);
  CHECK(always.report.rematerialized_convolutions == 4);
  CHECK(always.report.arena_bytes > remat.report.arena_bytes);
  CHECK(same_bits(eager.values, always.values));
}
