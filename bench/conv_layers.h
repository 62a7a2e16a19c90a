// The convolution layers of the fashion-lenet (batch 64) and fashion-resnet (batch 128)
// workloads, shared by the CPU (bench_conv.cpp) and CUDA (bench_cuda_conv.cpp) convolution
// benchmarks, and one layer's operands on a device with a call of each pass through the
// op's registered kernel (whichever DUET_CONV backend is selected).
//
//   ConvLayerOperands ops(layer, Device::cuda(0));
//   Tensor dw = ops.call(cpu::ConvPass::WeightGrad);   // one conv2d_weight_grad
//   double f = ops.flops();                            // per pass
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "core/functions.h"
#include "core/ops/conv_geometry.h"
#include "kernels/cpu/conv_backend.h"

namespace duet::bench {

struct ConvLayer {
  std::string name;
  int64_t N, C, H, W, OC, K, stride, pad;
};

inline const std::vector<ConvLayer> kConvLayers = {
    {"lenet_conv1", 64, 1, 28, 28, 6, 5, 1, 2},      {"lenet_conv2", 64, 6, 14, 14, 16, 5, 1, 0},
    {"resnet_stem", 128, 1, 28, 28, 16, 3, 1, 1},    {"resnet_s1_3x3", 128, 16, 28, 28, 16, 3, 1, 1},
    {"resnet_s2_down", 128, 16, 28, 28, 32, 3, 2, 1}, {"resnet_s2_3x3", 128, 32, 14, 14, 32, 3, 1, 1},
    {"resnet_s2_1x1", 128, 16, 28, 28, 32, 1, 2, 0}, {"resnet_s3_down", 128, 32, 14, 14, 64, 3, 2, 1},
    {"resnet_s3_3x3", 128, 64, 7, 7, 64, 3, 1, 1},   {"resnet_s3_1x1", 128, 32, 14, 14, 64, 1, 2, 0},
};

inline const char* conv_pass_name(cpu::ConvPass p) {
  return p == cpu::ConvPass::Forward ? "forward" : p == cpu::ConvPass::InputGrad ? "dgrad" : "wgrad";
}

// Random x, w, bias and dy of one layer on `device` (float32), and its conv attrs.
struct ConvLayerOperands {
  Attrs attrs;
  Tensor x, w, b, dy;
  int64_t OH = 0, OW = 0;
  ConvLayer layer;

  ConvLayerOperands(const ConvLayer& l, Device device) : layer(l) {
    attrs = Attrs()
                .set("stride", std::vector<int64_t>{l.stride, l.stride})
                .set("padding", std::vector<int64_t>{l.pad, l.pad})
                .set("dilation", std::vector<int64_t>{1, 1})
                .set("groups", int64_t(1));
    const Window2d g = Window2d::conv(attrs, l.K, l.K);
    OH = g.out_h(l.H), OW = g.out_w(l.W);
    const TensorOptions on{DType::Float32, device};
    x = randn({l.N, l.C, l.H, l.W}, on), w = randn({l.OC, l.C, l.K, l.K}, on), dy = randn({l.N, l.OC, OH, OW}, on);
    b = randn({l.OC}, on);
  }
  // One pass through the op's kernel (forward with the bias).
  Tensor call(cpu::ConvPass pass) const {
    switch (pass) {
      case cpu::ConvPass::Forward: return apply(OpKind::conv2d, {x, w, b}, attrs);
      case cpu::ConvPass::InputGrad:
        return apply(OpKind::conv2d_input_grad, {dy, w}, Attrs(attrs).set("input_shape", x.sizes()));
      default: return apply(OpKind::conv2d_weight_grad, {dy, x}, Attrs(attrs).set("weight_shape", w.sizes()));
    }
  }
  // 2 * N * OC * OH * OW * C * KH * KW, the same for each pass.
  double flops() const {
    const ConvLayer& l = layer;
    return 2.0 * double(l.N * l.OC * OH * OW) * double(l.C * l.K * l.K);
  }
};

}  // namespace duet::bench
