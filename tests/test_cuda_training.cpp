// Eager training on the GPU (label `cuda`): an MLP with cross-entropy and Adam, moved to
// cuda:0 with Module::to, takes the same steps as on the CPU (losses and parameters within
// float tolerance), autograd's gradients agree, and once the caching allocator has warmed
// up a training step calls cudaMalloc no more. Without a GPU every case says why it
// skipped.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>

#include "autograd/autograd.h"
#include "core/allocator.h"
#include "core/functions.h"
#include "core/generator.h"
#include "nn/nn.h"
#include "optim/adam.h"
#include "tests/cuda_test_support.h"
#include "tests/test_support.h"

using namespace duet;
using duet::testing::cpu;
using duet::testing::kGpu;
using duet::testing::skip_without_gpu;

namespace {

std::shared_ptr<nn::Sequential> small_mlp() {
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(20, 32), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(32, 16),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(16, 5)});
}

// Largest |a - b| / (1 + |b|) over two tensors of the same shape (any devices).
double max_rel_diff(const Tensor& a, const Tensor& b) {
  auto va = cpu(a).to_vector<double>(), vb = cpu(b).to_vector<double>();
  REQUIRE(va.size() == vb.size());
  double worst = 0;
  for (size_t i = 0; i < va.size(); ++i) worst = std::max(worst, std::fabs(va[i] - vb[i]) / (1 + std::fabs(vb[i])));
  return worst;
}

struct Trainer {
  std::shared_ptr<nn::Sequential> model;
  std::unique_ptr<optim::Adam> opt;
  Device dev;
  explicit Trainer(Device d) : dev(d) {
    manual_seed(7);  // the same initial weights on both devices (initialised on the CPU)
    model = small_mlp();
    model->to(dev);
    opt = std::make_unique<optim::Adam>(model->parameters(), 1e-2);
  }
  double step(const Tensor& x, const Tensor& y) {
    opt->zero_grad();
    Tensor loss = nn::functional::cross_entropy(model->forward(x.to(dev)), y.to(dev));
    loss.backward();
    opt->step();
    return loss.item<double>();
  }
};

}  // namespace

TEST_CASE("cuda training: an MLP with Adam takes the CPU's steps") {
  if (skip_without_gpu()) return;
  manual_seed(3);
  Tensor x = randn({64, 20});
  Tensor y = randint(0, 5, {64});
  Trainer host(Device::cpu()), gpu(kGpu);
  for (const Tensor& p : gpu.model->parameters()) CHECK(p.device() == kGpu);
  for (int step = 0; step < 20; ++step) {
    double lh = host.step(x, y), lg = gpu.step(x, y);
    INFO("step ", step, ": cpu loss ", lh, ", cuda loss ", lg);
    CHECK(std::fabs(lh - lg) <= 1e-4 * std::fabs(lh));
  }
  auto ph = host.model->parameters(), pg = gpu.model->parameters();
  REQUIRE(ph.size() == pg.size());
  for (size_t i = 0; i < ph.size(); ++i) {
    INFO("parameter ", i);
    CHECK(max_rel_diff(pg[i], ph[i]) < 1e-4);
    CHECK(max_rel_diff(pg[i].grad(), ph[i].grad()) < 1e-3);
  }
}

TEST_CASE("cuda training: autograd through every layer gives the CPU's gradients") {
  if (skip_without_gpu()) return;
  manual_seed(11);
  Tensor x = randn({8, 20});
  Tensor y = randint(0, 5, {8});
  manual_seed(5);
  auto mh = small_mlp();
  manual_seed(5);
  auto mg = small_mlp();
  mg->to(kGpu);
  Tensor xh = x.clone().requires_grad_(), xg = x.to(kGpu).requires_grad_();
  nn::functional::cross_entropy(mh->forward(xh), y).backward();
  nn::functional::cross_entropy(mg->forward(xg), y.to(kGpu)).backward();
  CHECK(xg.grad().device() == kGpu);
  CHECK(max_rel_diff(xg.grad(), xh.grad()) < 1e-5);
  auto ph = mh->parameters(), pg = mg->parameters();
  for (size_t i = 0; i < ph.size(); ++i) CHECK(max_rel_diff(pg[i].grad(), ph[i].grad()) < 1e-5);
}

TEST_CASE("cuda training: steps after warm-up do not call cudaMalloc") {
  if (skip_without_gpu()) return;
  manual_seed(3);
  Tensor x = randn({64, 20}).to(kGpu);
  Tensor y = randint(0, 5, {64}).to(kGpu);
  Trainer gpu(kGpu);
  for (int i = 0; i < 3; ++i) gpu.step(x, y);
  const MemoryStats before = memory_stats(kGpu);
  for (int i = 0; i < 10; ++i) gpu.step(x, y);
  const MemoryStats after = memory_stats(kGpu);
  CHECK(after.system_allocations == before.system_allocations);
  CHECK(after.allocations > before.allocations);  // the ops did allocate, from the cache
}
