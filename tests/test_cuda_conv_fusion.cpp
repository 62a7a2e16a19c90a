// Graph mode's convolution fusions on CUDA against eager mode on the same device, bit for
// bit (graph/fusion.h; kernels/cuda/fused_kernels.h): the cases of test_graph_conv_fusion
// (conv_fusion_cases.h) on cuda:0, plus a layer wide enough for the tiled conv kernel
// (64 x 64 tiles, a part tile of output channels), on duet's kernels and on cuDNN when the
// build has it (the batch norm and relu then a second pass); batch norm + relu; and a conv
// network with batch norm trained and evaluated compiled on the GPU. Without a GPU: only
// that a CUDA graph forms these fusions (the kernels' PTX is checked by the build's ptxas).
#include <doctest/doctest.h>

#include "graph/capture.h"
#include "graph/fusion.h"
#include "graph/lowering.h"
#include "tests/conv_fusion_cases.h"
#include "tests/cuda_test_support.h"
#include "tests/cudnn_conv_scope.h"

using namespace duet;
using namespace duet::testing::conv_fusion;
using duet::testing::kGpu;
using duet::testing::CudnnConvScope;
using duet::testing::skip_without_gpu;

namespace {

// geometries() (all under 32 output channels per group: the direct kernel) and two for
// the tiled kernel.
std::vector<Geometry> cuda_geometries() {
  std::vector<Geometry> g = geometries();
  g.push_back({"3x3 padding 1, 40 output channels (tiled kernel, a part tile), bias", 16, 40, 3, 1, 1, 1, true, false});
  g.push_back({"3x3 stride 2, groups 2 of 32, channels-last input, no bias", 8, 64, 3, 2, 1, 2, false, true});
  return g;
}

void check_all_conv_fusions() {
  for (DType dtype : {DType::Float32, DType::Float64})
    for (const Geometry& geo : cuda_geometries())
      for (Tail tail : {Tail::Relu, Tail::BatchNorm, Tail::BatchNormRelu}) check_conv_fusion(geo, dtype, tail, kGpu);
}

}  // namespace

TEST_CASE("a CUDA graph fuses conv epilogues and batch norm + relu") {
  // Captured on the CPU, fused with CUDA's options: no device needed.
  manual_seed(3);
  nn::Conv2d conv(3, 4, Shape{3}, nn::Conv2dOptions{.padding = {1}});
  nn::BatchNorm2d bn(4), bn_train(4);
  bn.eval();
  graph::CaptureSession session;
  Tensor x = session.add_input({{2, 3, 6, 6}, DType::Float32, Device::cpu()});
  Tensor a = relu(bn.forward(conv.forward(x)));          // conv + bias + batch_norm + relu
  Tensor b = relu(bn_train.forward(a * 2.0));                 // batch_norm (batch statistics) + relu
  graph::Graph g = session.finish({a, b});
  graph::lower_for_cpu(g);
  const graph::FusionStats st = graph::fuse(g, graph::fuse_options_for(kGpu));
  CHECK(st.conv_epilogues == 1);
  CHECK(st.batch_norm_relus == 1);
  CHECK(graph::fuse_options_for(kGpu).conv_epilogues);
  CHECK(graph::fuse_options_for(kGpu).batch_norm_relu);
}

TEST_CASE("cuda: conv2d + relu, + eval batch norm, + both: one conv kernel with eager's bits") {
  if (skip_without_gpu()) return;
  check_all_conv_fusions();
}

TEST_CASE("cuda: on cuDNN, fused convs keep cuDNN's eager bits") {
  if (skip_without_gpu()) return;
  const CudnnConvScope cudnn;
  if (!cudnn.selected) return;
  check_all_conv_fusions();
}

TEST_CASE("cuda: batch_norm + relu: one batch-norm kernel with eager's bits") {
  if (skip_without_gpu()) return;
  for (DType dtype : {DType::Float32, DType::Float64})
    for (bool channels_last : {false, true}) check_batch_norm_relu(dtype, channels_last, kGpu);
}

TEST_CASE("cuda: a conv network with batch norm trains and evaluates compiled with eager's bits, fused") {
  if (skip_without_gpu()) return;
  for (DType dtype : {DType::Float32, DType::Float64}) {
    const NetRun eager = run_net(dtype, false, false, kGpu), compiled = run_net(dtype, true, false, kGpu);
    INFO(dtype_name(dtype), "\ntraining step:\n", compiled.train_report.str(), "eval forward:\n",
         compiled.eval_report.str());
    CHECK(differing(eager, compiled) == 0);
    CHECK(compiled.train_report.conv_epilogues == 1);
    CHECK(compiled.train_report.batch_norm_relus == 1);
    CHECK(compiled.eval_report.conv_epilogues == 3);
  }
}
