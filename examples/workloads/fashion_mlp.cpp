// fashion-mlp (shared/WORKLOADS.md): Linear(784,256) - ReLU - Linear(256,128) - ReLU -
// Linear(128,10) on flattened images [N, 784], cross-entropy, Adam lr 1e-3, batch 128,
// 5 epochs.
#include "nn/nn.h"
#include "optim/adam.h"
#include "examples/common/workload.h"

namespace duet::workloads {

WorkloadSpec make_fashion_mlp() {
  return {
      .name = "fashion-mlp",
      .summary = "MLP 784-256-128-10, Adam, cross-entropy",
      .defaults = {.epochs = 5, .batch = 128, .lr = 1e-3},
      .example_shape = {784},
      .make_model =
          [] {
            return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
                std::make_shared<nn::Linear>(784, 256), std::make_shared<nn::ReLU>(),
                std::make_shared<nn::Linear>(256, 128), std::make_shared<nn::ReLU>(),
                std::make_shared<nn::Linear>(128, 10)});
          },
      .make_optimizer = [](std::vector<Tensor> params,
                           double lr) { return std::make_unique<optim::Adam>(std::move(params), lr); },
  };
}

}  // namespace duet::workloads
