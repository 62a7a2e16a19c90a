// Tensor: metadata (shape, strides, offset, dtype, device) over a shared Storage.
// Copies of a Tensor are cheap handles to the same TensorImpl; views (reshape, transpose,
// slice, expand, ...) are new TensorImpls over the same Storage.
//
//   Tensor x = duet::randn({2, 3});
//   Tensor y = x.transpose(0, 1).contiguous();   // (3, 2)
//   float v = y.sum().item<float>();
//   std::cout << x << "\n";                       // tensor([[...]])
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/shape.h"
#include "core/storage.h"

namespace duet {

// Extension slot owned by autograd/ (defined there, opaque here).
struct AutogradMeta;

class TensorImpl {
 public:
  TensorImpl(std::shared_ptr<Storage> storage, Shape sizes, Shape strides, int64_t offset, DType dtype,
             Device device)
      : sizes_(std::move(sizes)), strides_(std::move(strides)), offset_(offset), dtype_(dtype),
        device_(device), storage_(std::move(storage)) {}

  Shape sizes_;
  Shape strides_;          // in elements
  int64_t offset_ = 0;     // in elements, into storage_
  DType dtype_;
  Device device_;
  std::shared_ptr<Storage> storage_;          // symbolic while graph capture records (no memory)
  bool is_view_ = false;                      // made by a view op: shares another tensor's memory
  std::shared_ptr<AutogradMeta> autograd_;    // autograd/ sets this when grad is tracked
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- metadata
  bool defined() const { return impl_ != nullptr; }
  const Shape& sizes() const { return impl().sizes_; }
  const Shape& shape() const { return impl().sizes_; }
  const Shape& strides() const { return impl().strides_; }
  int64_t size(int64_t dim) const;
  int64_t stride(int64_t dim) const;
  int64_t dim() const { return int64_t(impl().sizes_.size()); }
  int64_t numel() const { return numel_of(impl().sizes_); }
  DType dtype() const { return impl().dtype_; }
  Device device() const { return impl().device_; }
  int64_t storage_offset() const { return impl().offset_; }
  size_t element_size() const { return dtype_size(dtype()); }
  bool is_contiguous() const { return duet::is_contiguous(sizes(), strides()); }
  bool is_floating_point() const { return is_floating(dtype()); }
  const std::shared_ptr<Storage>& storage() const { return impl().storage_; }
  TensorImpl* unsafe_impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
  // A value being captured into a graph: it has a shape but no memory yet.
  bool is_symbolic() const { return storage() && storage()->is_symbolic(); }

  // Pointer to element 0 (after the storage offset). data<T>() checks that T matches.
  void* data_ptr() const;
  template <typename T>
  T* data() const {
    check_dtype(dtype_v<T>, "data");
    return static_cast<T*>(data_ptr());
  }

  // ---- views (no copy)
  Tensor view(const Shape& shape) const;     // error when strides forbid a view
  Tensor reshape(const Shape& shape) const;  // a view when possible, else a copy
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const;                          // transpose of a 2-D tensor
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor operator[](int64_t index) const { return select(0, index); }
  Tensor expand(const Shape& shape) const;   // -1 keeps a size
  Tensor expand_as(const Tensor& other) const { return expand(other.sizes()); }
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;

  // ---- copies and conversions
  Tensor contiguous() const;                 // itself when already contiguous
  Tensor clone() const;
  Tensor to(DType dtype) const;              // itself when already of that dtype
  Tensor to(Device device) const;
  template <typename T>
  T item() const;
  template <typename T>
  std::vector<T> to_vector() const;

  // ---- common math as methods (the free functions in core/functions.h are the full set)
  Tensor sum(std::vector<int64_t> dims = {}, bool keepdim = false) const;
  Tensor mean(std::vector<int64_t> dims = {}, bool keepdim = false) const;
  Tensor amax(std::vector<int64_t> dims = {}, bool keepdim = false) const;
  Tensor amin(std::vector<int64_t> dims = {}, bool keepdim = false) const;
  Tensor argmax(int64_t dim, bool keepdim = false) const;
  Tensor prod(std::vector<int64_t> dims = {}, bool keepdim = false) const;
  Tensor var(std::vector<int64_t> dims = {}, bool keepdim = false, double correction = 1) const;
  Tensor std(std::vector<int64_t> dims = {}, bool keepdim = false, double correction = 1) const;
  Tensor matmul(const Tensor& other) const;
  Tensor exp() const;
  Tensor log() const;
  Tensor relu() const;
  Tensor pow(double exponent) const;

  // ---- in-place ops: write into this tensor's memory (which may be a view) and bump its
  // version counter; see core/tensor_inplace.cpp
  const Tensor& add_(const Tensor& other) const;
  const Tensor& add_(double other) const;
  const Tensor& sub_(const Tensor& other) const;
  const Tensor& sub_(double other) const;
  const Tensor& mul_(const Tensor& other) const;
  const Tensor& mul_(double other) const;
  const Tensor& div_(const Tensor& other) const;
  const Tensor& div_(double other) const;
  const Tensor& neg_() const;
  const Tensor& relu_() const;
  const Tensor& clamp_(std::optional<double> min, std::optional<double> max) const;
  const Tensor& zero_() const;
  const Tensor& fill_(double value) const;
  const Tensor& copy_(const Tensor& src) const;  // src broadcasts to this shape; dtypes convert
  uint64_t version() const;                      // bumped by every in-place write

  // ---- autograd (implemented in autograd/tensor_autograd.cpp)
  bool requires_grad() const;
  const Tensor& requires_grad_(bool on = true) const;
  Tensor grad() const;                           // undefined until a backward reaches it
  void set_grad(const Tensor& grad) const;       // an undefined tensor clears it
  bool is_leaf() const;                          // no grad_fn: made by the user, not by an op
  std::string grad_fn_name() const;              // "MatmulBackward", or "" for leaves
  // Gradients of this tensor w.r.t. the leaves that require grad, accumulated into their
  // .grad(). A non-scalar needs the gradient of its output; the graph is freed unless
  // retain_graph.
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;
  Tensor detach() const;                         // same memory, no history
  // fn(grad) runs when the gradient w.r.t. this tensor is computed; a defined return value
  // replaces the gradient.
  void register_hook(std::function<Tensor(const Tensor&)> fn) const;
  void retain_grad() const;                      // keep .grad() on a non-leaf

  std::string str() const;  // PyTorch-style repr: tensor([[1., 2.]])

 private:
  const TensorImpl& impl() const;
  void check_dtype(DType expected, const char* what) const;

  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Arithmetic operators; a scalar operand becomes a 0-dim tensor of the other's dtype
// (float32 when the scalar has a fraction and the tensor is integral).
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
// Ordering comparisons, elementwise, bool results (lt, le, gt, ge with broadcasting; a
// plain number is scalar_like's 0-dim tensor): `x > 0`, `0.5 <= p`. (== and != keep their
// C++ meaning for handles; elementwise equality is eq and ne.)
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, double b);
Tensor operator<=(const Tensor& a, double b);
Tensor operator>(const Tensor& a, double b);
Tensor operator>=(const Tensor& a, double b);
Tensor operator<(double a, const Tensor& b);
Tensor operator<=(double a, const Tensor& b);
Tensor operator>(double a, const Tensor& b);
Tensor operator>=(double a, const Tensor& b);

}  // namespace duet
