// Parameter initialisation, in place and seeded by the default generator, with PyTorch's
// formulas (torch.nn.init).
//   nn::init::kaiming_uniform_(w, std::sqrt(5.0));   // what Linear does by default
#pragma once

#include <string>

#include "core/tensor.h"

namespace duet::nn::init {

// (fan_in, fan_out) of a weight: dims 1 and 0, times the receptive field for conv weights.
std::pair<int64_t, int64_t> fans(const Tensor& weight);
// The recommended gain of a nonlinearity: "linear", "relu", "leaky_relu" (with `param` as
// its slope), "tanh", "sigmoid", "selu".
double calculate_gain(const std::string& nonlinearity, double param = 0.01);

void uniform_(const Tensor& t, double low = 0, double high = 1);
void normal_(const Tensor& t, double mean = 0, double std = 1);
void constant_(const Tensor& t, double value);
void zeros_(const Tensor& t);
void ones_(const Tensor& t);
// mode: "fan_in" or "fan_out"; nonlinearity as calculate_gain; a: leaky_relu's slope.
void kaiming_uniform_(const Tensor& t, double a = 0, const std::string& mode = "fan_in",
                      const std::string& nonlinearity = "leaky_relu");
void kaiming_normal_(const Tensor& t, double a = 0, const std::string& mode = "fan_in",
                     const std::string& nonlinearity = "leaky_relu");
void xavier_uniform_(const Tensor& t, double gain = 1);
void xavier_normal_(const Tensor& t, double gain = 1);

}  // namespace duet::nn::init
