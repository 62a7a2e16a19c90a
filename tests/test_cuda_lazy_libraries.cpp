// A CUDA build opens cuBLAS, NVRTC and cuDNN on first use (kernels/cuda/cuda_libs.h), so a
// CPU-only program maps none of them (label `cuda`, runs without a GPU): after CPU matmul,
// convolution, softmax and a training step's worth of autograd, and after asking how many
// devices there are, /proc/self/maps names no libcublas, libcublasLt, libnvrtc or libcudnn.
// Then cuda::load_libraries() opens them and binds every function duet calls (no device
// needed), and they are mapped. In a build without CUDA the cases say they skipped (and
// load_libraries is an error).
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "core/error.h"
#include "core/functions.h"
#include "core/generator.h"
#include "kernels/cuda/cuda_api.h"
#include "tests/cuda_test_support.h"

using namespace duet;

namespace {

std::string mapped_files() {
  std::ifstream f("/proc/self/maps");
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

}  // namespace

TEST_CASE("a CUDA build maps no cuBLAS, NVRTC or cuDNN until a CUDA op needs them") {
  if (!cuda::built_with_cuda()) {
    MESSAGE("skipped: this build has no CUDA, so there is nothing to load lazily");
    return;
  }
  manual_seed(1);
  Tensor w = randn({16, 3, 3, 3}).requires_grad_(true);
  Tensor x = randn({2, 3, 8, 8});
  Tensor y = softmax(matmul(conv2d(x, w).flatten(1), randn({16 * 6 * 6, 10})), 1);
  y.sum().backward();
  (void)duet::testing::skip_without_gpu();  // probes the devices, as programs do at start-up
  const std::string maps = mapped_files();
  for (const char* lib : {"libcublas", "libnvrtc", "libcudnn"}) {
    CAPTURE(lib);
    CHECK(maps.find(lib) == std::string::npos);
  }
}

TEST_CASE("load_libraries opens cuBLAS and NVRTC (and cuDNN where built) and binds every function duet calls") {
  if (!cuda::built_with_cuda()) {
    CHECK_THROWS_AS(cuda::load_libraries(), Error);
    MESSAGE("skipped: this build has no CUDA");
    return;
  }
  cuda::load_libraries();  // throws naming the library and symbol if one is missing
  const std::string maps = mapped_files();
  CHECK(maps.find("libcublas") != std::string::npos);
  CHECK(maps.find("libnvrtc") != std::string::npos);
}
