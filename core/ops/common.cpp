// Helpers shared by the shape functions.
#include <string>

#include "core/ops/shape_fns.h"

namespace duet {

Device common_device(OpKind op, std::span<const Tensor> inputs) {
  Device d = inputs.empty() ? Device::cpu() : inputs[0].device();
  for (size_t i = 1; i < inputs.size(); ++i)
    DUET_CHECK(inputs[i].device() == d, op_name(op), ": expected all tensors on one device, but input 0 is on ", d,
               " and input ", i, " is on ", inputs[i].device());
  return d;
}

std::string describe(const Tensor& t) { return std::string(dtype_name(t.dtype())) + shape_str(t.sizes()); }

}  // namespace duet
