// fashion-resnet (shared/WORKLOADS.md), a small ResNet for 28x28 images [N, 1, 28, 28]:
// stem Conv2d(1,16,3,padding 1,no bias) - BatchNorm2d - ReLU             // (N, 16, 28, 28)
// three stages of two basic blocks (conv3x3-BN-ReLU-conv3x3-BN, + shortcut, ReLU) with
// 16, 32, 64 channels; the first block of stages 2 and 3 has stride 2 and a Conv2d 1x1
// stride 2 + BatchNorm2d shortcut                                          // (N, 64, 7, 7)
// - AdaptiveAvgPool2d(1) - Flatten - Linear(64,10). Kaiming-normal (fan_out, relu) conv
// init, BN weight 1 / bias 0. SGD momentum 0.9, weight decay 5e-4 on every parameter, lr
// 0.1 with cosine decay to 0 over the whole run (per step), batch 128, 5 epochs; test
// accuracy in eval mode (running statistics).
#include <cmath>
#include <numbers>

#include "examples/common/workload.h"
#include "nn/nn.h"
#include "optim/sgd.h"

namespace duet::workloads {
namespace {

std::shared_ptr<nn::Conv2d> conv(int64_t in, int64_t out, int64_t k, int64_t stride) {
  nn::Conv2dOptions o;
  o.stride = {stride};
  o.padding = {k / 2};
  o.bias = false;
  auto c = std::make_shared<nn::Conv2d>(in, out, Shape{k}, o);
  nn::init::kaiming_normal_(c->weight, 0, "fan_out", "relu");
  return c;
}

// conv3x3-BN-ReLU-conv3x3-BN plus the shortcut (the identity, or conv1x1-BN when the
// block changes the shape), then ReLU.
class BasicBlock : public nn::Module {
 public:
  BasicBlock(int64_t in, int64_t out, int64_t stride) : Module("BasicBlock") {
    conv1_ = register_module("conv1", conv(in, out, 3, stride));
    bn1_ = register_module("bn1", std::make_shared<nn::BatchNorm2d>(out));
    conv2_ = register_module("conv2", conv(out, out, 3, 1));
    bn2_ = register_module("bn2", std::make_shared<nn::BatchNorm2d>(out));
    if (stride != 1 || in != out) {
      shortcut_conv_ = register_module("shortcut_conv", conv(in, out, 1, stride));
      shortcut_bn_ = register_module("shortcut_bn", std::make_shared<nn::BatchNorm2d>(out));
    }
  }
  Tensor forward(const Tensor& x) override {
    Tensor y = nn::functional::relu(bn1_->forward(conv1_->forward(x)));
    y = bn2_->forward(conv2_->forward(y));
    Tensor s = shortcut_conv_ ? shortcut_bn_->forward(shortcut_conv_->forward(x)) : x;
    return nn::functional::relu(y + s);
  }

 private:
  std::shared_ptr<nn::Conv2d> conv1_, conv2_, shortcut_conv_;
  std::shared_ptr<nn::BatchNorm2d> bn1_, bn2_, shortcut_bn_;
};

std::shared_ptr<nn::Module> make_resnet() {
  using M = std::shared_ptr<nn::Module>;
  std::vector<M> layers = {conv(1, 16, 3, 1), std::make_shared<nn::BatchNorm2d>(16), std::make_shared<nn::ReLU>()};
  int64_t in = 16;
  for (int64_t out : {16, 32, 64})
    for (int block = 0; block < 2; ++block) {
      layers.push_back(std::make_shared<BasicBlock>(in, out, block == 0 && out != 16 ? 2 : 1));
      in = out;
    }
  layers.push_back(std::make_shared<nn::AdaptiveAvgPool2d>(Shape{1}));
  layers.push_back(std::make_shared<nn::Flatten>());
  layers.push_back(std::make_shared<nn::Linear>(64, 10));
  auto net = std::make_shared<nn::Sequential>();
  for (const M& m : layers) net->push_back(m);
  return net;
}

}  // namespace

WorkloadSpec make_fashion_resnet() {
  return {
      .name = "fashion-resnet",
      .summary = "ResNet 16-32-64 with batch norm, SGD momentum + weight decay, cosine LR",
      .defaults = {.epochs = 5, .batch = 128, .lr = 0.1},
      .example_shape = {1, 28, 28},
      .make_model = make_resnet,
      .make_optimizer =
          [](std::vector<Tensor> params, double lr) {
            return std::make_unique<optim::SGD>(std::move(params), lr,
                                                optim::SGDOptions{.momentum = 0.9, .weight_decay = 5e-4});
          },
      .lr_at_step = [](double base, int64_t step, int64_t total) {
        return base * 0.5 * (1 + std::cos(std::numbers::pi * double(step) / double(std::max<int64_t>(1, total))));
      },
  };
}

}  // namespace duet::workloads
