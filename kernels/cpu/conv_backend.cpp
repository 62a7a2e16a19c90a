// DUET_CONV / set_conv_backend: the choice of convolution backend per device
// (conv_backend.h), parsed in one place so that the environment variable and the APIs give
// the same errors. Plain C++, built in every build; the oneDNN calls are compiled in only
// with oneDNN.
#include "kernels/cpu/conv_backend.h"

#include <atomic>
#include <cstdlib>

#include "core/error.h"
#include "kernels/cpu/conv_onednn.h"
#include "kernels/cuda/cuda_api.h"
#include "kernels/cuda/cudnn_softmax.h"

namespace duet::cpu {
namespace {

constexpr const char* kNotBuilt =
    ": the convolution backend 'onednn' was not built into this build of duet: configure with oneDNN installed "
    "(Debian's libdnnl-dev; scripts/bootstrap.sh installs it) and -DDUET_ONEDNN=AUTO (the default) or ON, then "
    "rebuild; available: duet";

// Both devices' choices from one DUET_CONV value (the table in conv_backend.h).
struct Choice {
  ConvBackend cpu = ConvBackend::Duet;
  cuda::ConvBackend cuda = cuda::ConvBackend::Duet;
};
Choice parse_choice(std::string_view name, const char* where) {
  if (name == "duet") return {};
  if (name == "cudnn") {
    DUET_CHECK(cuda::built_with_cuda(), where, ": the convolution backend 'cudnn' needs CUDA, and ",
               cuda::unavailable_reason());
    DUET_CHECK(cuda::cudnn_available(), where,
               ": the convolution backend 'cudnn' is not available: this build of duet did not find cuDNN "
               "(libcudnn and cudnn.h) when it was configured");
    return {ConvBackend::Duet, cuda::ConvBackend::Cudnn};
  }
  DUET_CHECK(name == "onednn", where, ": unknown convolution backend '", name,
             "'; expected one of duet, onednn, cudnn");
  DUET_CHECK(conv_backend_available(ConvBackend::OneDNN), where, kNotBuilt);
  return {ConvBackend::OneDNN, cuda::ConvBackend::Duet};
}

std::atomic<int> g_backend{-1};       // -1: DUET_CONV not read yet
std::atomic<int> g_cuda_backend{-1};  // the same for CUDA tensors

// Reads DUET_CONV into both slots that are still unset.
void read_environment() {
  const char* env = std::getenv("DUET_CONV");
  const Choice c = env && *env ? parse_choice(env, "DUET_CONV (environment variable)") : Choice{};
  int unset = -1;
  g_backend.compare_exchange_strong(unset, int(c.cpu));
  unset = -1;
  g_cuda_backend.compare_exchange_strong(unset, int(c.cuda));
}

}  // namespace

const char* conv_backend_name(ConvBackend backend) {
  switch (backend) {
    case ConvBackend::Duet: return "duet";
    case ConvBackend::OneDNN: return "onednn";
  }
  return "?";
}

bool conv_backend_available(ConvBackend backend) {
#ifdef DUET_HAVE_ONEDNN
  return true;
#else
  return backend == ConvBackend::Duet;
#endif
}

void set_conv_backend(ConvBackend backend) {
  DUET_CHECK(conv_backend_available(backend), "set_conv_backend", kNotBuilt);
  g_backend.store(int(backend));
}

void set_conv_backend(std::string_view name) {
  DUET_CHECK(name != "cudnn", "set_conv_backend: 'cudnn' runs CUDA tensors; select it with cuda::set_conv_backend "
             "(the CPU backends are duet, onednn)");
  g_backend.store(int(parse_choice(name, "set_conv_backend").cpu));
}

ConvBackend get_conv_backend() {
  if (g_backend.load() < 0) read_environment();  // a bad value is reported at the first convolution
  return ConvBackend(g_backend.load());
}

void detail::reset_conv_backend_for_testing() {
  g_backend.store(-1);
  g_cuda_backend.store(-1);
}

bool conv_on_selected_backend(ConvPass pass, std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  if (get_conv_backend() == ConvBackend::Duet) return false;
#ifdef DUET_HAVE_ONEDNN
  if (!onednn::takes(inputs, out)) return false;
  switch (pass) {
    case ConvPass::Forward: onednn::conv2d(inputs, out, attrs); break;
    case ConvPass::InputGrad: onednn::conv2d_input_grad(inputs, out, attrs); break;
    case ConvPass::WeightGrad: onednn::conv2d_weight_grad(inputs, out, attrs); break;
  }
  return true;
#else
  DUET_ASSERT(false, "the onednn convolution backend is selected in a build without oneDNN");
#endif
}

}  // namespace duet::cpu

namespace duet::cuda {

const char* conv_backend_name(ConvBackend backend) { return backend == ConvBackend::Cudnn ? "cudnn" : "duet"; }

bool conv_backend_available(ConvBackend backend) {
  return backend == ConvBackend::Duet || (built_with_cuda() && cudnn_available());
}

void set_conv_backend(std::string_view name) {
  DUET_CHECK(name != "onednn", "cuda::set_conv_backend: 'onednn' runs CPU tensors; select it with "
             "cpu::set_conv_backend (the CUDA backends are duet, cudnn)");
  cpu::g_cuda_backend.store(int(cpu::parse_choice(name, "cuda::set_conv_backend").cuda));
}

ConvBackend get_conv_backend() {
  if (cpu::g_cuda_backend.load() < 0) cpu::read_environment();
  return ConvBackend(cpu::g_cuda_backend.load());
}

}  // namespace duet::cuda
