// softmax / log_softmax through cuDNN (cudnnSoftmaxForward), the selectable alternative
// to duet's kernels (cudnn_softmax.h). A softmax over dim d of a contiguous tensor is
// cuDNN's "channel" softmax of an N x C x H x 1 tensor with N = the product of the sizes
// before d, C = size(d) and H = the product after it, on cudnn_common.h's handle.
// Built with CUDA; without cuDNN (DUET_HAVE_CUDNN undefined) cudnn_softmax only throws,
// and it is never reached then, since selecting the backend already fails.
#include "kernels/cuda/cudnn_softmax.h"

#include <climits>

#include "core/error.h"
#include "core/functions.h"
#include "kernels/cuda/cudnn_common.h"
#include "kernels/cuda/runtime.h"

namespace duet::cuda {

#if defined(DUET_HAVE_CUDNN)

void cudnn_softmax(const Tensor& in, const Tensor& out, int64_t dim, bool log) {
  const char* op = log ? "log_softmax (cudnn)" : "softmax (cudnn)";
  DUET_ASSERT(out.sizes() == in.sizes() && out.dtype() == in.dtype(), op, ": expected an out of in's shape and dtype");
  if (in.numel() == 0) return;
  if (!out.is_contiguous()) {  // an in-place or strided out: compute contiguous, then copy in
    Tensor tmp = empty(out.sizes(), {out.dtype(), out.device()});
    cudnn_softmax(in, tmp, dim, log);
    out.copy_(tmp);
    return;
  }
  const Tensor x = in.is_contiguous() ? in : in.contiguous();
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < dim) outer *= x.size(d);
    if (d > dim) inner *= x.size(d);
  }
  const int64_t classes = x.dim() == 0 ? 1 : x.size(dim);
  DUET_CHECK(outer <= INT_MAX && classes <= INT_MAX && inner <= INT_MAX, op, ": shape ", x.sizes(),
             " is too large for cuDNN's 32-bit tensor dimensions; use the duet softmax backend");
  DeviceGuard guard(x.device().index);
  cudnnHandle_t h = cudnn_handle(x.device().index);
  TensorDesc desc;
  DUET_CUDNN_CHECK(libs::cudnn().set_tensor4d_descriptor(desc.d, CUDNN_TENSOR_NCHW, cudnn_dtype(x.dtype(), op), int(outer),
                                              int(classes), int(inner), 1));
  // cuDNN reads alpha/beta as double for double tensors and as float otherwise.
  const double one_d = 1.0, zero_d = 0.0;
  const float one_f = 1.0f, zero_f = 0.0f;
  const bool dbl = x.dtype() == DType::Float64;
  DUET_CUDNN_CHECK(libs::cudnn().softmax_forward(h, log ? CUDNN_SOFTMAX_LOG : CUDNN_SOFTMAX_ACCURATE,
                                       CUDNN_SOFTMAX_MODE_CHANNEL, dbl ? static_cast<const void*>(&one_d) : &one_f,
                                       desc.d, x.data_ptr(), dbl ? static_cast<const void*>(&zero_d) : &zero_f,
                                       desc.d, out.data_ptr()));
}

#else

void cudnn_softmax(const Tensor&, const Tensor&, int64_t, bool log) {
  DUET_FAIL(log ? "log_softmax" : "softmax", ": this build of duet has no cuDNN");
}

#endif

}  // namespace duet::cuda
