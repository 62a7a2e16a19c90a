// Printing tensors the way PyTorch's repr does:
//   tensor([[ 1.0000, -2.5000],
//           [ 0.0000,  3.0000]])
//   tensor([1, 2, 3], dtype=duet.int32)
// Integral floats print as "1.", mixed ones with 4 decimals, a wide range in scientific
// notation; more than 1000 elements are summarised with "..." (3 items each end).
#include <cmath>
#include <cstdio>
#include <ostream>
#include <sstream>

#include "core/tensor.h"

namespace duet {
namespace {

constexpr int64_t kSummariseAbove = 1000;
constexpr int64_t kEdgeItems = 3;

struct Formatter {
  enum Mode { Int, IntegralFloat, Fixed, Sci, Bool } mode = Fixed;
  int width = 1;

  std::string format(double v) const {
    char buf[64];
    if (mode == Bool) return v != 0 ? "True" : "False";
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    switch (mode) {
      case Int: std::snprintf(buf, sizeof buf, "%lld", (long long)v); break;
      case IntegralFloat: std::snprintf(buf, sizeof buf, "%.0f.", v); break;
      case Fixed: std::snprintf(buf, sizeof buf, "%.4f", v); break;
      case Sci: std::snprintf(buf, sizeof buf, "%.4e", v); break;
      default: break;
    }
    return buf;
  }
  std::string padded(double v) const {
    std::string s = format(v);
    return std::string(size_t(std::max<int>(0, width - int(s.size()))), ' ') + s;
  }
};

bool summarised_index(int64_t i, int64_t n, bool summarise) {
  return summarise && n > 2 * kEdgeItems && i >= kEdgeItems && i < n - kEdgeItems;
}

// The values that will be printed, to choose a format and width.
void collect(const std::vector<double>& values, const Shape& shape, int64_t dim, int64_t base, bool summarise,
             std::vector<double>& shown) {
  if (dim == int64_t(shape.size())) {
    shown.push_back(values[base]);
    return;
  }
  int64_t stride = 1;
  for (size_t d = size_t(dim) + 1; d < shape.size(); ++d) stride *= shape[d];
  for (int64_t i = 0; i < shape[dim]; ++i) {
    if (summarised_index(i, shape[dim], summarise)) continue;
    collect(values, shape, dim + 1, base + i * stride, summarise, shown);
  }
}

void emit(std::ostream& os, const std::vector<double>& values, const Shape& shape, int64_t dim, int64_t base,
          bool summarise, const Formatter& f, int indent) {
  if (shape.empty()) {
    os << f.format(values[0]);
    return;
  }
  int64_t n = shape[dim];
  int64_t stride = 1;
  for (size_t d = size_t(dim) + 1; d < shape.size(); ++d) stride *= shape[d];
  bool last = dim == int64_t(shape.size()) - 1;
  os << '[';
  for (int64_t i = 0; i < n; ++i) {
    if (summarised_index(i, n, summarise)) {
      if (i == kEdgeItems) {
        os << (last ? " ..." : "...");
        if (last) os << ", ";
        else os << ",\n" << std::string(size_t(indent + dim + 1), ' ');
      }
      continue;
    }
    if (last) {
      os << f.padded(values[base + i * stride]);
      if (i + 1 < n) os << ", ";
    } else {
      emit(os, values, shape, dim + 1, base + i * stride, summarise, f, indent);
      if (i + 1 < n) {
        os << ',' << std::string(size_t(shape.size() - size_t(dim) - 1), '\n');
        os << std::string(size_t(indent + dim + 1), ' ');
      }
    }
  }
  os << ']';
}

Formatter choose_format(DType dtype, const std::vector<double>& shown) {
  Formatter f;
  if (dtype == DType::Bool) {
    f.mode = Formatter::Bool;
  } else if (is_integral(dtype)) {
    f.mode = Formatter::Int;
  } else {
    bool all_integral = true;
    double max_abs = 0, min_abs = INFINITY;
    for (double v : shown) {
      if (!std::isfinite(v)) continue;
      all_integral = all_integral && v == std::floor(v);
      max_abs = std::max(max_abs, std::fabs(v));
      if (v != 0) min_abs = std::min(min_abs, std::fabs(v));
    }
    if (all_integral) f.mode = max_abs > 1e8 ? Formatter::Sci : Formatter::IntegralFloat;
    else if (max_abs > 1e8 || min_abs < 1e-4 || (min_abs > 0 && max_abs / min_abs > 1000)) f.mode = Formatter::Sci;
    else f.mode = Formatter::Fixed;
  }
  for (double v : shown) f.width = std::max<int>(f.width, int(f.format(v).size()));
  return f;
}

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  std::ostringstream os;
  os << "tensor(";
  std::vector<std::string> suffix;
  if (!storage() || storage()->is_symbolic()) {
    os << "<symbolic>";
    suffix.push_back("size=" + shape_str(sizes()));
  } else if (numel() == 0) {
    os << "[]";
    if (dim() != 1) suffix.push_back("size=" + shape_str(sizes()));
  } else {
    Tensor host = device().is_cpu() ? *this : to(Device::cpu());
    std::vector<double> values = host.to_vector<double>();
    bool summarise = numel() > kSummariseAbove;
    std::vector<double> shown;
    collect(values, sizes(), 0, 0, summarise, shown);
    Formatter f = choose_format(dtype(), shown);
    emit(os, values, sizes(), 0, 0, summarise, f, 7);
  }
  if (dtype() != DType::Float32 && dtype() != DType::Int64 && dtype() != DType::Bool)
    suffix.push_back(std::string("dtype=duet.") + dtype_name(dtype()));
  if (!device().is_cpu()) suffix.push_back("device='" + device().str() + "'");
  for (const auto& s : suffix) os << ", " << s;
  os << ')';
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace duet
