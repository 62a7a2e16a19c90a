// The CUDA runtime layer for code that includes CUDA headers (kernels/cuda/*.cu and the
// backend's .cpp files): the device guard, each device's stream, and cached device
// properties. The portable API (device_count, copies, ...) is in cuda_api.h.
//
// Stream model: each device has ONE stream, created on first use with
// cudaStreamNonBlocking. Every kernel, copy and library call for a tensor on cuda:N is
// queued on N's stream, so ops run in issue order without events, and the caching
// allocator can hand a block freed by one op to the next op at once (the next op's
// work is queued behind every use of the block). The host waits only where it reads
// device data (item(), to(cpu), printing) or where cudaFree needs the device idle.
//
//   DeviceGuard guard(out.device().index);   // cudaSetDevice for this scope
//   my_kernel<<<grid, threads, 0, current_stream()>>>(...);
#pragma once

#include <cuda_runtime_api.h>

#include "kernels/cuda/cuda_api.h"
#include "kernels/cuda/cuda_check.h"

namespace duet::cuda {

// Makes `index` the current device for its scope and restores the previous one after.
class DeviceGuard {
 public:
  explicit DeviceGuard(int index);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

int current_device();
// The stream of device `index` (created on first use; never destroyed).
cudaStream_t stream(int index);
// The stream of the current device.
cudaStream_t current_stream();
// Properties of device `index`, read once.
const cudaDeviceProp& device_properties(int index);

}  // namespace duet::cuda
