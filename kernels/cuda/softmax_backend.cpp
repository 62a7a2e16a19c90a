// Which implementation runs softmax and log_softmax on CUDA devices (cudnn_softmax.h):
// duet's own kernels by default, cuDNN when DUET_SOFTMAX=cudnn or set_softmax_backend
// asks for it. Plain C++, built in every build, so the choice and its errors behave the
// same with or without CUDA.
#include <atomic>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "kernels/cuda/cuda_api.h"
#include "kernels/cuda/cudnn_softmax.h"

namespace duet::cuda {
namespace {

SoftmaxBackend parse_backend(std::string_view name, const char* where) {
  if (name == "duet") return SoftmaxBackend::Duet;
  DUET_CHECK(name == "cudnn", where, ": unknown softmax backend '", name, "' (expected duet or cudnn)");
  DUET_CHECK(built_with_cuda(), where, ": the cudnn softmax backend needs CUDA, and ", unavailable_reason());
  DUET_CHECK(cudnn_available(), where,
             ": the cudnn softmax backend is not available: this build of duet did not find cuDNN "
             "(libcudnn and cudnn.h) when it was configured");
  return SoftmaxBackend::Cudnn;
}

std::atomic<int>& backend_slot() {
  // Read once from the environment; a bad value is reported on the first softmax, where
  // the error reaches the user, not at start-up.
  static std::atomic<int> slot{-1};
  return slot;
}

}  // namespace

bool cudnn_available() {
#if defined(DUET_HAVE_CUDNN)
  return true;
#else
  return false;
#endif
}

void set_softmax_backend(std::string_view name) {
  backend_slot().store(int(parse_backend(name, "set_softmax_backend")));
}

SoftmaxBackend get_softmax_backend() {
  int v = backend_slot().load();
  if (v < 0) {
    const char* env = std::getenv("DUET_SOFTMAX");
    v = int(env && *env ? parse_backend(env, "DUET_SOFTMAX") : SoftmaxBackend::Duet);
    backend_slot().store(v);
  }
  return SoftmaxBackend(v);
}

}  // namespace duet::cuda
