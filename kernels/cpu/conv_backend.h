// Which implementation runs the convolution kernels (conv2d, conv2d_input_grad,
// conv2d_weight_grad) on each device. DUET_CONV (read once, at the first convolution) names
// a backend for the device it belongs to; the other device keeps duet's:
//
//   DUET_CONV   CPU                              CUDA
//   duet        duet (kernels/cpu/conv.cpp)      duet (kernels/cuda/conv.cu)
//   onednn      oneDNN (conv_onednn.cpp)         duet
//   cudnn       duet                             cuDNN (kernels/cuda/cudnn_conv.cpp)
//
// cpu::set_conv_backend / cuda::set_conv_backend choose per device at run time (tests,
// benchmarks). Asking for onednn in a build without oneDNN, cudnn in one without CUDA and
// cuDNN, a backend of the other device, or a name that is not a backend, is a duet::Error:
// there is no silent fallback. Calls oneDNN cannot run (float64, an operand with no
// elements) run on duet's kernel whatever the choice; conv_onednn.h says which.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/attrs.h"
#include "core/tensor.h"

namespace duet::cpu {

enum class ConvBackend : uint8_t { Duet, OneDNN };

const char* conv_backend_name(ConvBackend backend);  // "duet", "onednn"
bool conv_backend_available(ConvBackend backend);    // onednn: built with DUET_ONEDNN
void set_conv_backend(ConvBackend backend);
void set_conv_backend(std::string_view name);
ConvBackend get_conv_backend();

enum class ConvPass : uint8_t { Forward, InputGrad, WeightGrad };

// The hook of conv.cpp's entry kernels: runs the pass on the selected vendor backend and
// returns true, or returns false when duet's own kernel is to run it.
bool conv_on_selected_backend(ConvPass pass, std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs);

namespace detail {
// Forgets both devices' choices, so the next convolution reads DUET_CONV again (tests).
void reset_conv_backend_for_testing();
}  // namespace detail

}  // namespace duet::cpu

namespace duet::cuda {

enum class ConvBackend : uint8_t { Duet, Cudnn };

const char* conv_backend_name(ConvBackend backend);  // "duet", "cudnn"
bool conv_backend_available(ConvBackend backend);    // cudnn: a CUDA build that found cuDNN
void set_conv_backend(std::string_view name);
ConvBackend get_conv_backend();

}  // namespace duet::cuda
