// cuDNN handles per device and dtype mapping (cudnn_common.h). Built with CUDA; empty
// without cuDNN.
#include "kernels/cuda/cudnn_common.h"

#if defined(DUET_HAVE_CUDNN)
#include <array>
#include <mutex>

#include "kernels/cuda/runtime.h"

namespace duet::cuda {

cudnnHandle_t cudnn_handle(int device) {
  static std::mutex mu;
  static std::array<cudnnHandle_t, 16> handles{};
  std::lock_guard<std::mutex> lock(mu);
  DUET_ASSERT(device >= 0 && device < int(handles.size()), "cudnn: device index ", device, " out of range");
  if (!handles[size_t(device)]) {
    DUET_CUDNN_CHECK(libs::cudnn().create(&handles[size_t(device)]));
    DUET_CUDNN_CHECK(libs::cudnn().set_stream(handles[size_t(device)], stream(device)));
  }
  return handles[size_t(device)];
}

cudnnDataType_t cudnn_dtype(DType dt, const char* op) {
  switch (dt) {
    case DType::Float32: return CUDNN_DATA_FLOAT;
    case DType::Float64: return CUDNN_DATA_DOUBLE;
    case DType::Float16: return CUDNN_DATA_HALF;
    case DType::BFloat16: return CUDNN_DATA_BFLOAT16;
    default: DUET_FAIL(op, ": cuDNN takes float32, float64, float16 or bfloat16 tensors, not ", dtype_name(dt));
  }
}

}  // namespace duet::cuda
#endif
