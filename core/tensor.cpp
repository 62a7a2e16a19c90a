// Tensor methods: metadata access, views and conversions, each a call into the op
// functions (so autograd and graph capture see them), and the arithmetic operators.
#include "core/tensor.h"

#include <algorithm>
#include <numeric>

#include "core/capture_hooks.h"
#include "core/dispatch.h"
#include "core/functions.h"
#include "kernels/cuda/cuda_api.h"

namespace duet {

const TensorImpl& Tensor::impl() const {
  DUET_CHECK(impl_ != nullptr, "tensor: use of an undefined tensor");
  return *impl_;
}

void Tensor::check_dtype(DType expected, const char* what) const {
  DUET_CHECK(dtype() == expected, "tensor.", what, ": the tensor has dtype ", dtype(), " but ", expected,
             " was requested");
}

int64_t Tensor::size(int64_t d) const { return sizes()[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[wrap_dim(d, dim(), "stride")]; }

void* Tensor::data_ptr() const {
  const TensorImpl& i = impl();
  DUET_CHECK(i.storage_ != nullptr, "tensor.data_ptr: this tensor has no storage");
  if (i.storage_->is_symbolic()) [[unlikely]] {
    const std::string why = "the values of a tensor computed inside the function being compiled were accessed "
                            "(data_ptr) while capturing; they do not exist until the compiled step runs";
    if (CaptureHooks* h = capture_hooks()) h->refuse(why);
    DUET_FAIL(why);
  }
  return static_cast<char*>(i.storage_->data()) + i.offset_ * int64_t(dtype_size(i.dtype_));
}

// ---- views

Tensor Tensor::view(const Shape& shape) const {
  return apply(OpKind::reshape, {*this}, Attrs().set("shape", shape).set("view_only", true));
}

Tensor Tensor::reshape(const Shape& shape) const {
  if (shape == sizes()) return *this;
  return apply(OpKind::reshape, {*this}, Attrs().set("shape", shape));
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  return apply(OpKind::permute, {*this}, Attrs().set("dims", dims));
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  int64_t n = dim();
  d0 = wrap_dim(d0, n, "transpose");
  d1 = wrap_dim(d1, n, "transpose");
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  if (n > 0) std::swap(order[d0], order[d1]);
  return permute(order);
}

Tensor Tensor::t() const {
  DUET_CHECK(dim() <= 2, "t: expected a tensor with at most 2 dims, got shape ", sizes());
  return dim() < 2 ? *this : transpose(0, 1);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  return apply(OpKind::slice, {*this}, Attrs().set("dim", d).set("start", start).set("end", end).set("step", step));
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  int64_t wd = wrap_dim(d, dim(), "narrow");
  DUET_CHECK(dim() > 0, "narrow: cannot narrow a 0-dim tensor");
  int64_t n = size(wd);
  if (start < 0) start += n;
  DUET_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow: start ", start, " and length ", length,
             " are out of range for dim ", wd, " of size ", n);
  return slice(wd, start, start + length);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  DUET_CHECK(dim() > 0, "select: cannot select from a 0-dim tensor");
  int64_t wd = wrap_dim(d, dim(), "select");
  int64_t n = size(wd);
  DUET_CHECK(index >= -n && index < n, "select: index ", index, " is out of range for dim ", wd, " of size ", n,
             " in shape ", sizes());
  if (index < 0) index += n;
  return slice(wd, index, index + 1).squeeze(wd);
}

Tensor Tensor::expand(const Shape& shape) const {
  if (shape == sizes()) return *this;
  return apply(OpKind::expand, {*this}, Attrs().set("shape", shape));
}

Tensor Tensor::squeeze() const {
  Shape s;
  for (int64_t v : sizes())
    if (v != 1) s.push_back(v);
  return reshape(s);
}

Tensor Tensor::squeeze(int64_t d) const {
  int64_t wd = wrap_dim(d, dim(), "squeeze");
  if (dim() == 0 || size(wd) != 1) return *this;
  Shape s = sizes();
  s.erase(s.begin() + wd);
  return reshape(s);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  int64_t wd = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape s = sizes();
  s.insert(s.begin() + wd, 1);
  return reshape(s);
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  int64_t s0 = wrap_dim(start_dim, dim(), "flatten"), s1 = wrap_dim(end_dim, dim(), "flatten");
  DUET_CHECK(s0 <= s1, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape s(sizes().begin(), sizes().begin() + s0);
  int64_t n = 1;
  for (int64_t i = s0; i <= s1; ++i) n *= size(i);
  s.push_back(n);
  s.insert(s.end(), sizes().begin() + s1 + 1, sizes().end());
  return reshape(s);
}

// ---- copies and conversions

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }
Tensor Tensor::clone() const { return apply(OpKind::copy, {*this}); }
Tensor Tensor::to(DType t) const { return t == dtype() ? *this : cast(*this, t); }

// Not an op: autograd and graph capture do not see device moves (the copy is contiguous).
Tensor Tensor::to(Device d) const {
  if (d == device()) return *this;
  return cuda::to_device(*this, d);
}

// Device tensors are copied to the host first (which waits for the device).
// Reading values on the host while a graph is captured: the capture refuses a value it is
// computing and remembers a real tensor it reads (Note [Host state under capture]); the
// read itself is real work, not recorded.
namespace {
void note_host_read(const Tensor& t) {
  if (CaptureHooks* h = capture_hooks()) h->on_host_read(t);
}
}  // namespace

template <typename T>
T Tensor::item() const {
  DUET_CHECK(numel() == 1, "item: expected a tensor with one element, got shape ", sizes());
  note_host_read(*this);
  CaptureSuspendGuard real;
  if (!device().is_cpu()) return to(Device::cpu()).item<T>();
  return visit_dtype(dtype(), [&]<typename S>() { return static_cast<T>(compute_t<S>(*static_cast<S*>(data_ptr()))); });
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  note_host_read(*this);
  CaptureSuspendGuard real;
  if (!device().is_cpu()) return to(Device::cpu()).to_vector<T>();
  Tensor c = contiguous();
  std::vector<T> out(size_t(c.numel()));
  visit_dtype(dtype(), [&]<typename S>() {
    const S* p = static_cast<const S*>(c.data_ptr());
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(compute_t<S>(p[i]));
  });
  return out;
}

#define DUET_INSTANTIATE_CONVERSIONS(T)          \
  template T Tensor::item<T>() const;            \
  template std::vector<T> Tensor::to_vector<T>() const;
DUET_INSTANTIATE_CONVERSIONS(float)
DUET_INSTANTIATE_CONVERSIONS(double)
DUET_INSTANTIATE_CONVERSIONS(int32_t)
DUET_INSTANTIATE_CONVERSIONS(int64_t)
DUET_INSTANTIATE_CONVERSIONS(bool)
DUET_INSTANTIATE_CONVERSIONS(uint8_t)
#undef DUET_INSTANTIATE_CONVERSIONS

// ---- math methods

Tensor Tensor::sum(std::vector<int64_t> dims, bool keepdim) const { return duet::sum(*this, std::move(dims), keepdim); }
Tensor Tensor::mean(std::vector<int64_t> dims, bool keepdim) const { return duet::mean(*this, std::move(dims), keepdim); }
Tensor Tensor::amax(std::vector<int64_t> dims, bool keepdim) const { return duet::amax(*this, std::move(dims), keepdim); }
Tensor Tensor::amin(std::vector<int64_t> dims, bool keepdim) const { return duet::amin(*this, std::move(dims), keepdim); }
Tensor Tensor::argmax(int64_t d, bool keepdim) const { return duet::argmax(*this, d, keepdim); }
Tensor Tensor::prod(std::vector<int64_t> dims, bool keepdim) const { return duet::prod(*this, std::move(dims), keepdim); }
Tensor Tensor::var(std::vector<int64_t> dims, bool keepdim, double correction) const {
  return duet::var(*this, std::move(dims), keepdim, correction);
}
Tensor Tensor::std(std::vector<int64_t> dims, bool keepdim, double correction) const {
  return duet::std(*this, std::move(dims), keepdim, correction);
}
Tensor Tensor::matmul(const Tensor& other) const { return duet::matmul(*this, other); }
Tensor Tensor::exp() const { return duet::exp(*this); }
Tensor Tensor::log() const { return duet::log(*this); }
Tensor Tensor::relu() const { return duet::relu(*this); }
Tensor Tensor::pow(double exponent) const { return duet::pow(*this, exponent); }

// ---- operators

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor operator<(const Tensor& a, double b) { return lt(a, scalar_like(b, a)); }
Tensor operator<=(const Tensor& a, double b) { return le(a, scalar_like(b, a)); }
Tensor operator>(const Tensor& a, double b) { return gt(a, scalar_like(b, a)); }
Tensor operator>=(const Tensor& a, double b) { return ge(a, scalar_like(b, a)); }
Tensor operator<(double a, const Tensor& b) { return lt(scalar_like(a, b), b); }
Tensor operator<=(double a, const Tensor& b) { return le(scalar_like(a, b), b); }
Tensor operator>(double a, const Tensor& b) { return gt(scalar_like(a, b), b); }
Tensor operator>=(double a, const Tensor& b) { return ge(scalar_like(a, b), b); }
Tensor operator+(const Tensor& a, double b) { return add(a, scalar_like(b, a)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, scalar_like(b, a)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, scalar_like(b, a)); }
Tensor operator/(const Tensor& a, double b) { return div(a, scalar_like(b, a)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_like(a, b), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(a, b), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(a, b), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(a, b), b); }

}  // namespace duet
