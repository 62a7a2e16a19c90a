// conv2d and its two gradients through cuDNN's convolution API (cudnn_conv.h): tensor
// descriptors with duet's strides, a packed NCHW filter, a cross-correlation descriptor
// with the op's padding, stride, dilation and groups; the algorithm from cuDNN's
// heuristics (cudnnGetConvolution*Algorithm_v7), the first deterministic one whose status
// is success; its workspace a tensor from duet's caching allocator on duet's stream; the
// bias added after the forward with cudnnAddTensor.
#include "kernels/cuda/cudnn_conv.h"

#include <climits>
#include <vector>

#include "core/error.h"
#include "core/functions.h"
#include "core/ops/conv_geometry.h"
#include "kernels/cuda/cudnn_common.h"
#include "kernels/cuda/runtime.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // cuDNN 9's v7 convolution API (cuda_libs.h)

namespace duet::cuda {

#if defined(DUET_HAVE_CUDNN)
namespace {

constexpr const char* kOp = "conv2d (cudnn)";

int to_int(int64_t v, const char* what) {
  DUET_CHECK(v >= 0 && v <= INT_MAX, kOp, ": ", what, " ", v, " exceeds cuDNN's 32-bit sizes; use DUET_CONV=duet");
  return int(v);
}

// A 4-D tensor descriptor with t's sizes and strides.
void describe(const TensorDesc& desc, const Tensor& t, cudnnDataType_t dt) {
  DUET_CUDNN_CHECK(libs::cudnn().set_tensor4d_descriptor_ex(
      desc.d, dt, to_int(t.size(0), "size"), to_int(t.size(1), "size"), to_int(t.size(2), "size"),
      to_int(t.size(3), "size"), to_int(t.stride(0), "stride"), to_int(t.stride(1), "stride"),
      to_int(t.stride(2), "stride"), to_int(t.stride(3), "stride")));
}

struct FilterDesc {
  cudnnFilterDescriptor_t d = nullptr;
  FilterDesc(const Shape& w, cudnnDataType_t dt) {
    DUET_CUDNN_CHECK(libs::cudnn().create_filter_descriptor(&d));
    DUET_CUDNN_CHECK(libs::cudnn().set_filter4d_descriptor(d, dt, CUDNN_TENSOR_NCHW, to_int(w[0], "size"),
                                                           to_int(w[1], "size"), to_int(w[2], "size"),
                                                           to_int(w[3], "size")));
  }
  ~FilterDesc() { libs::cudnn().destroy_filter_descriptor(d); }
  FilterDesc(const FilterDesc&) = delete;
  FilterDesc& operator=(const FilterDesc&) = delete;
};

struct ConvDesc {
  cudnnConvolutionDescriptor_t d = nullptr;
  ConvDesc(const ConvDims& dims, DType dtype) {
    const Window2d& g = dims.g;
    // Half and bfloat16 accumulate in float; float and double in their own precision.
    const cudnnDataType_t compute = dtype == DType::Float64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
    DUET_CUDNN_CHECK(libs::cudnn().create_convolution_descriptor(&d));
    DUET_CUDNN_CHECK(libs::cudnn().set_convolution2d_descriptor(
        d, to_int(g.ph, "padding"), to_int(g.pw, "padding"), to_int(g.sh, "stride"), to_int(g.sw, "stride"),
        to_int(g.dh, "dilation"), to_int(g.dw, "dilation"), CUDNN_CROSS_CORRELATION, compute));
    DUET_CUDNN_CHECK(libs::cudnn().set_convolution_group_count(d, to_int(dims.groups, "groups")));
    const bool wide = dtype == DType::Float32 || dtype == DType::Float64;
    DUET_CUDNN_CHECK(libs::cudnn().set_convolution_math_type(d, wide ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH));
  }
  ~ConvDesc() { libs::cudnn().destroy_convolution_descriptor(d); }
  ConvDesc(const ConvDesc&) = delete;
  ConvDesc& operator=(const ConvDesc&) = delete;
};

// The first deterministic, successful algorithm of a heuristic ranking.
template <typename Perf>
auto pick(const std::vector<Perf>& perf, int returned, const char* pass) {
  for (int i = 0; i < returned; ++i)
    if (perf[size_t(i)].status == CUDNN_STATUS_SUCCESS && perf[size_t(i)].determinism == CUDNN_DETERMINISTIC)
      return perf[size_t(i)].algo;
  DUET_FAIL(kOp, ": cuDNN offers no deterministic ", pass, " algorithm for this shape; use DUET_CONV=duet");
}

// Scratch for cuDNN on duet's allocator (stream-ordered like every other tensor).
Tensor workspace(size_t bytes, Device device) {
  return empty({int64_t((bytes + 3) / 4)}, {DType::Float32, device});
}

}  // namespace

void cudnn_conv(cpu::ConvPass pass, std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  DUET_ASSERT(out.is_contiguous(), kOp, ": expected a contiguous result");
  if (out.numel() == 0) return;
  const Device dev = out.device();
  DeviceGuard guard(dev.index);
  const cudnnDataType_t dt = cudnn_dtype(out.dtype(), kOp);
  const cudnnHandle_t h = cudnn_handle(dev.index);
  const double one_d = 1.0, zero_d = 0.0;
  const float one_f = 1.0f, zero_f = 0.0f;
  const bool dbl = out.dtype() == DType::Float64;
  const void* one = dbl ? static_cast<const void*>(&one_d) : &one_f;
  const void* zero = dbl ? static_cast<const void*>(&zero_d) : &zero_f;
  const libs::Cudnn& api = libs::cudnn();
  switch (pass) {
    case cpu::ConvPass::Forward: {
      const Tensor &x = in[0], w = in[1].contiguous();
      const ConvDims d = conv_dims(x.sizes(), w.sizes(), attrs);
      TensorDesc xd, yd;
      describe(xd, x, dt), describe(yd, out, dt);
      const FilterDesc wd(w.sizes(), dt);
      const ConvDesc cd(d, out.dtype());
      std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
      int returned = 0;
      DUET_CUDNN_CHECK(api.get_forward_algorithm(h, xd.d, wd.d, cd.d, yd.d, int(perf.size()), &returned, perf.data()));
      const cudnnConvolutionFwdAlgo_t algo = pick(perf, returned, "forward");
      size_t bytes = 0;
      DUET_CUDNN_CHECK(api.get_forward_workspace_size(h, xd.d, wd.d, cd.d, yd.d, algo, &bytes));
      const Tensor ws = workspace(bytes, dev);
      DUET_CUDNN_CHECK(api.convolution_forward(h, one, xd.d, x.data_ptr(), wd.d, w.data_ptr(), cd.d, algo,
                                               ws.data_ptr(), bytes, zero, yd.d, out.data_ptr()));
      if (in.size() == 3) {
        const Tensor b = in[2].contiguous().reshape({1, d.OC, 1, 1});
        TensorDesc bd;
        describe(bd, b, dt);
        DUET_CUDNN_CHECK(api.add_tensor(h, one, bd.d, b.data_ptr(), one, yd.d, out.data_ptr()));
      }
      return;
    }
    case cpu::ConvPass::InputGrad: {
      const Tensor &dy = in[0], w = in[1].contiguous();
      const ConvDims d = conv_dims(attrs.get<std::vector<int64_t>>("input_shape"), w.sizes(), attrs);
      TensorDesc dyd, dxd;
      describe(dyd, dy, dt), describe(dxd, out, dt);
      const FilterDesc wd(w.sizes(), dt);
      const ConvDesc cd(d, out.dtype());
      std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT);
      int returned = 0;
      DUET_CUDNN_CHECK(
          api.get_backward_data_algorithm(h, wd.d, dyd.d, cd.d, dxd.d, int(perf.size()), &returned, perf.data()));
      const cudnnConvolutionBwdDataAlgo_t algo = pick(perf, returned, "input-gradient");
      size_t bytes = 0;
      DUET_CUDNN_CHECK(api.get_backward_data_workspace_size(h, wd.d, dyd.d, cd.d, dxd.d, algo, &bytes));
      const Tensor ws = workspace(bytes, dev);
      DUET_CUDNN_CHECK(api.convolution_backward_data(h, one, wd.d, w.data_ptr(), dyd.d, dy.data_ptr(), cd.d, algo,
                                                     ws.data_ptr(), bytes, zero, dxd.d, out.data_ptr()));
      return;
    }
    case cpu::ConvPass::WeightGrad: {
      const Tensor &dy = in[0], x = in[1];
      const ConvDims d = conv_dims(x.sizes(), attrs.get<std::vector<int64_t>>("weight_shape"), attrs);
      TensorDesc dyd, xd;
      describe(dyd, dy, dt), describe(xd, x, dt);
      const FilterDesc dwd(out.sizes(), dt);
      const ConvDesc cd(d, out.dtype());
      std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT);
      int returned = 0;
      DUET_CUDNN_CHECK(
          api.get_backward_filter_algorithm(h, xd.d, dyd.d, cd.d, dwd.d, int(perf.size()), &returned, perf.data()));
      const cudnnConvolutionBwdFilterAlgo_t algo = pick(perf, returned, "weight-gradient");
      size_t bytes = 0;
      DUET_CUDNN_CHECK(api.get_backward_filter_workspace_size(h, xd.d, dyd.d, cd.d, dwd.d, algo, &bytes));
      const Tensor ws = workspace(bytes, dev);
      DUET_CUDNN_CHECK(api.convolution_backward_filter(h, one, xd.d, x.data_ptr(), dyd.d, dy.data_ptr(), cd.d, algo,
                                                       ws.data_ptr(), bytes, zero, dwd.d, out.data_ptr()));
      return;
    }
  }
}

#else

void cudnn_conv(cpu::ConvPass, std::span<const Tensor>, const Tensor&, const Attrs&) {
  DUET_FAIL("conv2d (cudnn): this build of duet has no cuDNN");
}

#endif

}  // namespace duet::cuda
