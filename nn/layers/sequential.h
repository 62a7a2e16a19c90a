// Sequential: runs its children in order, each on the previous one's output.
//   auto mlp = std::make_shared<nn::Sequential>();
//   mlp->push_back(std::make_shared<nn::Linear>(784, 256));
//   mlp->push_back(std::make_shared<nn::ReLU>());
//   Tensor y = mlp->forward(x);     // children are named "0", "1", ...
#pragma once

#include <initializer_list>

#include "nn/module.h"

namespace duet::nn {

class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules);
  void push_back(std::shared_ptr<Module> module);
  size_t size() const { return named_children().size(); }
  std::shared_ptr<Module> operator[](size_t i) const;
  Tensor forward(const Tensor& x) override;
};

}  // namespace duet::nn
