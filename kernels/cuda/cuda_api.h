// The CUDA backend's host API: plain C++ declarations with no CUDA headers, so core/ and
// the tests include it in every build. In a build without CUDA (DUET_HAVE_CUDA undefined)
// the same functions exist (kernels/cuda/cuda_stub.cpp): device_count() is 0 and anything
// that needs a device throws a duet::Error saying this build has no CUDA support.
//
//   if (duet::cuda::is_available()) {
//     Tensor g = x.to(Device::cuda());          // host -> device
//     float v = (g * 2.0).sum().item<float>();  // item() copies back and waits
//   } else {
//     std::cout << duet::cuda::unavailable_reason() << "\n";
//   }
//
// The backend starts on the first use of a CUDA device (allocator_for(cuda:N) calls
// ensure_initialized): it registers the CUDA kernels in the op registry and a caching
// allocator per device. Registration is explicit rather than by static initialisers
// because duet is a static library and the linker drops object files nothing references.
#pragma once

#include <cstddef>
#include <string>

#include "core/device.h"

namespace duet {
class Tensor;
}

namespace duet::cuda {

// Whether this build compiled the CUDA backend (DUET_HAVE_CUDA).
bool built_with_cuda();
// Number of usable CUDA devices: 0 without CUDA support, a driver or a device. Never throws.
int device_count();
bool is_available();
// Why device_count() is 0, e.g. "no CUDA device: cudaGetDeviceCount failed with
// cudaErrorNoDevice (no CUDA-capable device is detected)"; "" when a device exists.
std::string unavailable_reason();

// Throws duet::Error "<what>: cannot use cuda:N: <reason>" unless `d` is a CUDA device
// this process can use.
void check_device(Device d, const char* what);
// check_device, then starts the backend once (kernels and allocators registered).
void ensure_initialized(Device d, const char* what = "duet");

// Blocks the host until all work queued on `d`'s stream has finished.
void synchronize(Device d);
// Returns device memory that the caching allocators hold but no tensor uses.
void empty_cache();
// Opens cuBLAS, NVRTC and (where built) cuDNN now and binds every function duet calls,
// instead of on first use (kernels/cuda/cuda_libs.h); throws duet::Error naming what is
// missing. Needs no device. Without CUDA it throws saying so.
void load_libraries();

// Copies `nbytes` between any two of host and device memory (src and dst devices say
// which). Returns when the destination may be read by the host (device -> host) or by
// work queued later on the destination's stream (-> device).
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes);
// A contiguous copy of `t` on `d` (same shape and dtype); the body of Tensor::to(Device).
Tensor to_device(const Tensor& t, Device d);

}  // namespace duet::cuda
