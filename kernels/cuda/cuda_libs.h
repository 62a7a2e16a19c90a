// The CUDA libraries duet calls besides the runtime (cuBLAS, NVRTC and, where built, cuDNN),
// opened with dlopen on first use instead of linked, as PyTorch loads its CUDA libraries
// lazily: a CPU-only run of a CUDA build then maps none of them. Measured on fashion-mlp
// (2-core VM, no GPU, `train_bench --workload fashion-mlp --mode graph --steps 400
// --threads 2`): peak RSS 433.6 MB with them linked (per /proc/PID/smaps: 61 MB of cuBLASLt's
// pages and 27 MB of NVRTC's resident, and 84 MB more anonymous memory), 250.1 MB opened on
// first use, 249.5 MB for a build without CUDA.
//
//   DUET_CUBLAS_CHECK(libs::cublas().gemm_ex(handle, ...));
//
// Each table is loaded whole on its first call (thread-safe); a library that cannot be
// opened, or lacks a symbol, is a duet::Error naming the file, the symbol and dlerror().
// The path CMake found at build time is tried first, then the bare file name (so
// LD_LIBRARY_PATH can point elsewhere on another machine).
#pragma once

#include <cublas_v2.h>
#include <nvrtc.h>

#if defined(DUET_HAVE_CUDNN)
#include <cudnn.h>
#endif

namespace duet::cuda::libs {

struct Cublas {
  // cublas_api.h overloads the two GEMMs for C++ (an inline wrapper taking a cudaDataType
  // compute type), so their types are spelled out: the exported forms.
  using GemmEx = cublasStatus_t (*)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*,
                                    const void*, cudaDataType, int, const void*, cudaDataType, int, const void*, void*,
                                    cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t);
  using GemmStridedBatchedEx = cublasStatus_t (*)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                                  const void*, const void*, cudaDataType, int, long long, const void*,
                                                  cudaDataType, int, long long, const void*, void*, cudaDataType, int,
                                                  long long, int, cublasComputeType_t, cublasGemmAlgo_t);
  decltype(&::cublasCreate_v2) create;
  decltype(&::cublasSetStream_v2) set_stream;
  decltype(&::cublasSetMathMode) set_math_mode;
  GemmEx gemm_ex;
  GemmStridedBatchedEx gemm_strided_batched_ex;
};
const Cublas& cublas();

struct Nvrtc {
  decltype(&::nvrtcCreateProgram) create_program;
  decltype(&::nvrtcCompileProgram) compile_program;
  decltype(&::nvrtcGetProgramLogSize) get_program_log_size;
  decltype(&::nvrtcGetProgramLog) get_program_log;
  decltype(&::nvrtcGetPTXSize) get_ptx_size;
  decltype(&::nvrtcGetPTX) get_ptx;
  decltype(&::nvrtcDestroyProgram) destroy_program;
  decltype(&::nvrtcGetErrorString) get_error_string;
  decltype(&::nvrtcGetNumSupportedArchs) get_num_supported_archs;
  decltype(&::nvrtcGetSupportedArchs) get_supported_archs;
};
const Nvrtc& nvrtc();

#if defined(DUET_HAVE_CUDNN)
// cuDNN 9 marks its convolution API deprecated (in favour of its graph API), but it is
// still shipped and still what PyTorch's v7 path calls.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
struct Cudnn {
  decltype(&::cudnnCreate) create;
  decltype(&::cudnnSetStream) set_stream;
  decltype(&::cudnnCreateTensorDescriptor) create_tensor_descriptor;
  decltype(&::cudnnSetTensor4dDescriptor) set_tensor4d_descriptor;
  decltype(&::cudnnSoftmaxForward) softmax_forward;
  decltype(&::cudnnDestroyTensorDescriptor) destroy_tensor_descriptor;
  decltype(&::cudnnGetErrorString) get_error_string;
  // convolution (cudnn_conv.cpp)
  decltype(&::cudnnSetTensor4dDescriptorEx) set_tensor4d_descriptor_ex;
  decltype(&::cudnnAddTensor) add_tensor;
  decltype(&::cudnnCreateFilterDescriptor) create_filter_descriptor;
  decltype(&::cudnnSetFilter4dDescriptor) set_filter4d_descriptor;
  decltype(&::cudnnDestroyFilterDescriptor) destroy_filter_descriptor;
  decltype(&::cudnnCreateConvolutionDescriptor) create_convolution_descriptor;
  decltype(&::cudnnSetConvolution2dDescriptor) set_convolution2d_descriptor;
  decltype(&::cudnnSetConvolutionGroupCount) set_convolution_group_count;
  decltype(&::cudnnSetConvolutionMathType) set_convolution_math_type;
  decltype(&::cudnnDestroyConvolutionDescriptor) destroy_convolution_descriptor;
  decltype(&::cudnnGetConvolutionForwardAlgorithm_v7) get_forward_algorithm;
  decltype(&::cudnnGetConvolutionForwardWorkspaceSize) get_forward_workspace_size;
  decltype(&::cudnnConvolutionForward) convolution_forward;
  decltype(&::cudnnGetConvolutionBackwardDataAlgorithm_v7) get_backward_data_algorithm;
  decltype(&::cudnnGetConvolutionBackwardDataWorkspaceSize) get_backward_data_workspace_size;
  decltype(&::cudnnConvolutionBackwardData) convolution_backward_data;
  decltype(&::cudnnGetConvolutionBackwardFilterAlgorithm_v7) get_backward_filter_algorithm;
  decltype(&::cudnnGetConvolutionBackwardFilterWorkspaceSize) get_backward_filter_workspace_size;
  decltype(&::cudnnConvolutionBackwardFilter) convolution_backward_filter;
};
#pragma GCC diagnostic pop
const Cudnn& cudnn();
#endif

}  // namespace duet::cuda::libs
