// CUDA kernels of the factories: full, arange, linspace, eye and the Philox draws
// (rand_uniform, rand_normal, randint). Element i of every factory comes from the same
// formula as on the CPU (kernels/factory_math.h: explicit fmas, a private log and cos for
// the normal draw), so a CUDA factory gives BITWISE the values the CPU kernel gives for
// the same attrs, random draws included: element i is a function of (seed, offset + i).
// Values are converted to the output dtype with the CPU's static_cast semantics
// (dev::store_as: 16-bit floats through float, as Half(float(v)) does).
//
// Versions: v1 one element per thread in a grid-stride loop (random ones run one Philox
// block per element, as the CPU does, so counters line up); full of zero bits or of a
// one-byte value is a cudaMemsetAsync.
// Figures: not yet measured on a GPU.
#include <cstring>

#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/registration.h"
#include "kernels/factory_math.h"

namespace duet::cuda {
namespace {

template <typename W>
__global__ void fill_kernel(W* p, int64_t n, W value) {
  DUET_CUDA_KERNEL_LOOP(i, n) p[i] = value;
}

__global__ void arange_int_kernel(void* out, DType dt, int64_t n, int64_t start, int64_t step) {
  DUET_CUDA_KERNEL_LOOP(i, n) dev::store_as(out, i, dt, factory::arange_int_value(start, step, i));
}
__global__ void arange_float_kernel(void* out, DType dt, int64_t n, double start, double step) {
  DUET_CUDA_KERNEL_LOOP(i, n) dev::store_as(out, i, dt, factory::arange_value(start, step, i));
}
__global__ void linspace_kernel(void* out, DType dt, int64_t n, double start, double end, double step) {
  DUET_CUDA_KERNEL_LOOP(i, n) {
    dev::store_as(out, i, dt, n == 1 ? start : factory::linspace_value(start, end, step, n, i));
  }
}
__global__ void eye_kernel(void* out, DType dt, int64_t n, int64_t m) {
  DUET_CUDA_KERNEL_LOOP(i, n) dev::store_as(out, i, dt, i / m == i % m ? 1.0 : 0.0);
}
__global__ void uniform_double_kernel(void* out, DType dt, int64_t n, uint64_t seed, uint64_t offset, double low,
                                      double span) {
  DUET_CUDA_KERNEL_LOOP(i, n) dev::store_as(out, i, dt, factory::uniform_double(seed, offset + uint64_t(i), low, span));
}
__global__ void uniform_float_kernel(void* out, DType dt, int64_t n, uint64_t seed, uint64_t offset, float lo,
                                     float span, float hi) {
  DUET_CUDA_KERNEL_LOOP(i, n) {
    dev::store_as(out, i, dt, factory::uniform_float(seed, offset + uint64_t(i), lo, span, hi));
  }
}
__global__ void normal_kernel(void* out, DType dt, int64_t n, uint64_t seed, uint64_t offset, double mean,
                              double stddev) {
  DUET_CUDA_KERNEL_LOOP(i, n) dev::store_as(out, i, dt, factory::normal_double(seed, offset + uint64_t(i), mean, stddev));
}
__global__ void randint_kernel(void* out, DType dt, int64_t n, uint64_t seed, uint64_t offset, int64_t low,
                               uint64_t range) {
  DUET_CUDA_KERNEL_LOOP(i, n) dev::store_as(out, i, dt, factory::randint_value(seed, offset + uint64_t(i), low, range));
}

// Factories write a fresh contiguous output; this is its launch context.
struct Target {
  DeviceGuard guard;
  void* data;
  DType dtype;
  int64_t n;
  int grid;
  explicit Target(const Tensor& out)
      : guard(out.device().index), data(out.data_ptr()), dtype(out.dtype()), n(out.numel()), grid(grid_for(n)) {
    DUET_ASSERT(out.is_contiguous(), "factories write a contiguous output");
  }
};

void full_cuda(std::span<const Tensor>, const Tensor& out, const Attrs& attrs) {
  Target t(out);
  const double v = attrs.get_number("value");
  uint64_t bits = 0;
  const size_t size = dtype_size(t.dtype);
  visit_dtype(t.dtype, [&]<typename T>() {
    const T value = static_cast<T>(static_cast<compute_t<T>>(v));  // the CPU's full_kernel
    std::memcpy(&bits, &value, sizeof(T));
  });
  cudaStream_t s = current_stream();
  if (bits == 0 || size == 1) {
    DUET_CUDA_CHECK(cudaMemsetAsync(t.data, int(bits & 0xff), size_t(t.n) * size, s));
    return;
  }
  switch (size) {
    case 2: fill_kernel<<<t.grid, kThreads, 0, s>>>(static_cast<uint16_t*>(t.data), t.n, uint16_t(bits)); break;
    case 4: fill_kernel<<<t.grid, kThreads, 0, s>>>(static_cast<uint32_t*>(t.data), t.n, uint32_t(bits)); break;
    default: fill_kernel<<<t.grid, kThreads, 0, s>>>(static_cast<uint64_t*>(t.data), t.n, bits); break;
  }
  DUET_CUDA_CHECK_LAUNCH();
}

void arange_cuda(std::span<const Tensor>, const Tensor& out, const Attrs& attrs) {
  Target t(out);
  const double start = attrs.get_number("start"), step = attrs.get_number("step");
  if (is_integral(t.dtype))
    arange_int_kernel<<<t.grid, kThreads, 0, current_stream()>>>(t.data, t.dtype, t.n, int64_t(start), int64_t(step));
  else
    arange_float_kernel<<<t.grid, kThreads, 0, current_stream()>>>(t.data, t.dtype, t.n, start, step);
  DUET_CUDA_CHECK_LAUNCH();
}

void linspace_cuda(std::span<const Tensor>, const Tensor& out, const Attrs& attrs) {
  Target t(out);
  const double start = attrs.get_number("start"), end = attrs.get_number("end");
  const double step = t.n > 1 ? (end - start) / double(t.n - 1) : 0.0;
  linspace_kernel<<<t.grid, kThreads, 0, current_stream()>>>(t.data, t.dtype, t.n, start, end, step);
  DUET_CUDA_CHECK_LAUNCH();
}

void eye_cuda(std::span<const Tensor>, const Tensor& out, const Attrs&) {
  Target t(out);
  eye_kernel<<<t.grid, kThreads, 0, current_stream()>>>(t.data, t.dtype, t.n, out.size(1));
  DUET_CUDA_CHECK_LAUNCH();
}

uint64_t attr_u64(const Attrs& attrs, const char* key) { return uint64_t(attrs.get<int64_t>(key)); }

void rand_uniform_cuda(std::span<const Tensor>, const Tensor& out, const Attrs& attrs) {
  Target t(out);
  const uint64_t seed = attr_u64(attrs, "seed"), offset = attr_u64(attrs, "offset");
  const double low = attrs.get_number("low"), high = attrs.get_number("high");
  if (t.dtype == DType::Float64)
    uniform_double_kernel<<<t.grid, kThreads, 0, current_stream()>>>(t.data, t.dtype, t.n, seed, offset, low,
                                                                     high - low);
  else
    uniform_float_kernel<<<t.grid, kThreads, 0, current_stream()>>>(t.data, t.dtype, t.n, seed, offset, float(low),
                                                                    float(high - low), float(high));
  DUET_CUDA_CHECK_LAUNCH();
}

void rand_normal_cuda(std::span<const Tensor>, const Tensor& out, const Attrs& attrs) {
  Target t(out);
  normal_kernel<<<t.grid, kThreads, 0, current_stream()>>>(t.data, t.dtype, t.n, attr_u64(attrs, "seed"),
                                                           attr_u64(attrs, "offset"), attrs.get_number("mean"),
                                                           attrs.get_number("std"));
  DUET_CUDA_CHECK_LAUNCH();
}

void randint_cuda(std::span<const Tensor>, const Tensor& out, const Attrs& attrs) {
  Target t(out);
  const int64_t low = attrs.get<int64_t>("low"), high = attrs.get<int64_t>("high");
  randint_kernel<<<t.grid, kThreads, 0, current_stream()>>>(t.data, t.dtype, t.n, attr_u64(attrs, "seed"),
                                                            attr_u64(attrs, "offset"), low,
                                                            uint64_t(high) - uint64_t(low));
  DUET_CUDA_CHECK_LAUNCH();
}

}  // namespace

void register_factory_kernels() {
  register_kernel(OpKind::full, DeviceType::CUDA, full_cuda);
  register_kernel(OpKind::arange, DeviceType::CUDA, arange_cuda);
  register_kernel(OpKind::linspace, DeviceType::CUDA, linspace_cuda);
  register_kernel(OpKind::eye, DeviceType::CUDA, eye_cuda);
  register_kernel(OpKind::rand_uniform, DeviceType::CUDA, rand_uniform_cuda);
  register_kernel(OpKind::rand_normal, DeviceType::CUDA, rand_normal_cuda);
  register_kernel(OpKind::randint, DeviceType::CUDA, randint_cuda);
}

}  // namespace duet::cuda
