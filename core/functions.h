// The public op functions, libtorch-style: every one is a thin call to apply().
//
//   using namespace duet;
//   Tensor x = randn({4, 3}), w = randn({3, 2});
//   Tensor y = relu(matmul(x, w) + 1.0);
//   Tensor p = softmax(y, /*dim=*/-1);
//   Tensor total = sum(p, {0}, /*keepdim=*/true);
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace duet {

struct TensorOptions {
  DType dtype = DType::Float32;
  Device device = Device::cpu();
  TensorOptions() = default;
  TensorOptions(DType d) : dtype(d) {}  // NOLINT: lets zeros({2}, DType::Int64) read naturally
  TensorOptions(DType d, Device dev) : dtype(d), device(dev) {}
};

// ---- factories
Tensor empty(const Shape& shape, TensorOptions opts = {});  // uninitialised
Tensor zeros(const Shape& shape, TensorOptions opts = {});
Tensor ones(const Shape& shape, TensorOptions opts = {});
Tensor full(const Shape& shape, double value, TensorOptions opts = {});
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
Tensor scalar_tensor(double value, TensorOptions opts = {});
Tensor arange(double end, TensorOptions opts = DType::Int64);
Tensor arange(double start, double end, double step = 1, TensorOptions opts = DType::Int64);
Tensor linspace(double start, double end, int64_t steps, TensorOptions opts = {});
Tensor eye(int64_t n, std::optional<int64_t> m = std::nullopt, TensorOptions opts = {});
// Random factories draw from the default generator (see core/generator.h).
Tensor rand(const Shape& shape, TensorOptions opts = {});                 // U[0, 1)
Tensor uniform(const Shape& shape, double low, double high, TensorOptions opts = {});
Tensor randn(const Shape& shape, TensorOptions opts = {});                // N(0, 1)
Tensor normal(const Shape& shape, double mean, double std, TensorOptions opts = {});
Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions opts = DType::Int64);
// Tensors from host data (copied). from_blob wraps memory without copying.
template <typename T>
Tensor tensor(const std::vector<T>& values, const Shape& shape, Device device = Device::cpu());
template <typename T>
Tensor tensor(const std::vector<T>& values) {
  return tensor(values, {int64_t(values.size())});
}
Tensor from_blob(void* data, const Shape& shape, DType dtype, Device device = Device::cpu());

// ---- elementwise unary
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);
Tensor square(const Tensor& x);
Tensor floor(const Tensor& x);
Tensor ceil(const Tensor& x);
Tensor round(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor expm1(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor reciprocal(const Tensor& x);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor erf(const Tensor& x);
Tensor gelu(const Tensor& x, const std::string& approximate = "none");
Tensor silu(const Tensor& x);
Tensor logical_not(const Tensor& x);
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max);
Tensor cast(const Tensor& x, DType dtype);

// ---- elementwise binary (NumPy broadcasting)
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, double exponent);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
// A scalar as a 0-dim tensor shaped to combine with `like` (its dtype; float32 if the
// value has a fraction and `like` is integral).
Tensor scalar_like(double value, const Tensor& like);

// ---- reductions: dims empty = all dims
Tensor sum(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Tensor prod(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Tensor amax(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Tensor var(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false, double correction = 1);
Tensor std(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false, double correction = 1);
Tensor argmax(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor argmin(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
// The largest (smallest) value along `dim` and its int64 index, as torch.max(x, dim) and
// torch.min(x, dim): the index is argmax's (argmin's), the value x's element there, so the
// gradient goes to that one element as in PyTorch (amax/amin share it among ties).
//   auto [values, indices] = max(logits, -1);
struct ValuesIndices {
  Tensor values, indices;
};
ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim = false);
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim = false);
// The k largest (smallest) values along `dim` and their indices, best first, as
// torch.topk (sorted): NaN counts as the largest value, equal values come by lower index;
// the values are gather's, so their gradient goes to the chosen elements.
ValuesIndices topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true);
// Category indices drawn from rows of non-negative weights (1-D [C] -> int64 [n], 2-D
// [B, C] -> [B, n]) with the default generator, as torch.multinomial: without replacement
// no row repeats a category. Weights need not sum to 1; negative, non-finite or all-zero
// rows are errors in eager calls (core/functions/sampling.cpp).
Tensor multinomial(const Tensor& weights, int64_t num_samples, bool replacement = false);
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

// ---- linear algebra
Tensor matmul(const Tensor& a, const Tensor& b);

// ---- convolution and pooling, NCHW (PyTorch's torch.nn.functional forms). A size, stride,
// padding or dilation is {h, w}, or {v} for both; an empty pooling stride is the kernel.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), const Shape& stride = {1},
              const Shape& padding = {0}, const Shape& dilation = {1}, int64_t groups = 1);
// padding="valid" (none) or "same" (stride 1; the output keeps the input's H and W; an
// even dilated kernel pads one more at the bottom and right, as PyTorch does), as
// libtorch's torch::kValid / torch::kSame.
enum class PaddingMode { Valid, Same };
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Shape& stride, PaddingMode padding,
              const Shape& dilation = {1}, int64_t groups = 1);
Tensor max_pool2d(const Tensor& x, const Shape& kernel, const Shape& stride = {}, const Shape& padding = {0},
                  const Shape& dilation = {1}, bool ceil_mode = false);
Tensor avg_pool2d(const Tensor& x, const Shape& kernel, const Shape& stride = {}, const Shape& padding = {0},
                  bool ceil_mode = false, bool count_include_pad = true);
Tensor adaptive_avg_pool2d(const Tensor& x, const Shape& output_size);

// ---- indexing and joining
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor one_hot(const Tensor& index, int64_t num_classes);
// A strided window into x's elements in row-major order (a view when x is contiguous),
// and base with that window overwritten by src (Note [as_strided over elements] in
// core/ops/strided.cpp): element i of the window is x.flatten()[offset + sum(i_k * stride_k)].
Tensor as_strided(const Tensor& x, const Shape& size, const Shape& stride, int64_t offset = 0);
Tensor as_strided_scatter(const Tensor& base, const Tensor& src, const Shape& size, const Shape& stride,
                          int64_t offset = 0);

}  // namespace duet
