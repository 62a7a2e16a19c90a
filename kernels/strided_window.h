// The as_strided_scatter kernel, for any device: the device's copy kernel writes base into
// the output (unless the output is base's own buffer, as when a graph plans the op in
// place) and then src into the window of the output (Note [as_strided over elements] in
// core/ops/strided.cpp). The CPU and CUDA registrations pass their copy kernels.
#pragma once

#include <memory>
#include <span>

#include "core/error.h"
#include "core/op_registry.h"

namespace duet {

inline void scatter_into_window(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs, KernelFn copy) {
  const Tensor &base = inputs[0], &src = inputs[1];
  DUET_ASSERT(out.is_contiguous(), "as_strided_scatter writes a contiguous output");
  const bool in_place = base.storage() == out.storage() && base.storage_offset() == out.storage_offset() &&
                        base.is_contiguous();
  if (!in_place) copy(std::span<const Tensor>(&base, 1), out, {});
  auto window = std::make_shared<TensorImpl>(out.storage(), src.sizes(), Shape(attrs.get<std::vector<int64_t>>("stride")),
                                             out.storage_offset() + attrs.get_or<int64_t>("offset", 0), out.dtype(),
                                             out.device());
  if (src.numel() > 0) copy(std::span<const Tensor>(&src, 1), Tensor(std::move(window)), {});
}

}  // namespace duet
