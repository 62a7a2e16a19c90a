// Bad input gives a duet::Error (not an InternalError, not a crash) whose message names the
// op and the problem: wrong shapes, dtypes, dims, sizes, indices, arities and tensors.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <string_view>

#include "tests/test_support.h"
#include "core/dispatch.h"
#include "core/functions.h"
#include "nn/nn.h"

using namespace duet;
using testing::values_of;

#if defined(__SANITIZE_ADDRESS__)
// The out-of-memory checks below ask for 2^62 bytes; ASan must return null (as malloc
// does) instead of stopping the process.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }
#endif

namespace {


Tensor f32(const Shape& s) { return zeros(s, DType::Float32); }
Tensor i64(std::vector<int64_t> v) {
  Shape s = {int64_t(v.size())};
  return tensor<int64_t>(v, s);
}

}  // namespace

TEST_CASE("matmul: shapes and dtypes") {
  CHECK_THROWS_WITH_AS(matmul(f32({3, 4}), f32({5, 6})),
                       "matmul: shapes [3, 4] and [5, 6] cannot be multiplied (4 != 5)", duet::Error);
  EXPECT_ERROR(matmul(f32({2, 3, 4}), f32({3, 5})), "matmul", "[2, 3, 4]", "[3, 5]", "4 != 3");
  EXPECT_ERROR(matmul(f32({2, 3, 4}), f32({3, 4, 5})), "matmul", "cannot be broadcast", "[2]", "[3]");
  EXPECT_ERROR(matmul(f32({}), f32({3})), "matmul", "at least 1 dim");
  EXPECT_ERROR(matmul(f32({2, 2}), zeros({2, 2}, DType::Float64)), "matmul", "one dtype", "float32[2, 2]",
               "float64[2, 2]");
  EXPECT_ERROR(matmul(zeros({2, 2}, DType::Int64), zeros({2, 2}, DType::Int64)), "matmul", "floating-point",
               "int64");
}

TEST_CASE("elementwise: broadcasting and dtypes") {
  EXPECT_ERROR(add(f32({2, 3}), f32({4})), "add: shapes [2, 3] and [4] cannot be broadcast together", "3 vs 4");
  EXPECT_ERROR(mul(f32({3, 1, 5}), f32({2, 4})), "mul", "cannot be broadcast", "5 vs 4");
  EXPECT_ERROR(eq(f32({3}), f32({2})), "eq", "cannot be broadcast");
  EXPECT_ERROR(where(f32({3}), f32({3}), f32({3})), "where: the condition must be a bool tensor", "float32[3]");
  EXPECT_ERROR(where(zeros({3}, DType::Bool), f32({3}), f32({4})), "where", "cannot be broadcast");
  EXPECT_ERROR(add(zeros({2}, DType::Bool), zeros({2}, DType::Bool)), "add", "numeric", "bool[2]");
  EXPECT_ERROR(neg(zeros({2}, DType::Bool)), "neg", "numeric tensor", "bool[2]");
  EXPECT_ERROR(gelu(f32({2}), "fast"), "gelu", "approximate", "fast");
  EXPECT_ERROR(clamp(f32({2}), 2.0, 1.0), "clamp", "min (2) is greater than max (1)");
  EXPECT_ERROR(clamp(f32({2}), std::nullopt, std::nullopt), "clamp", "at least one of min and max");
}

TEST_CASE("reductions and softmax: dims and dtypes") {
  EXPECT_ERROR(sum(f32({2, 3}), {5}), "sum: dim 5 is out of range for a tensor with 2 dims", "[-2, 1]");
  EXPECT_ERROR(sum(f32({2, 3}), {-3}), "sum: dim -3 is out of range");
  EXPECT_ERROR(sum(f32({2, 3}), {1, -1}), "sum", "more than once");
  EXPECT_ERROR(mean(zeros({3}, DType::Int64)), "mean: expected a floating-point tensor", "int64[3]");
  EXPECT_ERROR(var(zeros({3}, DType::Int32)), "var", "floating-point", "int32[3]");
  EXPECT_ERROR(var(f32({3}), {}, false, -1), "var", "correction must be >= 0");
  EXPECT_ERROR(amax(f32({0, 3}), {0}), "amax", "dim 0 of size 0");
  EXPECT_ERROR(argmax(f32({0, 3})), "argmax", "empty tensor");
  EXPECT_ERROR(argmin(f32({2, 3}), 2), "argmin: dim 2 is out of range");
  EXPECT_ERROR(softmax(f32({2, 3}), 3), "softmax: dim 3 is out of range for a tensor with 2 dims");
  EXPECT_ERROR(log_softmax(zeros({2, 3}, DType::Int64), 1), "log_softmax", "floating-point", "int64[2, 3]");
}

TEST_CASE("views: dims, sizes and strides") {
  Tensor x = f32({2, 3});
  EXPECT_ERROR(x.transpose(0, 2), "transpose: dim 2 is out of range for a tensor with 2 dims");
  EXPECT_ERROR(x.select(0, 2), "select: index 2 is out of range for dim 0 of size 2");
  EXPECT_ERROR(x.select(1, -4), "select: index -4 is out of range for dim 1 of size 3");
  EXPECT_ERROR(f32({}).select(0, 0), "select", "0-dim");
  EXPECT_ERROR(x.reshape({4}), "reshape: shape [4] is invalid for an input of shape [2, 3] (6 elements)");
  EXPECT_ERROR(x.reshape({-1, -1}), "reshape", "only one dim can be -1");
  EXPECT_ERROR(x.reshape({-1, 4}), "reshape", "[-1, 4]", "is invalid");
  EXPECT_ERROR(x.t().view({6}), "view: shape [6] is incompatible", "[3, 2]", "strides [1, 3]");
  EXPECT_ERROR(x.expand({2, 4}), "expand: the input's size 3 in dim 1 must be 1 or match the target size 4");
  EXPECT_ERROR(x.expand({3}), "expand", "fewer dims");
  EXPECT_ERROR(x.permute({0, 0}), "permute: dims [0, 0] repeat dim 0");
  EXPECT_ERROR(x.permute({0}), "permute", "for a tensor with 2 dims");
  EXPECT_ERROR(x.slice(0, 0, 2, 0), "slice: step must be positive, got 0");
  EXPECT_ERROR(x.slice(2, 0, 1), "slice: dim 2 is out of range");
  EXPECT_ERROR(x.narrow(1, 2, 2), "narrow", "out of range");
  EXPECT_ERROR(f32({2, 3, 4}).flatten(2, 1), "flatten", "start_dim");
}

TEST_CASE("factories: sizes, element counts and dims") {
  EXPECT_ERROR(zeros({-1}), "negative size in shape [-1]");
  EXPECT_ERROR(zeros({2, -3}), "negative size", "[2, -3]");
  EXPECT_ERROR(zeros({int64_t(1) << 40, int64_t(1) << 40}), "element count", "overflows int64");
  EXPECT_ERROR(empty({int64_t(1) << 62, 4}), "empty", "overflows int64");
  EXPECT_ERROR(zeros(Shape(9, 1)), "has 9 dims; at most 8 are supported");
  EXPECT_ERROR(f32({1}).reshape(Shape(9, 1)), "reshape", "9 dims");
  EXPECT_ERROR(arange(0, 10, 0), "arange: step must be finite and non-zero, got 0");
  EXPECT_ERROR(arange(0, 10, -1), "arange", "goes away from end");
  EXPECT_ERROR(linspace(0, 1, -2), "linspace: steps must be >= 0, got -2");
  EXPECT_ERROR(eye(-1), "eye: n and m must be >= 0");
  EXPECT_ERROR(randint(5, 5, {3}), "randint: low (5) must be less than high (5)");
  EXPECT_ERROR(randint(0, 2, {3}, DType::Bool), "randint", "bool");
  EXPECT_ERROR(rand({3}, DType::Int64), "rand_uniform", "floating-point dtype");
  EXPECT_ERROR(uniform({3}, 2, 1), "low (2) must not exceed high (1)");
  EXPECT_ERROR(normal({3}, 0, -1), "std must be >= 0");
  EXPECT_ERROR(tensor<float>({1, 2, 3}, {2, 2}), "tensor: 3 values cannot fill shape [2, 2]");
  EXPECT_ERROR(from_blob(nullptr, {2}, DType::Float32), "from_blob: data is null");
}

TEST_CASE("joining and indexing") {
  EXPECT_ERROR(cat({f32({2, 3}), f32({2, 4})}, 0), "cat: sizes must match except in dim 0", "[2, 3]", "[2, 4]");
  EXPECT_ERROR(cat({f32({2, 3}), f32({3})}, 0), "cat: tensor 0 has 2 dims but tensor 1 has 1");
  EXPECT_ERROR(cat({f32({}), f32({})}, 0), "cat: zero-dim tensors cannot be concatenated");
  EXPECT_ERROR(cat({f32({2, 3})}, 2), "cat: dim 2 is out of range");
  EXPECT_ERROR(cat({}, 0), "cat: expected a non-empty list of tensors");
  EXPECT_ERROR(stack({f32({2}), f32({3})}), "stack", "one shape");

  Tensor x = f32({3, 4});
  EXPECT_ERROR(index_select(x, 0, i64({0, 3})), "index_select: index 3 is out of range for dim 0 with size 3");
  EXPECT_ERROR(index_select(x, 1, i64({-1})), "index_select: index -1 is out of range for dim 1 with size 4");
  EXPECT_ERROR(index_select(x, 0, f32({2})), "index_select", "int64 or int32 index", "float32[2]");
  EXPECT_ERROR(index_select(x, 0, zeros({2, 2}, DType::Int64)), "index_select", "0-D or 1-D");
  EXPECT_ERROR(index_select(x, 2, i64({0})), "index_select: dim 2 is out of range");
  Tensor idx = tensor<int64_t>({0, 4, 1, 2}, {2, 2});
  EXPECT_ERROR(gather(x, 0, idx), "gather: index 4 is out of range for dim 0 with size 3");
  EXPECT_ERROR(gather(x, 1, tensor<int64_t>({0, -2}, {1, 2})), "gather: index -2 is out of range");
  EXPECT_ERROR(gather(x, 0, i64({0})), "gather", "as many dims");
  EXPECT_ERROR(gather(x, 0, zeros({2, 5}, DType::Int64)), "gather", "larger than the input");
  EXPECT_ERROR(scatter_add(x, 0, idx, f32({2, 2})), "scatter_add: index 4 is out of range");
  EXPECT_ERROR(scatter_add(x, 0, zeros({2, 2}, DType::Int64), zeros({2, 2}, DType::Float64)), "scatter_add",
               "dtype of the input");
  EXPECT_ERROR(one_hot(i64({0, 3}), 3), "one_hot: index 3 is out of range for num_classes 3");
  EXPECT_ERROR(one_hot(i64({-1}), 3), "one_hot: index -1 is out of range");
  EXPECT_ERROR(one_hot(i64({0}), 0), "one_hot: num_classes must be >= 1");
}

TEST_CASE("tensor access: dtypes, element counts, devices") {
  Tensor x = f32({2, 3});
  EXPECT_ERROR(x.data<int64_t>(), "tensor.data: the tensor has dtype float32 but int64 was requested");
  EXPECT_ERROR(x.item<float>(), "item: expected a tensor with one element, got shape [2, 3]");
  EXPECT_ERROR(f32({0}).item<float>(), "item", "[0]");
  EXPECT_ERROR(x.size(2), "size: dim 2 is out of range");
  EXPECT_ERROR(Device::parse("gpu"), "Device: cannot parse 'gpu'", "'cpu', 'cuda' or 'cuda:N'");
  EXPECT_ERROR(Device::parse("cuda:x"), "Device: cannot parse 'cuda:x'");
  EXPECT_ERROR(x.to(Device::cuda(0)), "to:", "cuda:0");
}

TEST_CASE("dispatch: undefined tensors, arity, out tensors") {
  Tensor undefined;
  Tensor x = f32({3});
  EXPECT_ERROR(add(undefined, x), "add: input 0 is an undefined tensor");
  EXPECT_ERROR(matmul(x, undefined), "matmul: input 1 is an undefined tensor");
  EXPECT_ERROR(undefined.sizes(), "use of an undefined tensor");
  EXPECT_ERROR(apply(OpKind::add, {x}), "add: expected 2 input tensor(s), got 1");
  EXPECT_ERROR(apply(OpKind::neg, {x, x}), "neg: expected 1 input tensor(s), got 2");
  EXPECT_ERROR(apply(OpKind::full, {x}, Attrs().set("shape", Shape{2}).set("value", 1.0)),
               "full: expected 0 input tensor(s), got 1");
  EXPECT_ERROR(apply(OpKind::cat, std::span<const Tensor>{}, Attrs().set("dim", 0)),
               "cat: expected at least one input tensor, got none");
  EXPECT_ERROR(op_by_name("no_such_op"), "no_such_op");

  Tensor out = f32({4});
  std::vector<Tensor> in = {x, x};
  EXPECT_ERROR(apply_out(OpKind::add, in, {}, out), "add: result of shape [3] cannot be written into a tensor of shape [4]");
  Tensor iout = zeros({3}, DType::Int64);
  EXPECT_ERROR(apply_out(OpKind::add, in, {}, iout), "add", "dtype float32", "int64");
  std::vector<Tensor> one = {f32({2, 2})};
  Tensor mout = f32({2});
  EXPECT_ERROR(apply_out(OpKind::sum, one, {}, mout), "sum", "in-place");
}

TEST_CASE("sizes: element, stride and byte counts never wrap") {
  // 2^62 float64 elements are 2^65 bytes: the byte count used to wrap to 0.
  EXPECT_ERROR(zeros({int64_t(1) << 62}, DType::Float64), "full: shape [4611686018427387904] of float64 needs",
               "more than 2^63 - 1 bytes");
  EXPECT_ERROR(zeros({(int64_t(1) << 62) - 1}), "full", "[4611686018427387903]", "float32", "2^63 - 1 bytes");
  EXPECT_ERROR(empty({int64_t(1) << 61}), "empty", "of float32 needs more than 2^63 - 1 bytes");
  EXPECT_ERROR(from_blob(nullptr, {int64_t(1) << 61}, DType::Float64), "from_blob", "2^63 - 1 bytes");
  // A 0 size makes the element count 0, but the contiguous strides would still overflow.
  EXPECT_ERROR(empty({0, int64_t(1) << 40, int64_t(1) << 40}), "empty: the strides of shape",
               "[0, 1099511627776, 1099511627776] overflow int64");
  EXPECT_ERROR(f32({1}).expand({int64_t(1) << 62}).reshape({int64_t(1) << 40, int64_t(1) << 40, -1}), "reshape",
               "is invalid for an input of shape [4611686018427387904]");
  Tensor half = f32({1}).expand({int64_t(1) << 62});
  EXPECT_ERROR(cat({half, half, half}), "cat: the sizes in dim 0 add up to more than int64 holds");
  // An op's result is checked the same way (an expanded input costs no memory).
  Tensor wide = f32({1}).expand({int64_t(1) << 62});
  EXPECT_ERROR(wide + 1.0, "add: shape [4611686018427387904] of float32 needs more than 2^63 - 1 bytes");
}

TEST_CASE("memory: a failed allocation is an error naming the op, the bytes and the shape") {
  // 2^62 bytes fit the size checks but no machine's address space.
  try {
    (void)zeros({int64_t(1) << 60});
    FAIL_CHECK("a 2^62-byte tensor was allocated");
  } catch (const OutOfMemoryError& e) {
    std::string msg = e.what();
    CHECK_MESSAGE(msg.find("full: cannot allocate 4611686018427387904 bytes for a result of "
                           "float32[1152921504606846976]") != std::string::npos, msg);
  }
  EXPECT_ERROR(empty({int64_t(1) << 59}, DType::Float64), "empty: cannot allocate 4611686018427387904 bytes",
               "float64[576460752303423488]");
}

TEST_CASE("work limits: absurd reductions and products are refused up front") {
  Tensor wide = f32({1}).expand({int64_t(1) << 62});
  EXPECT_ERROR(wide.sum(), "sum: float32[4611686018427387904] needs 4611686018427387904 element reads",
               "more than the 2^40 one op may do");
  EXPECT_ERROR(wide.amax(), "amax", "element reads", "2^40");
  EXPECT_ERROR(argmax(wide), "argmax", "element reads", "2^40");
  EXPECT_ERROR(f32({1, 1}).expand({int64_t(1) << 31, int64_t(1) << 31}).mean({1}), "mean", "2^40");
  // An expanded [2^20, 2^20] operand: reading it is the absurd part, whatever the other is.
  Tensor big = f32({1, 1}).expand({int64_t(1) << 20, int64_t(1) << 20});
  EXPECT_ERROR(matmul(big, f32({int64_t(1) << 20, 1})), "matmul: float32[1048576, 1048576] @ float32[1048576, 1] "
               "needs 1099512676352 element reads", "2^40");
  EXPECT_ERROR(matmul(f32({1, 1}).expand({int64_t(1) << 30, 1}), f32({1, 1}).expand({1, int64_t(1) << 30})),
               "matmul", "[1073741824, 1] @ float32[1, 1073741824] needs 1152921504606846976 multiply-adds",
               "2^48");
  EXPECT_ERROR(matmul(f32({1, 1, 1}).expand({int64_t(1) << 62, 1, 1}), f32({1, 1})), "matmul", "2^63 or more");
  Tensor index = zeros({1, 1}, DType::Int64).expand({int64_t(1) << 50, 1});
  EXPECT_ERROR(scatter_add(f32({3, 1}), 0, index, f32({1, 1}).expand({int64_t(1) << 50, 1})),
               "scatter_add: index int64[1125899906842624, 1] needs", "element reads", "2^40");
  // Below the limits, expanded operands still work.
  CHECK(f32({1}).expand({int64_t(1) << 20}).sum().item<float>() == 0.0f);
  CHECK(matmul(f32({1, 1}).expand({1000, 1000}), f32({1000, 1})).sum().item<float>() == 0.0f);
}

TEST_CASE("scalars: values an integer dtype cannot hold are errors, not silent conversions") {
  EXPECT_ERROR(full({2}, NAN, DType::Int64), "full: the value nan cannot be converted to int64 without overflow");
  EXPECT_ERROR(full({2}, INFINITY, DType::Int32), "full: the value inf cannot be converted to int32");
  EXPECT_ERROR(full({2}, 3e9, DType::Int32), "full: the value 3e+09 cannot be converted to int32");
  EXPECT_ERROR(full({2}, 0x1p63, DType::Int64), "full", "int64", "without overflow");
  CHECK(full({1}, -0x1p63, DType::Int64).item<int64_t>() == std::numeric_limits<int64_t>::min());
  CHECK(full({1}, 2.9, DType::Int32).item<int32_t>() == 2);  // a fraction truncates, as in PyTorch
  Tensor i = zeros({2}, DType::Int64);
  EXPECT_ERROR(i.fill_(NAN), "full: the value nan cannot be converted to int64");
  EXPECT_ERROR(zeros({2}, DType::Int32).fill_(-1e10), "int32", "without overflow");
  EXPECT_ERROR(zeros({2}, DType::Int32) + 1e10, "the scalar 1e+10 cannot be converted to int32",
               "combined with a tensor of dtype int32");
  EXPECT_ERROR(arange(0, 4, 1, DType::Int32) * 0x1p63, "the scalar", "int32");
  EXPECT_ERROR(arange(1e30, 1e30 + 1e15, 1e14), "arange: the value 1e+30 cannot be converted to int64");
  EXPECT_ERROR(randint(0, int64_t(1) << 40, {2}, DType::Int32), "randint: the value", "int32 without overflow");
  // A scalar with a fraction promotes an integer tensor to float32 (as out of place), which
  // an in-place op cannot write back: PyTorch's "result type Float can't be cast to Long".
  EXPECT_ERROR(i.add_(0.5), "add: result of dtype float32 cannot be written into a tensor of dtype int64");
  EXPECT_ERROR(i.mul_(1.5), "mul", "float32", "int64");
  CHECK(values_of(i) == std::vector<double>{0, 0});
  i.add_(2.0);
  CHECK(values_of(i) == std::vector<double>{2, 2});
  CHECK(values_of(tensor<int64_t>({3}) + 0.5) == std::vector<double>{3.5});
}

TEST_CASE("pow: integers to negative integer powers") {
  Tensor base = tensor<int64_t>({2, 3, 4});
  EXPECT_ERROR(pow(base, -1), "pow: integers to negative integer powers are not allowed",
               "the exponent int64[] holds -1");
  EXPECT_ERROR(pow(base, tensor<int64_t>({1, -2, 0})), "pow: integers to negative", "int64[3] holds -2");
  EXPECT_ERROR(pow(tensor<int32_t>({1}), tensor<int32_t>({-3})), "pow", "int32[1] holds -3");
  // Nothing is written before the check.
  std::vector<Tensor> in = {base, tensor<int64_t>({2, 2, -1})};
  EXPECT_ERROR(apply_out(OpKind::pow, in, {}, base), "pow", "holds -1");
  CHECK(values_of(base) == std::vector<double>{2, 3, 4});
  // Non-negative and floating exponents are fine.
  CHECK(values_of(pow(base, tensor<int64_t>({0, 2, 3}))) == std::vector<double>{1, 9, 64});
  CHECK(values_of(pow(base, -1.0 / 2)) == values_of(pow(base.to(DType::Float32), -0.5)));
}

TEST_CASE("in place: a destination with several elements at one address is refused") {
  Tensor e = f32({1}).expand({4});
  EXPECT_ERROR(e.add_(1.0), "add: unsupported operation: more than one element of the written-to tensor",
               "shape [4], strides [0]", "clone() it first");
  EXPECT_ERROR(e.fill_(2.0), "copy", "more than one element", "[4]");
  EXPECT_ERROR(f32({3, 1}).expand({3, 2}).copy_(f32({3, 2})), "copy", "shape [3, 2], strides [1, 0]");
}

TEST_CASE("convolution and pooling: dims, channels, groups and windows") {
  EXPECT_ERROR(conv2d(f32({3, 8, 8}), f32({4, 3, 3, 3})), "conv2d", "4-D (N, C, H, W) input", "float32[3, 8, 8]");
  EXPECT_ERROR(conv2d(f32({1, 3, 8, 8}), f32({4, 2, 3, 3})), "conv2d", "weight [4, 2, 3, 3]", "expects 2 input channels",
               "has 3");
  EXPECT_ERROR(conv2d(f32({1, 6, 8, 8}), f32({4, 3, 3, 3}), {}, {1}, Shape{0}, {1}, 4), "conv2d",
               "divisible by groups (4)");
  EXPECT_ERROR(conv2d(f32({1, 3, 2, 2}), f32({4, 3, 5, 5})), "conv2d", "kernel of size [5, 5]",
               "larger than the padded input [2, 2]");
  EXPECT_ERROR(conv2d(f32({1, 3, 8, 8}), f32({4, 3, 3, 3}), f32({3})), "conv2d", "bias", "4 values", "float32[3]");
  EXPECT_ERROR(conv2d(f32({1, 3, 8, 8}), zeros({4, 3, 3, 3}, DType::Float64)), "conv2d", "one dtype", "float64");
  EXPECT_ERROR(conv2d(zeros({1, 3, 8, 8}, DType::Int32), zeros({4, 3, 3, 3}, DType::Int32)), "conv2d",
               "float32 or float64", "int32");
  EXPECT_ERROR(conv2d(f32({1, 3, 8, 8}), f32({4, 3, 3, 3}), {}, {0}), "conv2d", "stride must be positive");
  EXPECT_ERROR(conv2d(f32({1, 3, 8, 8}), f32({4, 3, 3, 3}), {}, {2}, PaddingMode::Same), "conv2d", "same",
               "stride 1");
  EXPECT_ERROR(conv2d(f32({1, 3, 8, 8}), f32({4, 3, 3, 3}), {}, {1, 2, 3}), "conv2d", "stride takes 1 or 2 values");
  EXPECT_ERROR(max_pool2d(f32({1, 3, 8, 8}), {2}, {2}, {2}), "max_pool2d", "padding [2, 2]", "at most half");
  EXPECT_ERROR(max_pool2d(f32({1, 3, 1, 8}), {2}), "max_pool2d", "larger than the padded input [1, 8]");
  EXPECT_ERROR(avg_pool2d(f32({8, 8}), {2}), "avg_pool2d", "4-D", "float32[8, 8]");
  EXPECT_ERROR(adaptive_avg_pool2d(f32({1, 3, 8, 8}), {0}), "adaptive_avg_pool2d", "output_size must be positive");
  EXPECT_ERROR(adaptive_avg_pool2d(f32({1, 3, 0, 8}), {2}), "adaptive_avg_pool2d", "non-empty H and W");
}

TEST_CASE("layer norm: normalised shape, affine shapes and dtypes") {
  namespace F = nn::functional;
  EXPECT_ERROR(F::layer_norm(f32({4, 6}), {5}), "layer_norm", "normalized_shape [5]", "last dims",
               "float32[4, 6]");
  EXPECT_ERROR(F::layer_norm(f32({4, 6}), {6}, f32({5})), "layer_norm", "weight must have the normalised shape [6]",
               "float32[5]");
  EXPECT_ERROR(F::layer_norm(f32({4, 6}), {6}, f32({6}), zeros({6}, DType::Float64)), "layer_norm",
               "bias float64[6] must have the input's dtype float32");
  EXPECT_ERROR(F::layer_norm(zeros({4, 6}, DType::Int64), {6}), "layer_norm", "float32 or float64", "int64[4, 6]");
  EXPECT_ERROR(apply(OpKind::layer_norm, {f32({4, 6})}, Attrs().set("normalized_dims", int64_t(3)).set("eps", 1e-5)),
               "layer_norm", "normalized_dims 3", "between 1 and the input's 2 dims");
  EXPECT_ERROR(apply(OpKind::layer_norm_backward, {f32({4, 5}), f32({4, 6})},
                     Attrs().set("normalized_dims", int64_t(1)).set("eps", 1e-5)),
               "layer_norm_backward", "output gradient float32[4, 5] must match the input float32[4, 6]");
  EXPECT_ERROR(nn::LayerNorm(Shape{}), "LayerNorm", "normalized_shape must be non-empty");
}

TEST_CASE("batch norm: dims, channels and dtypes") {
  EXPECT_ERROR(apply(OpKind::batch_norm_stats, {f32({2, 3, 2, 2, 2})}, {}), "batch_norm_stats", "(N, C, H, W)",
               "float32[2, 3, 2, 2, 2]");
  EXPECT_ERROR(apply(OpKind::batch_norm, {f32({2, 3}), f32({3}), f32({2}), f32({3}), f32({3})},
                     Attrs().set("eps", 1e-5).set("training", true)),
               "batch_norm", "var must be 1-D with 3 values", "float32[2]");
  EXPECT_ERROR(apply(OpKind::batch_norm_stats, {zeros({2, 3}, DType::Int64)}, {}), "batch_norm_stats",
               "float32 or float64", "int64");
}
