// CUDA kernels of cast, copy (contiguous(), clone(), copy_ with broadcasting),
// as_strided_scatter (two copies: kernels/strided_window.h) and where(cond, a, b): every
// one moves elements from one dtype and layout to another with the CPU's conversion rules
// (dev::copy_convert: the same dtype copies bits, so NaN payloads survive; float -> int
// truncates and saturates, NaN -> 0; -> bool is v != 0).
// where converts the chosen operand to result_type(a, b), as the CPU's as_dtype does.
//
// Versions: v1 one element per thread over ElementwiseArgs (strided, 32-bit offsets when
// they fit; linear offsets for contiguous operands); a same-dtype copy between contiguous
// tensors is one cudaMemcpyAsync on the device's stream.
// Figures: not yet measured on a GPU.
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/registration.h"
#include "kernels/strided_window.h"

namespace duet::cuda {
namespace {

struct ConvertFn {
  __device__ void operator()(const ew::ElementwiseArgs<2>& a, const int64_t (&off)[2]) const {
    dev::copy_convert(a.data[0], off[0], a.dtype[0], a.data[1], off[1], a.dtype[1]);
  }
};

struct WhereFn {
  __device__ void operator()(const ew::ElementwiseArgs<4>& a, const int64_t (&off)[4]) const {
    // Selects with ?: rather than an index: a run-time index into off[] would put it in local memory.
    const bool c = static_cast<const uint8_t*>(a.data[1])[off[1]] != 0;
    dev::copy_convert(a.data[0], off[0], a.dtype[0], c ? a.data[2] : a.data[3], c ? off[2] : off[3],
                      c ? a.dtype[2] : a.dtype[3]);
  }
};

// Writes inputs[0], converted and broadcast, into out (any dtypes, any strides).
void convert_into(std::span<const Tensor> inputs, const Tensor& out) {
  DeviceGuard guard(out.device().index);
  auto a = ew::make_args<2>(out, inputs, out.dtype());
  if (a.dtype[0] == a.dtype[1] && a.linear && a.scalar_mask == 0) {
    if (a.data[0] != a.data[1])
      DUET_CUDA_CHECK(cudaMemcpyAsync(a.data[0], a.data[1], size_t(a.numel) * dtype_size(out.dtype()),
                                      cudaMemcpyDeviceToDevice, current_stream()));
    return;
  }
  ew::launch_elementwise(a, ConvertFn{});
}

void cast_cuda(std::span<const Tensor> inputs, const Tensor& out, const Attrs&) { convert_into(inputs, out); }
void copy_cuda(std::span<const Tensor> inputs, const Tensor& out, const Attrs&) { convert_into(inputs, out); }

void where_cuda(std::span<const Tensor> inputs, const Tensor& out, const Attrs&) {
  DUET_ASSERT(inputs[0].dtype() == DType::Bool, "where: the condition is bool");
  DeviceGuard guard(out.device().index);
  ew::launch_elementwise(ew::make_args<4>(out, inputs, out.dtype()), WhereFn{});
}

void as_strided_scatter_cuda(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  scatter_into_window(inputs, out, attrs, copy_cuda);
}

}  // namespace

void register_copy_kernels() {
  register_kernel(OpKind::cast, DeviceType::CUDA, cast_cuda);
  register_kernel(OpKind::copy, DeviceType::CUDA, copy_cuda);
  register_kernel(OpKind::where, DeviceType::CUDA, where_cuda);
  register_kernel(OpKind::as_strided_scatter, DeviceType::CUDA, as_strided_scatter_cuda);
}

}  // namespace duet::cuda
