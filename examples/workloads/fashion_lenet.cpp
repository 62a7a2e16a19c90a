// fashion-lenet (shared/WORKLOADS.md), LeNet-5 for 28x28 images [N, 1, 28, 28]:
// Conv2d(1,6,5,padding 2) - ReLU - MaxPool2d(2)                  // (N, 6, 14, 14)
// - Conv2d(6,16,5) - ReLU - MaxPool2d(2) - Flatten               // (N, 16, 5, 5) -> (N, 400)
// - Linear(400,120) - ReLU - Linear(120,84) - ReLU - Linear(84,10)
// PyTorch's default init, cross-entropy, Adam lr 1e-3, batch 64, 5 epochs.
#include "nn/nn.h"
#include "optim/adam.h"
#include "examples/common/workload.h"

namespace duet::workloads {
namespace {

// Conv2dOptions with only the padding set (a designated initializer would leave its
// optional padding_mode without an initializer, which -Wextra reports).
nn::Conv2dOptions padded(int64_t padding) {
  nn::Conv2dOptions options;
  options.padding = {padding};
  return options;
}

}  // namespace

WorkloadSpec make_fashion_lenet() {
  return {
      .name = "fashion-lenet",
      .summary = "LeNet-5 conv 6-16 + fc 120-84-10, Adam, cross-entropy",
      .defaults = {.epochs = 5, .batch = 64, .lr = 1e-3},
      .example_shape = {1, 28, 28},
      .make_model =
          [] {
            return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
                std::make_shared<nn::Conv2d>(1, 6, Shape{5}, padded(2)),
                std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(Shape{2}),
                std::make_shared<nn::Conv2d>(6, 16, Shape{5}), std::make_shared<nn::ReLU>(),
                std::make_shared<nn::MaxPool2d>(Shape{2}), std::make_shared<nn::Flatten>(),
                std::make_shared<nn::Linear>(400, 120), std::make_shared<nn::ReLU>(),
                std::make_shared<nn::Linear>(120, 84), std::make_shared<nn::ReLU>(),
                std::make_shared<nn::Linear>(84, 10)});
          },
      .make_optimizer = [](std::vector<Tensor> params,
                           double lr) { return std::make_unique<optim::Adam>(std::move(params), lr); },
  };
}

}  // namespace duet::workloads
