// Convolution and pooling layers (nn/layers/conv.h).
#include "nn/layers/conv.h"

#include <cmath>

#include "nn/init.h"

namespace duet::nn {
namespace {

Shape pair(const Shape& v) { return v.size() == 1 ? Shape{v[0], v[0]} : v; }

}  // namespace

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, Shape kernel_size, Conv2dOptions options)
    : Module("Conv2d"), in_channels_(in_channels), out_channels_(out_channels), kernel_size_(std::move(kernel_size)),
      options_(std::move(options)) {
  DUET_CHECK(kernel_size_.size() == 1 || kernel_size_.size() == 2, "Conv2d: kernel_size takes 1 or 2 values, got ",
             shape_str(kernel_size_));
  kernel_size_ = pair(kernel_size_);
  DUET_CHECK(in_channels > 0 && out_channels > 0 && kernel_size_[0] > 0 && kernel_size_[1] > 0,
             "Conv2d: channels and kernel size must be positive, got in_channels=", in_channels,
             ", out_channels=", out_channels, ", kernel_size=", shape_str(kernel_size_));
  DUET_CHECK(options_.groups > 0 && in_channels % options_.groups == 0 && out_channels % options_.groups == 0,
             "Conv2d: in_channels (", in_channels, ") and out_channels (", out_channels,
             ") must be divisible by groups (", options_.groups, ")");
  weight = register_parameter(
      "weight", empty({out_channels, in_channels / options_.groups, kernel_size_[0], kernel_size_[1]}));
  if (options_.bias) bias = register_parameter("bias", empty({out_channels}));
  reset_parameters();
}

void Conv2d::reset_parameters() {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double fan_in = double(weight.size(1) * weight.size(2) * weight.size(3));
    init::uniform_(bias, -1.0 / std::sqrt(fan_in), 1.0 / std::sqrt(fan_in));
  }
}

Tensor Conv2d::forward(const Tensor& x) {
  if (options_.padding_mode)
    return conv2d(x, weight, bias, options_.stride, *options_.padding_mode, options_.dilation, options_.groups);
  return conv2d(x, weight, bias, options_.stride, options_.padding, options_.dilation, options_.groups);
}

std::string Conv2d::extra_repr() const {
  std::string s = std::to_string(in_channels_) + ", " + std::to_string(out_channels_) +
                  ", kernel_size=" + shape_str(kernel_size_) + ", stride=" + shape_str(pair(options_.stride));
  if (options_.padding_mode) s += std::string(", padding=") + (*options_.padding_mode == PaddingMode::Same ? "same" : "valid");
  else s += ", padding=" + shape_str(pair(options_.padding));
  if (pair(options_.dilation) != Shape{1, 1}) s += ", dilation=" + shape_str(pair(options_.dilation));
  if (options_.groups != 1) s += ", groups=" + std::to_string(options_.groups);
  if (!bias.defined()) s += ", bias=false";
  return s;
}

MaxPool2d::MaxPool2d(Shape kernel_size, Shape stride, Shape padding, Shape dilation, bool ceil_mode)
    : Module("MaxPool2d"), kernel_(std::move(kernel_size)), stride_(std::move(stride)), padding_(std::move(padding)),
      dilation_(std::move(dilation)), ceil_mode_(ceil_mode) {}

Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, kernel_, stride_, padding_, dilation_, ceil_mode_); }

std::string MaxPool2d::extra_repr() const {
  return "kernel_size=" + shape_str(pair(kernel_)) + ", stride=" + shape_str(pair(stride_.empty() ? kernel_ : stride_)) +
         ", padding=" + shape_str(pair(padding_)) + ", dilation=" + shape_str(pair(dilation_)) +
         ", ceil_mode=" + (ceil_mode_ ? "true" : "false");
}

AvgPool2d::AvgPool2d(Shape kernel_size, Shape stride, Shape padding, bool ceil_mode, bool count_include_pad)
    : Module("AvgPool2d"), kernel_(std::move(kernel_size)), stride_(std::move(stride)), padding_(std::move(padding)),
      ceil_mode_(ceil_mode), count_include_pad_(count_include_pad) {}

Tensor AvgPool2d::forward(const Tensor& x) {
  return avg_pool2d(x, kernel_, stride_, padding_, ceil_mode_, count_include_pad_);
}

std::string AvgPool2d::extra_repr() const {
  return "kernel_size=" + shape_str(pair(kernel_)) + ", stride=" + shape_str(pair(stride_.empty() ? kernel_ : stride_)) +
         ", padding=" + shape_str(pair(padding_)) + ", ceil_mode=" + (ceil_mode_ ? "true" : "false") +
         ", count_include_pad=" + (count_include_pad_ ? "true" : "false");
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(Shape output_size)
    : Module("AdaptiveAvgPool2d"), output_size_(std::move(output_size)) {}

std::string AdaptiveAvgPool2d::extra_repr() const { return "output_size=" + shape_str(pair(output_size_)); }

}  // namespace duet::nn
