// The CUDA backend's runtime (built only with CUDA): device discovery, the start-up that
// registers kernels and allocators, device guards, one stream per device, and copies
// between host and device. See cuda_api.h for the portable API and runtime.h for the
// stream model.
#include "kernels/cuda/runtime.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <sstream>

#include "core/allocator.h"
#include "core/dispatch.h"
#include "core/tensor.h"
#include "kernels/cuda/caching_allocator.h"
#include "kernels/cuda/registration.h"

namespace duet::cuda {

namespace detail {

std::string describe_cuda_error(cudaError_t err) {
  return std::string(cudaGetErrorName(err)) + " (" + cudaGetErrorString(err) + ")";
}

void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line) {
  std::ostringstream os;
  os << "CUDA error: " << expr << " failed with " << describe_cuda_error(err) << " at " << file << ":" << line;
  throw Error(os.str());
}

}  // namespace detail

namespace {

// What cudaGetDeviceCount said, asked once. A missing driver or device is not an error
// here: it makes device_count() 0 and the reason is kept for messages.
struct Probe {
  int count = 0;
  std::string reason;
};

const Probe& probe() {
  static const Probe p = [] {
    Probe r;
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();  // clear it, so later calls start clean
      r.reason = "no CUDA device: cudaGetDeviceCount failed with " + detail::describe_cuda_error(err);
    } else if (n == 0) {
      r.reason = "no CUDA device: cudaGetDeviceCount found none";
    } else {
      r.count = std::min(n, kMaxDevicesPerType);
    }
    return r;
  }();
  return p;
}

class CudaRawMemory final : public RawMemory {
 public:
  explicit CudaRawMemory(int device) : device_(device) {}
  void* allocate(size_t nbytes) override {
    DeviceGuard guard(device_);
    void* p = nullptr;
    cudaError_t err = cudaMalloc(&p, nbytes);
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      return nullptr;
    }
    DUET_CUDA_CHECK(err);
    return p;
  }
  void release(void* ptr, size_t) override {
    DeviceGuard guard(device_);
    DUET_CUDA_CHECK(cudaFree(ptr));
  }
  void synchronize() override {
    DeviceGuard guard(device_);
    DUET_CUDA_CHECK(cudaStreamSynchronize(stream(device_)));
  }

 private:
  int device_;
};

// The device allocators live for the whole process (never destroyed: at static
// destruction the driver may already be gone, and tensors may still be freed then).
CachingAllocator* g_allocators[kMaxDevicesPerType] = {};
std::once_flag g_init_once;

std::mutex g_stream_mu;
std::atomic<cudaStream_t> g_streams[kMaxDevicesPerType] = {};

std::mutex g_props_mu;
std::unique_ptr<cudaDeviceProp> g_props[kMaxDevicesPerType];

void start_backend() {
  register_all_kernels();
  for (int i = 0; i < probe().count; ++i) {
    g_allocators[i] = new CachingAllocator(Device::cuda(i), std::make_unique<CudaRawMemory>(i));
    register_allocator(Device::cuda(i), g_allocators[i]);
  }
}

}  // namespace

void register_all_kernels() {
  register_elementwise_unary_kernels();
  register_elementwise_binary_kernels();
  register_copy_kernels();
  register_factory_kernels();
  register_matmul_kernels();
  register_reduction_kernels();
  register_softmax_kernels();
  register_indexing_kernels();
  register_conv_kernels();
  register_pool_kernels();
  register_batch_norm_kernels();
  register_layer_norm_kernels();
  register_attention_kernels();
  register_topk_kernels();
}

bool built_with_cuda() { return true; }
int device_count() { return probe().count; }
bool is_available() { return probe().count > 0; }
std::string unavailable_reason() { return probe().reason; }

void check_device(Device d, const char* what) {
  if (d.is_cpu()) return;
  const Probe& p = probe();
  if (p.count == 0) DUET_FAIL(what, ": cannot use ", d, ": ", p.reason);
  DUET_CHECK(d.index >= 0 && d.index < p.count, what, ": cannot use ", d, ": this machine has ", p.count,
             " CUDA device(s), cuda:0 to cuda:", p.count - 1);
}

void ensure_initialized(Device d, const char* what) {
  check_device(d, what);
  std::call_once(g_init_once, start_backend);
}

// ---- devices and streams

DeviceGuard::DeviceGuard(int index) {
  DUET_CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != index) {
    DUET_CUDA_CHECK(cudaSetDevice(index));
  } else {
    previous_ = -1;  // nothing to restore
  }
}

DeviceGuard::~DeviceGuard() {
  if (previous_ >= 0) (void)cudaSetDevice(previous_);  // a destructor cannot throw; the next check reports
}

int current_device() {
  int d = 0;
  DUET_CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

cudaStream_t stream(int index) {
  DUET_ASSERT(index >= 0 && index < kMaxDevicesPerType, "device index ", index);
  cudaStream_t s = g_streams[index].load(std::memory_order_acquire);
  if (s) return s;
  std::lock_guard<std::mutex> lock(g_stream_mu);
  s = g_streams[index].load(std::memory_order_relaxed);
  if (!s) {
    DeviceGuard guard(index);
    DUET_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    g_streams[index].store(s, std::memory_order_release);
  }
  return s;
}

cudaStream_t current_stream() { return stream(current_device()); }

const cudaDeviceProp& device_properties(int index) {
  DUET_ASSERT(index >= 0 && index < kMaxDevicesPerType, "device index ", index);
  std::lock_guard<std::mutex> lock(g_props_mu);
  if (!g_props[index]) {
    auto p = std::make_unique<cudaDeviceProp>();
    DUET_CUDA_CHECK(cudaGetDeviceProperties(p.get(), index));
    g_props[index] = std::move(p);
  }
  return *g_props[index];
}

void synchronize(Device d) {
  ensure_initialized(d, "synchronize");
  DeviceGuard guard(d.index);
  DUET_CUDA_CHECK(cudaStreamSynchronize(stream(d.index)));
}

void empty_cache() {
  for (CachingAllocator* a : g_allocators)
    if (a) a->empty_cache();
}

// ---- copies

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes) {
  if (nbytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(dst, src, nbytes);
    return;
  }
  check_device(dst_device, "copy");
  check_device(src_device, "copy");
  if (src_device.is_cpu()) {
    // From pageable memory the call returns once the source is staged: the caller may
    // free or change it at once, and work queued later on the stream sees the data.
    DeviceGuard guard(dst_device.index);
    DUET_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, stream(dst_device.index)));
  } else if (dst_device.is_cpu()) {
    DeviceGuard guard(src_device.index);
    cudaStream_t s = stream(src_device.index);
    DUET_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, s));
    DUET_CUDA_CHECK(cudaStreamSynchronize(s));
  } else if (dst_device == src_device) {
    DeviceGuard guard(dst_device.index);
    DUET_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToDevice, stream(dst_device.index)));
  } else {
    // Two streams: let the source's writers and the destination's earlier users finish,
    // copy on the destination's stream, and wait, so neither stream needs an event.
    synchronize(src_device);
    synchronize(dst_device);
    DeviceGuard guard(dst_device.index);
    cudaStream_t s = stream(dst_device.index);
    DUET_CUDA_CHECK(cudaMemcpyPeerAsync(dst, dst_device.index, src, src_device.index, nbytes, s));
    DUET_CUDA_CHECK(cudaStreamSynchronize(s));
  }
}

Tensor to_device(const Tensor& t, Device d) {
  check_device(d, "to");
  Tensor src = t.contiguous();  // on t's device: a strided tensor is staged contiguously first
  Tensor out = empty_like_meta({t.sizes(), t.dtype(), d});
  const size_t nbytes = size_t(t.numel()) * dtype_size(t.dtype());
  if (nbytes > 0) copy_bytes(out.data_ptr(), d, src.data_ptr(), src.device(), nbytes);
  return out;
}

}  // namespace duet::cuda
