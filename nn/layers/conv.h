// Convolution and pooling layers over NCHW batches, as torch.nn's:
//   nn::Conv2d conv(1, 6, 5, {.padding = {2}});     // weight (6, 1, 5, 5), bias (6)
//   nn::MaxPool2d pool(2);                          // stride defaults to the kernel
//   nn::AdaptiveAvgPool2d gap({1});                 // global average pooling
// Conv2d initialises as PyTorch does: kaiming_uniform_(a = sqrt(5)) for the weight, and
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias, fan_in = C / groups * KH * KW.
#pragma once

#include <optional>

#include "core/functions.h"
#include "nn/module.h"

namespace duet::nn {

struct Conv2dOptions {
  Shape stride = {1};
  Shape padding = {0};
  std::optional<PaddingMode> padding_mode = std::nullopt;  // "same" / "valid" instead of sizes
  Shape dilation = {1};
  int64_t groups = 1;
  bool bias = true;
};

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, Shape kernel_size, Conv2dOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  void reset_parameters();

  Tensor weight;  // (out_channels, in_channels / groups, KH, KW)
  Tensor bias;    // (out_channels), undefined when options.bias is false

 private:
  int64_t in_channels_, out_channels_;
  Shape kernel_size_;
  Conv2dOptions options_;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(Shape kernel_size, Shape stride = {}, Shape padding = {0}, Shape dilation = {1},
                     bool ceil_mode = false);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

 private:
  Shape kernel_, stride_, padding_, dilation_;
  bool ceil_mode_;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(Shape kernel_size, Shape stride = {}, Shape padding = {0}, bool ceil_mode = false,
                     bool count_include_pad = true);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

 private:
  Shape kernel_, stride_, padding_;
  bool ceil_mode_, count_include_pad_;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Shape output_size);
  Tensor forward(const Tensor& x) override { return adaptive_avg_pool2d(x, output_size_); }
  std::string extra_repr() const override;

 private:
  Shape output_size_;
};

}  // namespace duet::nn
