// Initialisers: each draws a fresh tensor from the default generator and copies it in
// without recording a gradient.
#include "nn/init.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "core/functions.h"

namespace duet::nn::init {

std::pair<int64_t, int64_t> fans(const Tensor& w) {
  DUET_CHECK(w.dim() >= 2, "init: fan in/out needs a tensor with at least 2 dims, got shape ", w.sizes());
  int64_t receptive = 1;
  for (int64_t d = 2; d < w.dim(); ++d) receptive *= w.size(d);
  return {w.size(1) * receptive, w.size(0) * receptive};
}

double calculate_gain(const std::string& nl, double param) {
  if (nl == "linear" || nl == "sigmoid" || nl == "conv1d" || nl == "conv2d") return 1.0;
  if (nl == "tanh") return 5.0 / 3.0;
  if (nl == "relu") return std::sqrt(2.0);
  if (nl == "leaky_relu") return std::sqrt(2.0 / (1 + param * param));
  if (nl == "selu") return 3.0 / 4.0;
  DUET_FAIL("init.calculate_gain: unknown nonlinearity '", nl, "'");
}

namespace {
void assign(const Tensor& t, const Tensor& values) {
  NoGradGuard no_grad;
  t.copy_(values);
}
int64_t fan_for(const Tensor& t, const std::string& mode) {
  auto [in, out] = fans(t);
  DUET_CHECK(mode == "fan_in" || mode == "fan_out", "init: mode must be \"fan_in\" or \"fan_out\", got \"", mode, "\"");
  return mode == "fan_in" ? in : out;
}
}  // namespace

void uniform_(const Tensor& t, double low, double high) { assign(t, uniform(t.sizes(), low, high, {t.dtype(), t.device()})); }
void normal_(const Tensor& t, double mean, double std) { assign(t, normal(t.sizes(), mean, std, {t.dtype(), t.device()})); }
void constant_(const Tensor& t, double value) {
  NoGradGuard no_grad;
  t.fill_(value);
}
void zeros_(const Tensor& t) { constant_(t, 0); }
void ones_(const Tensor& t) { constant_(t, 1); }

void kaiming_uniform_(const Tensor& t, double a, const std::string& mode, const std::string& nonlinearity) {
  double std = calculate_gain(nonlinearity, a) / std::sqrt(double(fan_for(t, mode)));
  double bound = std::sqrt(3.0) * std;
  uniform_(t, -bound, bound);
}

void kaiming_normal_(const Tensor& t, double a, const std::string& mode, const std::string& nonlinearity) {
  normal_(t, 0, calculate_gain(nonlinearity, a) / std::sqrt(double(fan_for(t, mode))));
}

void xavier_uniform_(const Tensor& t, double gain) {
  auto [in, out] = fans(t);
  double bound = gain * std::sqrt(6.0 / double(in + out));
  uniform_(t, -bound, bound);
}

void xavier_normal_(const Tensor& t, double gain) {
  auto [in, out] = fans(t);
  normal_(t, 0, gain * std::sqrt(2.0 / double(in + out)));
}

}  // namespace duet::nn::init
