// The CUDA kernels behind graph mode's fused convolution and batch-norm nodes (graph/
// fusion.h, run by graph/cuda_codegen.cpp), as kernels/cpu/conv.h and batch_norm.h are on
// the CPU. Each gives the bits of the ops it absorbs run one by one on the device: the
// stores apply eager's operations in eager's order through the same device functions
// (epilogue.cuh).
//
//   cpu::ConvEpilogue epi;                           // device tensors; the struct is the CPU's
//   epi.bias = b; epi.batch_norm = {mean, var, gamma, beta, eps}; epi.relu = true;
//   cuda::conv2d_forward_with_epilogue(x, w, epi, out, conv_attrs);
//   cuda::batch_norm_relu({x, mean, var, gamma, beta}, out, batch_norm_attrs);
//
// Built with CUDA only (the declarations are plain C++).
#pragma once

#include <span>

#include "core/attrs.h"
#include "core/tensor.h"
#include "kernels/cpu/conv.h"

namespace duet::cuda {

// out = epilogue(conv2d(x, w)) with conv2d's attrs; x, w and the epilogue's tensors on
// out's device, of out's dtype (float32 or float64); out contiguous [N, OC, OH, OW]. duet's
// kernels (conv.cu) apply the epilogue as they store; on cuDNN (DUET_CONV=cudnn) the conv
// with its bias is cuDNN's call, as in eager mode, and the batch norm and relu one more
// pass over out.
void conv2d_forward_with_epilogue(const Tensor& x, const Tensor& w, const cpu::ConvEpilogue& epilogue,
                                  const Tensor& out, const Attrs& attrs);

// batch_norm (inputs x, mean, var, weight, bias; attr eps) followed by relu in one pass
// (batch_norm.cu); out contiguous, x any strides.
void batch_norm_relu(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs);

}  // namespace duet::cuda
