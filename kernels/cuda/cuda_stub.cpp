// The CUDA API of cuda_api.h for builds without CUDA (DUET_HAVE_CUDA undefined): no
// devices, and every use of one is a duet::Error saying this build has no CUDA support.
// Compiled in every build; empty when the real backend (runtime.cpp) is built.
#if !defined(DUET_HAVE_CUDA)

#include <cstring>

#include "core/error.h"
#include "core/tensor.h"
#include "kernels/cuda/cuda_api.h"

namespace duet::cuda {
namespace {

constexpr const char* kNoCuda =
    "this build of duet has no CUDA support (reconfigure with -DDUET_CUDA=ON on a machine with nvcc)";

}  // namespace

bool built_with_cuda() { return false; }
int device_count() { return 0; }
bool is_available() { return false; }
std::string unavailable_reason() { return kNoCuda; }

void check_device(Device d, const char* what) {
  if (d.is_cpu()) return;
  DUET_FAIL(what, ": cannot use ", d, ": ", kNoCuda);
}

void ensure_initialized(Device d, const char* what) { check_device(d, what); }
void synchronize(Device d) { check_device(d, "synchronize"); }
void empty_cache() {}
void load_libraries() { DUET_FAIL("load_libraries: ", kNoCuda); }

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes) {
  check_device(dst_device, "copy");
  check_device(src_device, "copy");
  if (nbytes > 0) std::memcpy(dst, src, nbytes);
}

Tensor to_device(const Tensor& t, Device d) {
  check_device(d, "to");
  check_device(t.device(), "to");
  return t;
}

}  // namespace duet::cuda

#endif  // !DUET_HAVE_CUDA
