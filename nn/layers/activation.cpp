// Activation layers.
#include "nn/layers/activation.h"

#include "nn/functional.h"

namespace duet::nn {

Tensor ReLU::forward(const Tensor& x) { return functional::relu(x); }

GELU::GELU(std::string approximate) : Module("GELU"), approximate_(std::move(approximate)) {
  DUET_CHECK(approximate_ == "none" || approximate_ == "tanh", "GELU: approximate must be \"none\" or \"tanh\", got \"",
             approximate_, "\"");
}
Tensor GELU::forward(const Tensor& x) { return functional::gelu(x, approximate_); }
std::string GELU::extra_repr() const { return approximate_ == "none" ? "" : "approximate='" + approximate_ + "'"; }

Tensor Tanh::forward(const Tensor& x) { return functional::tanh(x); }
Tensor Sigmoid::forward(const Tensor& x) { return functional::sigmoid(x); }
Tensor SiLU::forward(const Tensor& x) { return functional::silu(x); }

}  // namespace duet::nn
