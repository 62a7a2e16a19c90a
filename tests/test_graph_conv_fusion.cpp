// Graph mode's convolution fusions against eager mode on the CPU, bit for bit (graph/
// fusion.h, Note [Conv epilogues] in graph/fusion.cpp): conv2d [+ bias] followed by relu, by
// an eval-mode batch_norm, or by both, becomes one conv call with a store epilogue;
// batch_norm followed by relu becomes one batch-norm call. Each case checks from the
// compile report and the compiled graph's node names that the fusion it means to test
// happened, on float32 and float64, with groups, stride, padding, a 1x1 convolution and a
// permuted (channels-last) input, on duet's conv kernel and on oneDNN's when the build has
// it (the epilogue then a second pass); then whole networks train and evaluate compiled
// with eager's bits, the fusions firing where the backward pass allows them. The cases are
// in conv_fusion_cases.h, shared with the CUDA tests (test_cuda_conv_fusion.cpp).
#include <doctest/doctest.h>

#include "kernels/cpu/conv_backend.h"
#include "tests/conv_fusion_cases.h"

using namespace duet;
using namespace duet::testing::conv_fusion;

TEST_CASE("conv2d + relu, + eval batch norm, + both: one conv call with eager's bits") {
  for (DType dtype : {DType::Float32, DType::Float64})
    for (const Geometry& geo : geometries())
      for (Tail tail : {Tail::Relu, Tail::BatchNorm, Tail::BatchNormRelu}) check_conv_fusion(geo, dtype, tail);
}

TEST_CASE("on a vendor conv backend (oneDNN), fused convs keep that backend's eager bits") {
  if (!cpu::conv_backend_available(cpu::ConvBackend::OneDNN)) {
    MESSAGE("skipped: this build has no oneDNN");
    return;
  }
  struct Restore {
    cpu::ConvBackend before = cpu::get_conv_backend();
    ~Restore() { cpu::set_conv_backend(before); }
  } restore;
  cpu::set_conv_backend(cpu::ConvBackend::OneDNN);
  for (DType dtype : {DType::Float32, DType::Float64})  // float64 runs on duet's kernel
    for (const Geometry& geo : geometries())
      for (Tail tail : {Tail::Relu, Tail::BatchNorm, Tail::BatchNormRelu}) check_conv_fusion(geo, dtype, tail);
}

TEST_CASE("batch_norm + relu, training and eval statistics: one batch-norm call with eager's bits") {
  for (DType dtype : {DType::Float32, DType::Float64})
    for (bool channels_last : {false, true}) check_batch_norm_relu(dtype, channels_last);
}

TEST_CASE("a conv value with another user is not fused; without fusion the graph keeps the ops") {
  Tensor x = draws({2, 3, 6, 6}, DType::Float32, 21), w = draws({4, 3, 3, 3}, DType::Float32, 22);
  // The conv output is returned too: it must exist as a value of its own.
  auto compiled = graph::compile(
      [&](const std::vector<Tensor>& in) {
        Tensor c = conv2d(in[0], w);
        return std::vector<Tensor>{c, relu(c)};
      },
      {.warmup_calls = 0});
  std::vector<Tensor> got = compiled({x});
  CHECK(compiled.report().conv_epilogues == 0);
  CHECK(differing(relu(conv2d(x, w)), got[1]) == 0);
}

TEST_CASE("a conv network with batch norm trains and evaluates compiled with eager's bits, fused") {
  for (DType dtype : {DType::Float32, DType::Float64})
    for (bool channels_last : {false, true}) {
      const NetRun eager = run_net(dtype, false, channels_last), compiled = run_net(dtype, true, channels_last);
      INFO(dtype_name(dtype), channels_last ? " channels-last" : "", "\ntraining step:\n", compiled.train_report.str(),
           "eval forward:\n", compiled.eval_report.str());
      CHECK(differing(eager, compiled) == 0);
      // Training: relu saves its output, so conv -> relu fuses; batch norm's backward reads
      // its input, so conv -> batch_norm does not, and batch_norm -> relu does.
      CHECK(compiled.train_report.conv_epilogues == 1);
      CHECK(compiled.train_report.batch_norm_relus == 1);
      // Eval: conv+relu, conv+batch_norm+relu, conv+batch_norm.
      CHECK(compiled.eval_report.conv_epilogues == 3);
      CHECK(compiled.eval_report.batch_norm_relus == 0);
    }
}
