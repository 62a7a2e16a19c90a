// Helpers shared by the CUDA test files (tests/test_cuda_*.cpp, ctest label `cuda`):
// skipping with a reason when there is no device, and putting a CPU tensor on the device
// in the same memory layout (views stay views) so strided kernel paths get exercised.
#pragma once

#include <doctest/doctest.h>

#include <cstdio>
#include <memory>
#include <string>

#include "core/tensor.h"
#include "kernels/cuda/cuda_api.h"

namespace duet::testing {

inline const Device kGpu = Device::cuda(0);

// True (after saying so) when there is no device to test on. Every device test starts with
//   if (skip_without_gpu()) return;
inline bool skip_without_gpu() {
  if (cuda::device_count() > 0) return false;
  std::string reason = cuda::unavailable_reason();
  const std::string prefix = "no CUDA device: ";
  if (reason.rfind(prefix, 0) == 0) reason = reason.substr(prefix.size());
  std::string msg = "skipped: no CUDA device (" + reason + ")";
  MESSAGE(msg);
  std::printf("%s\n", msg.c_str());
  return true;
}

// `t` on the device with the same sizes, strides and offset over a copy of its storage.
inline Tensor to_gpu_same_layout(const Tensor& t) {
  const auto& st = t.storage();
  auto storage = std::make_shared<Storage>(st->nbytes(), kGpu);
  cuda::copy_bytes(storage->data(), kGpu, st->data(), Device::cpu(), st->nbytes());
  return Tensor(std::make_shared<TensorImpl>(storage, t.sizes(), t.strides(), t.storage_offset(), t.dtype(), kGpu));
}

inline Tensor cpu(const Tensor& t) { return t.to(Device::cpu()); }

}  // namespace duet::testing
