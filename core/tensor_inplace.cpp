// In-place tensor methods. Each is apply_out() of the matching elementwise op with this
// tensor as the destination, so autograd and graph capture see them like any op.
#include "core/dispatch.h"
#include "core/functions.h"

namespace duet {
namespace {

const Tensor& write_into(const Tensor& self, OpKind op, std::initializer_list<Tensor> inputs, const Attrs& attrs = {}) {
  apply_out(op, std::span<const Tensor>(inputs.begin(), inputs.size()), attrs, self);
  return self;
}

// The scalar operand of an arithmetic in-place op takes part in type promotion as it does
// out of place (scalar_like): x.mul_(0.5) on float16 stays float16, but int64.add_(0.5)
// computes in float32, which cannot be written back into int64 (an error, as in PyTorch),
// and an integer value that does not fit the destination's dtype is an error too.
Tensor scalar_for(const Tensor& self, double v) { return scalar_like(v, self); }

}  // namespace

const Tensor& Tensor::add_(const Tensor& o) const { return write_into(*this, OpKind::add, {*this, o}); }
const Tensor& Tensor::add_(double o) const { return write_into(*this, OpKind::add, {*this, scalar_for(*this, o)}); }
const Tensor& Tensor::sub_(const Tensor& o) const { return write_into(*this, OpKind::sub, {*this, o}); }
const Tensor& Tensor::sub_(double o) const { return write_into(*this, OpKind::sub, {*this, scalar_for(*this, o)}); }
const Tensor& Tensor::mul_(const Tensor& o) const { return write_into(*this, OpKind::mul, {*this, o}); }
const Tensor& Tensor::mul_(double o) const { return write_into(*this, OpKind::mul, {*this, scalar_for(*this, o)}); }
const Tensor& Tensor::div_(const Tensor& o) const { return write_into(*this, OpKind::div, {*this, o}); }
const Tensor& Tensor::div_(double o) const { return write_into(*this, OpKind::div, {*this, scalar_for(*this, o)}); }
const Tensor& Tensor::neg_() const { return write_into(*this, OpKind::neg, {*this}); }
const Tensor& Tensor::relu_() const { return write_into(*this, OpKind::relu, {*this}); }

const Tensor& Tensor::clamp_(std::optional<double> min, std::optional<double> max) const {
  Attrs a;
  if (min) a.set("min", *min);
  if (max) a.set("max", *max);
  return write_into(*this, OpKind::clamp, {*this}, a);
}

const Tensor& Tensor::zero_() const { return fill_(0.0); }
// fill_ converts the value to this tensor's dtype (a fraction truncates into an integer
// tensor, as in PyTorch); full() refuses values that overflow it.
const Tensor& Tensor::fill_(double value) const { return copy_(full({}, value, {dtype(), device()})); }
const Tensor& Tensor::copy_(const Tensor& src) const { return write_into(*this, OpKind::copy, {src}); }

uint64_t Tensor::version() const { return storage() ? storage()->version() : 0; }

}  // namespace duet
