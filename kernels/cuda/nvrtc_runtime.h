// Run-time compiled CUDA kernels (CUDA builds only): CUDA C source -> PTX with NVRTC,
// loaded with the runtime API's library management (cudaLibraryLoadData /
// cudaLibraryGetKernel, CUDA 12+; no libcuda link) and launched with cudaLaunchKernel on
// the device's duet stream. Graph mode's fused elementwise groups use it
// (graph/cuda_codegen.h).
//
//   std::string ptx = nvrtc::compile_to_ptx(src, 90);           // host only: no GPU needed
//   nvrtc::KernelHandle k = nvrtc::get_kernel(src, "duet_fused", device);
//   nvrtc::launch(k, device, n, argv);                           // grid-stride over n items
//
// Both levels are cached for the process: PTX by (architecture, source text), loaded
// kernels by (architecture, source text, name); the key is the whole text, so two
// sources never share an entry by a hash collision. Entries are never freed (libraries
// stay loaded until exit, as the streams do).
//
// Plain C++ declarations (no CUDA headers), so graph/ includes it in CUDA builds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace duet::cuda::nvrtc {

// An opaque loaded kernel (a cudaKernel_t); valid for every device of its architecture.
using KernelHandle = const void*;

// Compute capabilities NVRTC of this toolkit can target (e.g. 75 ... 120), ascending.
const std::vector<int>& supported_archs();
// The architecture a device of compute capability `device_arch` (major * 10 + minor) is
// compiled for: itself, or the newest NVRTC knows when the device is newer (the driver
// compiles that PTX for the device). Throws duet::Error when NVRTC is too new for it.
int target_arch(int device_arch);

// PTX for `source` compiled for compute_<arch> with -default-device --std=c++17
// --fmad=false. Needs no GPU. Throws duet::Error with NVRTC's log and the source when
// the compilation fails. Cached.
std::string compile_to_ptx(const std::string& source, int arch);

// The kernel `name` (extern "C") of `source`, compiled for cuda:`device` and loaded.
KernelHandle get_kernel(const std::string& source, const std::string& name, int device);

// Launches `kernel` on cuda:`device`'s stream with 256-thread blocks, enough of them for
// `work_items` grid-stride items (capped at 32 per multiprocessor). `args`: one pointer
// per kernel parameter, as cudaLaunchKernel takes them.
void launch(KernelHandle kernel, int device, int64_t work_items, void** args);

// NVRTC compilations done by this process (cache misses of compile_to_ptx).
int64_t compilations();

}  // namespace duet::cuda::nvrtc
