// DUET_CONV / set_conv_backend: the choice of CPU convolution backend (conv_backend.h),
// parsed in one place so that the environment variable and the API give the same errors.
// Plain C++, built in every build; the oneDNN calls are compiled in only with oneDNN.
#include "kernels/cpu/conv_backend.h"

#include <atomic>
#include <cstdlib>

#include "core/error.h"
#include "kernels/cpu/conv_onednn.h"

namespace duet::cpu {
namespace {

constexpr const char* kNotBuilt =
    ": the convolution backend 'onednn' was not built into this build of duet: configure with oneDNN installed "
    "(Debian's libdnnl-dev; scripts/bootstrap.sh installs it) and -DDUET_ONEDNN=AUTO (the default) or ON, then "
    "rebuild; available: duet";

ConvBackend parse_backend(std::string_view name, const char* where) {
  if (name == "duet") return ConvBackend::Duet;
  DUET_CHECK(name == "onednn", where, ": unknown convolution backend '", name, "'; expected one of duet, onednn");
  DUET_CHECK(conv_backend_available(ConvBackend::OneDNN), where, kNotBuilt);
  return ConvBackend::OneDNN;
}

std::atomic<int> g_backend{-1};  // -1: DUET_CONV not read yet

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

void set_conv_backend(std::string_view name) { g_backend.store(int(parse_backend(name, "set_conv_backend"))); }

ConvBackend get_conv_backend() {
  int b = g_backend.load();
  if (b < 0) {  // a bad value is reported at the first convolution, where the error reaches the user
    const char* env = std::getenv("DUET_CONV");
    b = int(env && *env ? parse_backend(env, "DUET_CONV (environment variable)") : ConvBackend::Duet);
    g_backend.store(b);
  }
  return ConvBackend(b);
}

void detail::reset_conv_backend_for_testing() { g_backend.store(-1); }

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
