// Dropout and Flatten.
#include "nn/layers/shape_layers.h"

#include <sstream>

#include "nn/functional.h"

namespace duet::nn {

Dropout::Dropout(double p) : Module("Dropout"), p_(p) {
  DUET_CHECK(p >= 0 && p <= 1, "Dropout: probability must be in [0, 1], got ", p);
}
Tensor Dropout::forward(const Tensor& x) { return functional::dropout(x, p_, is_training()); }
std::string Dropout::extra_repr() const {
  std::ostringstream os;
  os << "p=" << p_;
  return os.str();
}

std::string Flatten::extra_repr() const {
  return "start_dim=" + std::to_string(start_dim_) + ", end_dim=" + std::to_string(end_dim_);
}

}  // namespace duet::nn
