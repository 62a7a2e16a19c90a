// dlopen-on-first-use tables of the CUDA libraries (cuda_libs.h). The build passes each
// library's path as DUET_<NAME>_LIBRARY (cmake/DuetCuda.cmake).
#include "kernels/cuda/cuda_libs.h"

#include <dlfcn.h>

#include <string>

#include "core/error.h"
#include "kernels/cuda/cuda_api.h"

namespace duet::cuda::libs {
namespace {

// The library at `path` (else its file name, through the loader's search path); never
// closed, like the handles made from it.
void* open_library(const char* what, const char* path) {
  if (void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) return h;
  const std::string first_error = dlerror();
  const std::string p = path;
  const std::string file = p.substr(p.find_last_of('/') + 1);
  if (void* h = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL)) return h;
  throw Error(std::string(what) + ": could not load the library (" + first_error + "; by file name: " + dlerror() +
              "). duet opens it on first use; install it or point LD_LIBRARY_PATH at its folder");
}

// Binds fn to `symbol` of the library, or throws naming both.
template <typename Fn>
void bind(void* lib, const char* what, const char* symbol, Fn& fn) {
  dlerror();
  void* p = dlsym(lib, symbol);
  if (p == nullptr) throw Error(std::string(what) + ": the library has no symbol " + symbol + " (" + dlerror() + ")");
  fn = reinterpret_cast<Fn>(p);
}

}  // namespace

const Cublas& cublas() {
  static const Cublas table = [] {
    void* lib = open_library("cuBLAS", DUET_CUBLAS_LIBRARY);
    Cublas t{};
    bind(lib, "cuBLAS", "cublasCreate_v2", t.create);
    bind(lib, "cuBLAS", "cublasSetStream_v2", t.set_stream);
    bind(lib, "cuBLAS", "cublasSetMathMode", t.set_math_mode);
    bind(lib, "cuBLAS", "cublasGemmEx", t.gemm_ex);
    bind(lib, "cuBLAS", "cublasGemmStridedBatchedEx", t.gemm_strided_batched_ex);
    return t;
  }();
  return table;
}

const Nvrtc& nvrtc() {
  static const Nvrtc table = [] {
    void* lib = open_library("NVRTC", DUET_NVRTC_LIBRARY);
    Nvrtc t{};
    bind(lib, "NVRTC", "nvrtcCreateProgram", t.create_program);
    bind(lib, "NVRTC", "nvrtcCompileProgram", t.compile_program);
    bind(lib, "NVRTC", "nvrtcGetProgramLogSize", t.get_program_log_size);
    bind(lib, "NVRTC", "nvrtcGetProgramLog", t.get_program_log);
    bind(lib, "NVRTC", "nvrtcGetPTXSize", t.get_ptx_size);
    bind(lib, "NVRTC", "nvrtcGetPTX", t.get_ptx);
    bind(lib, "NVRTC", "nvrtcDestroyProgram", t.destroy_program);
    bind(lib, "NVRTC", "nvrtcGetErrorString", t.get_error_string);
    bind(lib, "NVRTC", "nvrtcGetNumSupportedArchs", t.get_num_supported_archs);
    bind(lib, "NVRTC", "nvrtcGetSupportedArchs", t.get_supported_archs);
    return t;
  }();
  return table;
}

#if defined(DUET_HAVE_CUDNN)
const Cudnn& cudnn() {
  static const Cudnn table = [] {
    void* lib = open_library("cuDNN", DUET_CUDNN_LIBRARY_PATH);
    Cudnn t{};
    bind(lib, "cuDNN", "cudnnCreate", t.create);
    bind(lib, "cuDNN", "cudnnSetStream", t.set_stream);
    bind(lib, "cuDNN", "cudnnCreateTensorDescriptor", t.create_tensor_descriptor);
    bind(lib, "cuDNN", "cudnnSetTensor4dDescriptor", t.set_tensor4d_descriptor);
    bind(lib, "cuDNN", "cudnnSoftmaxForward", t.softmax_forward);
    bind(lib, "cuDNN", "cudnnDestroyTensorDescriptor", t.destroy_tensor_descriptor);
    bind(lib, "cuDNN", "cudnnGetErrorString", t.get_error_string);
    bind(lib, "cuDNN", "cudnnSetTensor4dDescriptorEx", t.set_tensor4d_descriptor_ex);
    bind(lib, "cuDNN", "cudnnAddTensor", t.add_tensor);
    bind(lib, "cuDNN", "cudnnCreateFilterDescriptor", t.create_filter_descriptor);
    bind(lib, "cuDNN", "cudnnSetFilter4dDescriptor", t.set_filter4d_descriptor);
    bind(lib, "cuDNN", "cudnnDestroyFilterDescriptor", t.destroy_filter_descriptor);
    bind(lib, "cuDNN", "cudnnCreateConvolutionDescriptor", t.create_convolution_descriptor);
    bind(lib, "cuDNN", "cudnnSetConvolution2dDescriptor", t.set_convolution2d_descriptor);
    bind(lib, "cuDNN", "cudnnSetConvolutionGroupCount", t.set_convolution_group_count);
    bind(lib, "cuDNN", "cudnnSetConvolutionMathType", t.set_convolution_math_type);
    bind(lib, "cuDNN", "cudnnDestroyConvolutionDescriptor", t.destroy_convolution_descriptor);
    bind(lib, "cuDNN", "cudnnGetConvolutionForwardAlgorithm_v7", t.get_forward_algorithm);
    bind(lib, "cuDNN", "cudnnGetConvolutionForwardWorkspaceSize", t.get_forward_workspace_size);
    bind(lib, "cuDNN", "cudnnConvolutionForward", t.convolution_forward);
    bind(lib, "cuDNN", "cudnnGetConvolutionBackwardDataAlgorithm_v7", t.get_backward_data_algorithm);
    bind(lib, "cuDNN", "cudnnGetConvolutionBackwardDataWorkspaceSize", t.get_backward_data_workspace_size);
    bind(lib, "cuDNN", "cudnnConvolutionBackwardData", t.convolution_backward_data);
    bind(lib, "cuDNN", "cudnnGetConvolutionBackwardFilterAlgorithm_v7", t.get_backward_filter_algorithm);
    bind(lib, "cuDNN", "cudnnGetConvolutionBackwardFilterWorkspaceSize", t.get_backward_filter_workspace_size);
    bind(lib, "cuDNN", "cudnnConvolutionBackwardFilter", t.convolution_backward_filter);
    return t;
  }();
  return table;
}
#endif

}  // namespace duet::cuda::libs

namespace duet::cuda {

void load_libraries() {
  (void)libs::cublas();
  (void)libs::nvrtc();
#if defined(DUET_HAVE_CUDNN)
  (void)libs::cudnn();
#endif
}

}  // namespace duet::cuda
