// gradcheck: compares the gradients backward computes with central finite differences,
// in float64, for a random projection of the output.
//
//   auto x = randn({3, 4}, DType::Float64).requires_grad_();
//   GradcheckResult r = gradcheck([](auto& in) { return tanh(in[0]).sum({1}); }, {x});
//   CHECK_MESSAGE(r.ok, r.message);
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace duet {

struct GradcheckResult {
  bool ok = true;
  std::string message;  // the first mismatch: input, element, analytic vs numeric
  double max_abs_error = 0;
};

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
};

// Inputs that require grad are checked (they may be views of leaves: then the leaf's
// memory is perturbed through the view). fn must be deterministic.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, GradcheckOptions options = {});

}  // namespace duet
