// The CUDA backend's registration hooks: each kernel file installs its KernelFns in the op
// registry (register_kernel(op, DeviceType::CUDA, fn)) when runtime.cpp's
// ensure_initialized() calls its hook, once, on the first use of a CUDA device. Calling
// them from there (not from static initialisers) keeps the objects in the link: duet is a
// static library, and the linker drops object files that nothing references.
//
// A new kernel family adds its hook here and a call in register_all_kernels().
#pragma once

#include <span>

#include "core/attrs.h"
#include "core/op_registry.h"

namespace duet::cuda {

void register_elementwise_unary_kernels();   // elementwise_unary.cu
void register_elementwise_binary_kernels();  // elementwise_binary.cu
void register_copy_kernels();                // copy.cu: cast, copy, where
void register_factory_kernels();             // factory.cu
void register_matmul_kernels();              // matmul.cu
void register_reduction_kernels();           // reduction.cu: sum ... argmin
void register_softmax_kernels();             // softmax.cu: softmax, log_softmax
void register_indexing_kernels();            // indexing.cu: index_select, gather, scatter_add, cat, one_hot
void register_conv_kernels();                // conv.cu: conv2d, conv2d_input_grad, conv2d_weight_grad
void register_pool_kernels();                // pool.cu: max/avg/adaptive_avg_pool2d and their backward ops
void register_topk_kernels();                // topk.cu: topk_indices
void register_layer_norm_kernels();          // layer_norm.cu: layer_norm, its backward and affine gradients
void register_batch_norm_kernels();          // batch_norm.cu: batch_norm_stats ... batch_norm_backward
void register_attention_kernels();           // attention.cu: attention, attention_backward

// Calls every hook above (runtime.cpp).
void register_all_kernels();

}  // namespace duet::cuda
