// CPU kernel of as_strided_scatter (kernels/strided_window.h); as_strided is a view.
#include "kernels/cpu/kernels.h"
#include "kernels/strided_window.h"

namespace duet::cpu {

void as_strided_scatter_kernel(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  scatter_into_window(inputs, out, attrs, copy_kernel);
}

}  // namespace duet::cpu
