// NVRTC compilation, the PTX and kernel caches, and launches of run-time compiled
// kernels (see nvrtc_runtime.h). Built only with CUDA.
#include "kernels/cuda/nvrtc_runtime.h"

#include <cuda_runtime_api.h>
#include <nvrtc.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <unordered_map>

#include "core/error.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_lib_check.h"
#include "kernels/cuda/cuda_libs.h"
#include "kernels/cuda/runtime.h"

namespace duet::cuda::nvrtc {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kBlocksPerSm = 32;  // as cuda_common.cuh's grid_for

std::mutex g_mu;  // guards both caches
std::unordered_map<std::string, std::string> g_ptx;       // "arch\n" + source -> PTX
std::unordered_map<std::string, KernelHandle> g_kernels;  // "arch\nname\n" + source -> kernel
std::atomic<int64_t> g_compilations{0};

// Destroys the program on every path out, the throwing ones included.
struct Program {
  nvrtcProgram p = nullptr;
  ~Program() {
    if (p) (void)libs::nvrtc().destroy_program(&p);
  }
};

std::string program_log(nvrtcProgram p) {
  size_t n = 0;
  if (libs::nvrtc().get_program_log_size(p, &n) != NVRTC_SUCCESS || n <= 1) return "(no log)";
  std::string log(n, '\0');
  if (libs::nvrtc().get_program_log(p, log.data()) != NVRTC_SUCCESS) return "(no log)";
  log.resize(n - 1);  // the terminating NUL
  return log;
}

std::string compile_locked(const std::string& source, int arch) {
  Program prog;
  DUET_NVRTC_CHECK(libs::nvrtc().create_program(&prog.p, source.c_str(), "duet_fused.cu", 0, nullptr, nullptr));
  const std::string gpu = "--gpu-architecture=compute_" + std::to_string(arch);
  const char* opts[] = {gpu.c_str(), "-default-device", "--std=c++17", "--fmad=false"};
  try {
    DUET_NVRTC_CHECK(libs::nvrtc().compile_program(prog.p, int(std::size(opts)), opts));
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " for compute_" + std::to_string(arch) + "\nNVRTC log:\n" +
                program_log(prog.p) + "\nsource:\n" + source);
  }
  size_t n = 0;
  DUET_NVRTC_CHECK(libs::nvrtc().get_ptx_size(prog.p, &n));
  std::string ptx(n, '\0');
  DUET_NVRTC_CHECK(libs::nvrtc().get_ptx(prog.p, ptx.data()));
  if (!ptx.empty() && ptx.back() == '\0') ptx.pop_back();
  g_compilations.fetch_add(1, std::memory_order_relaxed);
  return ptx;
}

const std::string& cached_ptx_locked(const std::string& source, int arch) {
  std::string key = std::to_string(arch) + "\n" + source;
  auto it = g_ptx.find(key);
  if (it == g_ptx.end()) it = g_ptx.emplace(std::move(key), compile_locked(source, arch)).first;
  return it->second;
}

}  // namespace

const std::vector<int>& supported_archs() {
  static const std::vector<int> archs = [] {
    int n = 0;
    DUET_NVRTC_CHECK(libs::nvrtc().get_num_supported_archs(&n));
    std::vector<int> a(size_t(std::max(n, 0)));
    if (n > 0) DUET_NVRTC_CHECK(libs::nvrtc().get_supported_archs(a.data()));
    std::sort(a.begin(), a.end());
    return a;
  }();
  return archs;
}

int target_arch(int device_arch) {
  const std::vector<int>& archs = supported_archs();
  DUET_CHECK(!archs.empty() && device_arch >= archs.front(), "NVRTC: this CUDA toolkit cannot compile for compute "
             "capability ", device_arch / 10, ".", device_arch % 10, " (it supports ",
             archs.empty() ? 0 : archs.front(), " to ", archs.empty() ? 0 : archs.back(), ")");
  int best = archs.front();
  for (int a : archs)
    if (a <= device_arch) best = a;
  return best;
}

std::string compile_to_ptx(const std::string& source, int arch) {
  std::lock_guard<std::mutex> lock(g_mu);
  return cached_ptx_locked(source, arch);
}

KernelHandle get_kernel(const std::string& source, const std::string& name, int device) {
  const cudaDeviceProp& props = device_properties(device);
  const int arch = target_arch(props.major * 10 + props.minor);
  std::lock_guard<std::mutex> lock(g_mu);
  std::string key = std::to_string(arch) + "\n" + name + "\n" + source;
  if (auto it = g_kernels.find(key); it != g_kernels.end()) return it->second;
  const std::string& ptx = cached_ptx_locked(source, arch);
  // A library loaded through the runtime is context-independent: its kernels load into
  // each device's context on first use there, so one entry serves every device of `arch`.
  DeviceGuard guard(device);
  cudaLibrary_t lib = nullptr;
  DUET_CUDA_CHECK(cudaLibraryLoadData(&lib, ptx.c_str(), nullptr, nullptr, 0, nullptr, nullptr, 0));
  cudaKernel_t kernel = nullptr;
  cudaError_t err = cudaLibraryGetKernel(&kernel, lib, name.c_str());
  if (err != cudaSuccess) {
    (void)cudaLibraryUnload(lib);
    DUET_CUDA_CHECK(err);
  }
  KernelHandle h = reinterpret_cast<KernelHandle>(kernel);
  g_kernels.emplace(std::move(key), h);
  return h;
}

void launch(KernelHandle kernel, int device, int64_t work_items, void** args) {
  if (work_items <= 0) return;
  DeviceGuard guard(device);
  const int64_t cap = int64_t(device_properties(device).multiProcessorCount) * kBlocksPerSm;
  const int64_t blocks = std::max<int64_t>(1, std::min<int64_t>((work_items + kThreads - 1) / kThreads, cap));
  // cudaLaunchKernel takes a cudaKernel_t in place of a function symbol (CUDA 12+).
  DUET_CUDA_CHECK(cudaLaunchKernel(kernel, dim3(unsigned(blocks)), dim3(kThreads), args, 0, stream(device)));
}

int64_t compilations() { return g_compilations.load(std::memory_order_relaxed); }

}  // namespace duet::cuda::nvrtc
