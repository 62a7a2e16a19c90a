// The softmax backend choice on CUDA devices (label `cuda`): DUET_SOFTMAX / set_softmax_backend
// accept duet and cudnn, refuse anything else and refuse cudnn where the build lacks it,
// with messages that say why (checked in every build); with a GPU, cuDNN's softmax and
// log_softmax match the CPU kernels over dims, dtypes and strided inputs and outputs.
#include <doctest/doctest.h>

#include <cmath>

#include "core/dispatch.h"
#include "core/functions.h"
#include "core/generator.h"
#include "kernels/cuda/cudnn_softmax.h"
#include "tests/cuda_test_support.h"
#include "tests/test_support.h"

using namespace duet;
using duet::testing::cpu;
using duet::testing::kGpu;
using duet::testing::skip_without_gpu;
using duet::testing::values_of;

namespace {

// Restores duet's own kernels when a test ends, whatever it selected.
struct BackendReset {
  ~BackendReset() { cuda::set_softmax_backend("duet"); }
};

}  // namespace

TEST_CASE("softmax backend: the choice and its errors") {
  BackendReset reset;
  EXPECT_ERROR(cuda::set_softmax_backend("cudnnn"), "unknown softmax backend 'cudnnn'", "expected duet or cudnn");
  cuda::set_softmax_backend("duet");
  CHECK(cuda::get_softmax_backend() == cuda::SoftmaxBackend::Duet);
  if (!cuda::built_with_cuda()) {
    EXPECT_ERROR(cuda::set_softmax_backend("cudnn"), "needs CUDA", "no CUDA support");
  } else if (!cuda::cudnn_available()) {
    EXPECT_ERROR(cuda::set_softmax_backend("cudnn"), "did not find cuDNN");
  } else {
    cuda::set_softmax_backend("cudnn");
    CHECK(cuda::get_softmax_backend() == cuda::SoftmaxBackend::Cudnn);
  }
}

TEST_CASE("softmax backend: cuDNN's softmax and log_softmax match the CPU") {
  if (skip_without_gpu()) return;
  if (!cuda::cudnn_available()) {
    MESSAGE("skipped: this build has no cuDNN");
    return;
  }
  BackendReset reset;
  cuda::set_softmax_backend("cudnn");
  manual_seed(4);
  for (DType dt : {DType::Float32, DType::Float64, DType::Float16}) {
    const double tol = dt == DType::Float16 ? 2e-3 : dt == DType::Float32 ? 1e-5 : 1e-12;
    for (bool log : {false, true}) {
      for (int64_t dim : {0, 1, 2}) {
        // A transposed (non-contiguous) input with logits large enough to need the max shift.
        Tensor x = (randn({5, 7, 33}) * 30.0).to(dt).transpose(0, 2);
        Tensor want = log ? log_softmax(x, dim) : softmax(x, dim);
        Tensor got = log ? log_softmax(x.to(kGpu), dim) : softmax(x.to(kGpu), dim);
        INFO("dtype ", dtype_name(dt), ", log ", log, ", dim ", dim);
        auto w = values_of(want), g = values_of(cpu(got));
        double worst = 0;
        for (size_t i = 0; i < w.size(); ++i) worst = std::max(worst, std::fabs(w[i] - g[i]) / (1 + std::fabs(w[i])));
        CHECK(worst <= tol);
      }
    }
  }
  // A strided out (apply_out into a transposed tensor) gets the same values.
  Tensor x = randn({6, 9});
  Tensor out = zeros({9, 6}, {DType::Float32, kGpu}).transpose(0, 1);
  const std::vector<Tensor> in{x.to(kGpu)};
  apply_out(OpKind::softmax, in, Attrs().set("dim", int64_t(1)), out);
  auto w = values_of(softmax(x, 1)), g = values_of(cpu(out));
  for (size_t i = 0; i < w.size(); ++i) CHECK(std::fabs(w[i] - g[i]) <= 1e-6);
}
