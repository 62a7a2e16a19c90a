// Test-only reference implementations of duet's ops, independent of duet's kernels:
// tensors are read element by element through their strides into dense row-major
// std::vector<double> (RefTensor), and every op is a plain loop in double over those.
// Only duet's metadata (sizes, strides, offset, dtype) and raw storage are used, never an
// op, so a bug in a kernel cannot hide in its own reference.
//
//   RefTensor a = ref::read(x), b = ref::read(y);
//   RefTensor want = ref::binary(a, b, DType::Float32, [](double p, double q) { return p + q; });
//   std::string err = ref::compare(duet::add(x, y), want, ref::default_tol(DType::Float32));
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace duet::ref {

struct RefTensor {
  Shape shape;
  DType dtype = DType::Float32;
  std::vector<double> v;      // row-major values
  std::vector<double> scale;  // per element magnitude for tolerances (sum of |terms|); empty = |v|
  int64_t numel() const { return int64_t(v.size()); }
  int64_t dim() const { return int64_t(shape.size()); }
};

// ---- reading, indexing, dtype rules
RefTensor read(const Tensor& t);                                // through strides, any dtype
RefTensor zeros_with_scale(const Shape& shape, DType dt);        // zeros, and zero magnitudes to add to
double stored_value(DType dt, double v);                        // v after a round trip through dt
int64_t numel(const Shape& s);
std::vector<int64_t> unravel(int64_t flat, const Shape& shape);  // row-major multi-index
int64_t ravel(const std::vector<int64_t>& idx, const Shape& shape);
// NumPy broadcast; nullopt when the shapes do not broadcast.
std::optional<Shape> broadcast(const Shape& a, const Shape& b);
// Value of `t` at `out_idx` of a broadcast result of rank out_idx.size().
double at_broadcast(const RefTensor& t, const std::vector<int64_t>& out_idx);
bool is_float(DType dt);
// PyTorch's promote_types and result_type (0-dim operands lose to dimensioned ones of the
// same category; categories here are bool < integer < floating).
DType promote(DType a, DType b);
DType result_type(const RefTensor& a, const RefTensor& b);

// ---- elementwise
RefTensor unary(const RefTensor& x, DType out, const std::function<double(double)>& f);
RefTensor binary(const RefTensor& a, const RefTensor& b, DType out, const std::function<double(double, double)>& f);
RefTensor ternary(const RefTensor& a, const RefTensor& b, const RefTensor& c, DType out,
                  const std::function<double(double, double, double)>& f);

// ---- reductions (dims empty = all; negative dims wrap)
enum class Reduce { Sum, Mean, Prod, Max, Min, Var, Std };
RefTensor reduce(const RefTensor& x, std::vector<int64_t> dims, bool keepdim, Reduce kind, DType out,
                 double correction = 1);
RefTensor arg_reduce(const RefTensor& x, std::optional<int64_t> dim, bool keepdim, bool is_max);
RefTensor softmax(const RefTensor& x, int64_t dim, bool log);

// ---- linear algebra, indexing, joining
RefTensor matmul(const RefTensor& a, const RefTensor& b);
RefTensor index_select(const RefTensor& x, int64_t dim, const RefTensor& index);
RefTensor gather(const RefTensor& x, int64_t dim, const RefTensor& index);
RefTensor scatter_add(const RefTensor& x, int64_t dim, const RefTensor& index, const RefTensor& src);
RefTensor cat(const std::vector<RefTensor>& xs, int64_t dim, DType out);
RefTensor one_hot(const RefTensor& index, int64_t classes);

// ---- views (value semantics only)
RefTensor permute(const RefTensor& x, const std::vector<int64_t>& dims);
RefTensor expand(const RefTensor& x, const Shape& shape);
RefTensor slice(const RefTensor& x, int64_t dim, int64_t start, int64_t end, int64_t step);
RefTensor reshape(const RefTensor& x, const Shape& shape);
// The window over x's row-major elements (Note [as_strided over elements]), and x with
// the window's elements replaced by src's.
RefTensor as_strided(const RefTensor& x, const Shape& size, const Shape& stride, int64_t offset);
RefTensor as_strided_scatter(const RefTensor& x, const RefTensor& src, const Shape& size, const Shape& stride,
                             int64_t offset);

// ---- comparison
struct Tol {
  double rtol = 0, atol = 0;
};
Tol default_tol(DType dt);  // exact for integers and bool
Tol scaled(Tol t, double factor);
// "" when `got` has the expected shape, dtype and values (read through its strides);
// otherwise a description of the first mismatches. NaN matches NaN, inf matches inf.
std::string compare(const Tensor& got, const RefTensor& want, Tol tol);
// True when two tensors hold bitwise-identical elements (same shape and dtype).
bool bitwise_equal(const Tensor& a, const Tensor& b);

}  // namespace duet::ref
