// Random test inputs in the layouts the op table exercises (see op_cases.h). Inputs are
// built from std::mt19937 draws with duet::tensor and made non-contiguous with view ops,
// so they do not depend on any kernel.
#include <cmath>
#include <sstream>

#include "core/functions.h"
#include "tests/reference/op_cases.h"

namespace duet::cases {

const char* layout_name(Layout l) {
  switch (l) {
    case Layout::Contiguous: return "contiguous";
    case Layout::Transposed: return "transposed";
    case Layout::Strided: return "strided";
    case Layout::Expanded: return "expanded";
  }
  return "?";
}

Domain domain(double lo, double hi, double step, double min_abs) {
  Domain d;
  d.lo = lo;
  d.hi = hi;
  d.step = step;
  d.min_abs = min_abs;
  d.int_lo = int64_t(std::ceil(lo));
  d.int_hi = int64_t(std::floor(hi));
  if (min_abs > 0 && d.int_lo <= 0 && d.int_hi >= 0 && d.int_lo == 0) d.int_lo = 1;
  return d;
}

Tensor from_values(DType dt, const Shape& shape, const std::vector<double>& values) {
  return visit_dtype(dt, [&]<typename T>() {
    std::vector<T> vals;
    vals.reserve(values.size());
    for (double x : values) {
      if constexpr (std::is_same_v<T, bool>) vals.push_back(x != 0);
      else if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) vals.push_back(T(float(x)));
      else vals.push_back(T(x));
    }
    return duet::tensor<T>(vals, shape);
  });
}

Tensor Inputs::lay_out(DType dt, const Shape& shape, Layout layout, const std::function<double()>& draw) {
  int64_t n = int64_t(shape.size());
  Shape base = shape;
  if (layout == Layout::Transposed && n < 2) layout = Layout::Contiguous;
  if (layout == Layout::Strided && n < 1) layout = Layout::Contiguous;
  int64_t expand_dim = -1;
  for (int64_t d = 0; d < n && layout == Layout::Expanded; ++d)
    if (shape[size_t(d)] > 1) {
      expand_dim = d;
      break;
    }
  if (layout == Layout::Expanded && expand_dim < 0) layout = Layout::Contiguous;
  switch (layout) {
    case Layout::Contiguous: break;
    case Layout::Transposed: std::swap(base.front(), base.back()); break;
    case Layout::Strided: base.back() = 2 * shape.back() + 1; break;
    case Layout::Expanded: base[size_t(expand_dim)] = 1; break;
  }
  std::vector<double> values(size_t(ref::numel(base)));
  for (double& v : values) v = draw();
  Tensor t = from_values(dt, base, values);
  switch (layout) {
    case Layout::Contiguous: return t;
    case Layout::Transposed: return t.transpose(0, n - 1);
    case Layout::Strided: return t.slice(n - 1, 1, base.back(), 2);
    case Layout::Expanded: return t.expand(shape);
  }
  return t;
}

Tensor Inputs::make(DType dt, const Shape& shape, Layout layout, const Domain& dom) {
  std::uniform_real_distribution<double> real(dom.lo, dom.hi);
  std::uniform_int_distribution<int64_t> integer(dom.int_lo, dom.int_hi);
  std::bernoulli_distribution coin(0.5);
  auto draw = [&]() -> double {
    if (dt == DType::Bool) return coin(rng_) ? 1.0 : 0.0;
    if (!ref::is_float(dt)) {
      int64_t v = integer(rng_);
      while (dom.min_abs > 0 && double(std::llabs(v)) < dom.min_abs) v = integer(rng_);
      return double(v);
    }
    double v = real(rng_);
    if (dom.step > 0) v = std::round(v / dom.step) * dom.step;
    if (std::fabs(v) < dom.min_abs) v = std::copysign(dom.min_abs, v);
    return v;
  };
  return lay_out(dt, shape, layout, draw);
}

Tensor Inputs::index(DType dt, const Shape& shape, int64_t limit, Layout layout) {
  std::uniform_int_distribution<int64_t> integer(0, std::max<int64_t>(limit - 1, 0));
  return lay_out(dt, shape, layout, [&] { return double(integer(rng_)); });
}

std::string describe(DType dt, const Shape& shape, Layout layout) {
  std::ostringstream os;
  os << dtype_name(dt) << shape_str(shape);
  if (layout != Layout::Contiguous) os << " " << layout_name(layout);
  return os.str();
}

std::string describe(const Tensor& t) {
  std::ostringstream os;
  os << dtype_name(t.dtype()) << shape_str(t.sizes());
  if (!t.is_contiguous()) os << " strides" << shape_str(t.strides());
  return os.str();
}

}  // namespace duet::cases
