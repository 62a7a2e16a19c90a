// Reference ops for the tests: plain loops in double over RefTensors (see reference_ops.h).
// Written for clarity, not speed; inputs in tests are small.
#include "tests/reference/reference_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace duet::ref {
namespace {

int64_t wrap(int64_t d, int64_t n) {
  int64_t nn = std::max<int64_t>(n, 1);
  if (d < 0) d += nn;
  if (d < 0 || d >= nn) throw std::invalid_argument("reference: dim out of range");
  return d;
}

double load(const void* base, DType dt, int64_t i) {
  switch (dt) {
    case DType::Float32: return double(static_cast<const float*>(base)[i]);
    case DType::Float64: return static_cast<const double*>(base)[i];
    case DType::Float16: return double(float(static_cast<const Half*>(base)[i]));
    case DType::BFloat16: return double(float(static_cast<const BFloat16*>(base)[i]));
    case DType::Int32: return double(static_cast<const int32_t*>(base)[i]);
    case DType::Int64: return double(static_cast<const int64_t*>(base)[i]);
    case DType::Bool: return static_cast<const uint8_t*>(base)[i] != 0 ? 1.0 : 0.0;
  }
  return 0;
}

RefTensor make(Shape shape, DType dt) {
  RefTensor r;
  r.v.assign(size_t(numel(shape)), 0.0);
  r.shape = std::move(shape);
  r.dtype = dt;
  return r;
}

int category(DType dt) { return dt == DType::Bool ? 0 : is_float(dt) ? 2 : 1; }

}  // namespace

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t v : s) n *= v;
  return n;
}

std::vector<int64_t> unravel(int64_t flat, const Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = shape[d] == 0 ? 0 : flat % shape[d];
    flat = shape[d] == 0 ? 0 : flat / shape[d];
  }
  return idx;
}

int64_t ravel(const std::vector<int64_t>& idx, const Shape& shape) {
  int64_t flat = 0;
  for (size_t d = 0; d < shape.size(); ++d) flat = flat * shape[d] + idx[d];
  return flat;
}

RefTensor zeros_with_scale(const Shape& shape, DType dt) {
  RefTensor r;
  r.shape = shape;
  r.dtype = dt;
  r.v.assign(size_t(numel(shape)), 0.0);
  r.scale.assign(r.v.size(), 0.0);
  return r;
}

RefTensor read(const Tensor& t) {
  RefTensor r = make(t.sizes(), t.dtype());
  if (r.v.empty()) return r;
  // data_ptr() is element 0 after the storage offset; every element sits at sum(idx*stride).
  const void* base = t.data_ptr();
  const Shape& st = t.strides();
  for (int64_t i = 0; i < r.numel(); ++i) {
    auto idx = unravel(i, r.shape);
    int64_t off = 0;
    for (size_t d = 0; d < idx.size(); ++d) off += idx[d] * st[d];
    r.v[size_t(i)] = load(base, r.dtype, off);
  }
  return r;
}

double stored_value(DType dt, double v) {
  switch (dt) {
    case DType::Float32: return double(float(v));
    case DType::Float64: return v;
    case DType::Float16: return double(float(Half(float(v))));
    case DType::BFloat16: return double(float(BFloat16(float(v))));
    case DType::Int32: return double(int32_t(v));
    case DType::Int64: return double(int64_t(v));
    case DType::Bool: return v != 0 ? 1.0 : 0.0;
  }
  return v;
}

std::optional<Shape> broadcast(const Shape& a, const Shape& b) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i + a.size() < n ? 1 : a[i + a.size() - n];
    int64_t db = i + b.size() < n ? 1 : b[i + b.size() - n];
    if (da != db && da != 1 && db != 1) return std::nullopt;
    out[i] = da == 1 ? db : da;
  }
  return out;
}

double at_broadcast(const RefTensor& t, const std::vector<int64_t>& out_idx) {
  size_t lead = out_idx.size() - t.shape.size();
  int64_t flat = 0;
  for (size_t d = 0; d < t.shape.size(); ++d) flat = flat * t.shape[d] + (t.shape[d] == 1 ? 0 : out_idx[lead + d]);
  return t.v[size_t(flat)];
}

bool is_float(DType dt) {
  return dt == DType::Float32 || dt == DType::Float64 || dt == DType::Float16 || dt == DType::BFloat16;
}

DType promote(DType a, DType b) {
  if (a == b) return a;
  auto rank = [](DType t) {
    switch (t) {
      case DType::Bool: return 0;
      case DType::Int32: return 1;
      case DType::Int64: return 2;
      case DType::Float16:
      case DType::BFloat16: return 3;
      case DType::Float32: return 4;
      case DType::Float64: return 5;
    }
    return 0;
  };
  if (rank(a) == 3 && rank(b) == 3) return DType::Float32;
  return rank(a) >= rank(b) ? a : b;
}

DType result_type(const RefTensor& a, const RefTensor& b) {
  bool sa = a.dim() == 0, sb = b.dim() == 0;
  if (sa != sb && category(a.dtype) == category(b.dtype)) return sa ? b.dtype : a.dtype;
  return promote(a.dtype, b.dtype);
}

RefTensor unary(const RefTensor& x, DType out, const std::function<double(double)>& f) {
  RefTensor r = make(x.shape, out);
  for (size_t i = 0; i < r.v.size(); ++i) r.v[i] = f(x.v[i]);
  return r;
}

RefTensor binary(const RefTensor& a, const RefTensor& b, DType out, const std::function<double(double, double)>& f) {
  auto shape = broadcast(a.shape, b.shape);
  if (!shape) throw std::invalid_argument("reference: shapes do not broadcast");
  RefTensor r = make(*shape, out);
  for (int64_t i = 0; i < r.numel(); ++i) {
    auto idx = unravel(i, r.shape);
    r.v[size_t(i)] = f(at_broadcast(a, idx), at_broadcast(b, idx));
  }
  return r;
}

RefTensor ternary(const RefTensor& a, const RefTensor& b, const RefTensor& c, DType out,
                  const std::function<double(double, double, double)>& f) {
  auto ab = broadcast(a.shape, b.shape);
  auto shape = ab ? broadcast(*ab, c.shape) : std::nullopt;
  if (!shape) throw std::invalid_argument("reference: shapes do not broadcast");
  RefTensor r = make(*shape, out);
  for (int64_t i = 0; i < r.numel(); ++i) {
    auto idx = unravel(i, r.shape);
    r.v[size_t(i)] = f(at_broadcast(a, idx), at_broadcast(b, idx), at_broadcast(c, idx));
  }
  return r;
}

RefTensor reduce(const RefTensor& x, std::vector<int64_t> dims, bool keepdim, Reduce kind, DType out,
                 double correction) {
  std::vector<bool> reduced(x.shape.size(), dims.empty());
  for (int64_t d : dims)
    if (x.dim() > 0) reduced[size_t(wrap(d, x.dim()))] = true;
  Shape out_shape, kept_shape;  // kept_shape: x's rank with reduced dims as 1
  for (size_t d = 0; d < x.shape.size(); ++d) {
    kept_shape.push_back(reduced[d] ? 1 : x.shape[d]);
    if (!reduced[d]) out_shape.push_back(x.shape[d]);
    else if (keepdim) out_shape.push_back(1);
  }
  RefTensor r = make(out_shape, out);
  r.scale.assign(r.v.size(), 0.0);
  int64_t groups = numel(kept_shape);
  std::vector<std::vector<double>> members(static_cast<size_t>(groups));
  for (int64_t i = 0; i < x.numel(); ++i) {
    auto idx = unravel(i, x.shape);
    for (size_t d = 0; d < idx.size(); ++d)
      if (reduced[d]) idx[d] = 0;
    members[size_t(ravel(idx, kept_shape))].push_back(x.v[size_t(i)]);
  }
  for (int64_t g = 0; g < groups; ++g) {
    const auto& m = members[size_t(g)];
    double n = double(m.size()), acc = 0, abs_acc = 0;
    switch (kind) {
      case Reduce::Sum:
      case Reduce::Mean:
        for (double v : m) acc += v, abs_acc += std::fabs(v);
        if (kind == Reduce::Mean) acc /= n, abs_acc /= n;  // 0/0 = nan for empty groups, as PyTorch
        break;
      case Reduce::Prod:
        acc = 1;
        for (double v : m) acc *= v;
        abs_acc = std::fabs(acc);
        break;
      case Reduce::Max:
      case Reduce::Min:
        acc = m.empty() ? 0 : m[0];
        for (double v : m) {
          if (std::isnan(v) || std::isnan(acc)) acc = std::numeric_limits<double>::quiet_NaN();
          else acc = kind == Reduce::Max ? std::max(acc, v) : std::min(acc, v);
        }
        abs_acc = std::fabs(acc);
        break;
      case Reduce::Var:
      case Reduce::Std: {
        double mean = 0, sq = 0;
        for (double v : m) mean += v;
        mean /= n;
        for (double v : m) sq += (v - mean) * (v - mean), abs_acc += v * v;
        acc = sq / std::max(0.0, n - correction);
        abs_acc = (abs_acc + 1e-30) / std::max(1.0, n - correction);
        if (kind == Reduce::Std) acc = std::sqrt(acc), abs_acc = std::sqrt(abs_acc);
        break;
      }
    }
    r.v[size_t(g)] = acc;
    r.scale[size_t(g)] = abs_acc;
  }
  return r;
}

RefTensor arg_reduce(const RefTensor& x, std::optional<int64_t> dim, bool keepdim, bool is_max) {
  auto better = [&](double v, double best) { return is_max ? v > best : v < best; };
  if (!dim || x.dim() == 0) {
    RefTensor r = make(keepdim ? Shape(x.shape.size(), 1) : Shape{}, DType::Int64);
    int64_t best = 0;
    for (int64_t i = 1; i < x.numel(); ++i)
      if (better(x.v[size_t(i)], x.v[size_t(best)])) best = i;
    r.v[0] = double(best);
    return r;
  }
  int64_t d = wrap(*dim, x.dim());
  RefTensor kept = make(x.shape, DType::Int64);
  kept.shape[size_t(d)] = 1;
  kept.v.assign(size_t(numel(kept.shape)), 0.0);
  for (int64_t g = 0; g < kept.numel(); ++g) {
    auto idx = unravel(g, kept.shape);
    int64_t best = 0;
    idx[size_t(d)] = 0;
    double best_v = x.v[size_t(ravel(idx, x.shape))];
    for (int64_t k = 1; k < x.shape[size_t(d)]; ++k) {
      idx[size_t(d)] = k;
      double v = x.v[size_t(ravel(idx, x.shape))];
      if (better(v, best_v)) best = k, best_v = v;
    }
    kept.v[size_t(g)] = double(best);
  }
  if (!keepdim) kept.shape.erase(kept.shape.begin() + d);
  return kept;
}

RefTensor softmax(const RefTensor& x, int64_t dim, bool log) {
  RefTensor r = make(x.shape, x.dtype);
  if (x.dim() == 0) {
    r.v[0] = log ? 0.0 : 1.0;
    return r;
  }
  int64_t d = wrap(dim, x.dim());
  Shape outer = x.shape;
  outer[size_t(d)] = 1;
  for (int64_t g = 0; g < numel(outer); ++g) {
    auto idx = unravel(g, outer);
    double mx = -std::numeric_limits<double>::infinity(), s = 0;
    for (int64_t k = 0; k < x.shape[size_t(d)]; ++k) {
      idx[size_t(d)] = k;
      mx = std::max(mx, x.v[size_t(ravel(idx, x.shape))]);
    }
    for (int64_t k = 0; k < x.shape[size_t(d)]; ++k) {
      idx[size_t(d)] = k;
      s += std::exp(x.v[size_t(ravel(idx, x.shape))] - mx);
    }
    for (int64_t k = 0; k < x.shape[size_t(d)]; ++k) {
      idx[size_t(d)] = k;
      size_t at = size_t(ravel(idx, x.shape));
      double z = x.v[at] - mx;
      r.v[at] = log ? z - std::log(s) : std::exp(z) / s;
    }
  }
  return r;
}

RefTensor matmul(const RefTensor& a0, const RefTensor& b0) {
  // Promote 1-D operands to matrices, multiply with broadcast batch dims, drop the added dims.
  RefTensor a = a0, b = b0;
  bool a_vec = a.dim() == 1, b_vec = b.dim() == 1;
  if (a_vec) a.shape.insert(a.shape.begin(), 1);
  if (b_vec) b.shape.push_back(1);
  int64_t m = a.shape[a.shape.size() - 2], k = a.shape.back(), n = b.shape.back();
  if (b.shape[b.shape.size() - 2] != k) throw std::invalid_argument("reference: matmul inner dims differ");
  Shape ba(a.shape.begin(), a.shape.end() - 2), bb(b.shape.begin(), b.shape.end() - 2);
  auto batch = broadcast(ba, bb);
  if (!batch) throw std::invalid_argument("reference: matmul batch dims do not broadcast");
  RefTensor abatch = a, bbatch = b;  // views of a, b with the matrix dims folded away
  Shape full = *batch;
  full.push_back(m);
  full.push_back(n);
  RefTensor r = make(full, a.dtype);
  r.scale.assign(r.v.size(), 0.0);
  for (int64_t i = 0; i < r.numel(); ++i) {
    auto idx = unravel(i, full);
    int64_t row = idx[idx.size() - 2], col = idx.back();
    std::vector<int64_t> ia(idx.begin(), idx.end() - 2), ib = ia;
    // Map broadcast batch indices onto each operand's own batch dims.
    auto operand_index = [&](const RefTensor& t, std::vector<int64_t> bi, int64_t r0, int64_t c0) {
      size_t tb = t.shape.size() - 2, lead = bi.size() - tb;
      std::vector<int64_t> out;
      for (size_t d = 0; d < tb; ++d) out.push_back(t.shape[d] == 1 ? 0 : bi[lead + d]);
      out.push_back(r0);
      out.push_back(c0);
      return size_t(ravel(out, t.shape));
    };
    double acc = 0, abs_acc = 0;
    for (int64_t p = 0; p < k; ++p) {
      double x = abatch.v[operand_index(abatch, ia, row, p)], y = bbatch.v[operand_index(bbatch, ib, p, col)];
      acc += x * y;
      abs_acc += std::fabs(x * y);
    }
    r.v[size_t(i)] = acc;
    r.scale[size_t(i)] = abs_acc;
  }
  if (b_vec) r.shape.pop_back();
  if (a_vec) r.shape.erase(r.shape.end() - (b_vec ? 1 : 2));
  return r;
}

RefTensor index_select(const RefTensor& x, int64_t dim, const RefTensor& index) {
  if (x.dim() == 0) return x;
  int64_t d = wrap(dim, x.dim());
  Shape shape = x.shape;
  shape[size_t(d)] = index.numel();
  RefTensor r = make(shape, x.dtype);
  for (int64_t i = 0; i < r.numel(); ++i) {
    auto idx = unravel(i, shape);
    idx[size_t(d)] = int64_t(index.v[size_t(idx[size_t(d)])]);
    r.v[size_t(i)] = x.v[size_t(ravel(idx, x.shape))];
  }
  return r;
}

RefTensor gather(const RefTensor& x, int64_t dim, const RefTensor& index) {
  RefTensor r = make(index.shape, x.dtype);
  if (x.dim() == 0) {
    if (r.numel() > 0) r.v[0] = x.v[0];
    return r;
  }
  int64_t d = wrap(dim, x.dim());
  for (int64_t i = 0; i < r.numel(); ++i) {
    auto idx = unravel(i, index.shape);
    idx[size_t(d)] = int64_t(index.v[size_t(i)]);
    r.v[size_t(i)] = x.v[size_t(ravel(idx, x.shape))];
  }
  return r;
}

RefTensor scatter_add(const RefTensor& x, int64_t dim, const RefTensor& index, const RefTensor& src) {
  RefTensor r = x;
  r.scale.assign(r.v.size(), 0.0);
  for (size_t i = 0; i < r.v.size(); ++i) r.scale[i] = std::fabs(r.v[i]);
  if (x.dim() == 0) {
    for (int64_t i = 0; i < index.numel(); ++i) r.v[0] += src.v[0], r.scale[0] += std::fabs(src.v[0]);
    return r;
  }
  int64_t d = wrap(dim, x.dim());
  for (int64_t i = 0; i < index.numel(); ++i) {
    auto idx = unravel(i, index.shape);
    double s = src.v[size_t(ravel(idx, src.shape))];
    idx[size_t(d)] = int64_t(index.v[size_t(i)]);
    size_t at = size_t(ravel(idx, x.shape));
    r.v[at] += s;
    r.scale[at] += std::fabs(s);
  }
  return r;
}

RefTensor cat(const std::vector<RefTensor>& xs, int64_t dim, DType out) {
  int64_t d = wrap(dim, xs[0].dim());
  Shape shape = xs[0].shape;
  shape[size_t(d)] = 0;
  for (const auto& x : xs) shape[size_t(d)] += x.shape[size_t(d)];
  RefTensor r = make(shape, out);
  int64_t base = 0;
  for (const auto& x : xs) {
    for (int64_t i = 0; i < x.numel(); ++i) {
      auto idx = unravel(i, x.shape);
      idx[size_t(d)] += base;
      r.v[size_t(ravel(idx, shape))] = stored_value(out, x.v[size_t(i)]);
    }
    base += x.shape[size_t(d)];
  }
  return r;
}

RefTensor one_hot(const RefTensor& index, int64_t classes) {
  Shape shape = index.shape;
  shape.push_back(classes);
  RefTensor r = make(shape, DType::Int64);
  for (int64_t i = 0; i < index.numel(); ++i) r.v[size_t(i * classes + int64_t(index.v[size_t(i)]))] = 1;
  return r;
}

RefTensor permute(const RefTensor& x, const std::vector<int64_t>& dims) {
  Shape shape(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) shape[i] = x.shape[size_t(wrap(dims[i], x.dim()))];
  RefTensor r = make(shape, x.dtype);
  for (int64_t i = 0; i < r.numel(); ++i) {
    auto idx = unravel(i, shape);
    std::vector<int64_t> src(idx.size());
    for (size_t k = 0; k < dims.size(); ++k) src[size_t(wrap(dims[k], x.dim()))] = idx[k];
    r.v[size_t(i)] = x.v[size_t(ravel(src, x.shape))];
  }
  return r;
}

RefTensor expand(const RefTensor& x, const Shape& shape) {
  RefTensor r = make(shape, x.dtype);
  for (int64_t i = 0; i < r.numel(); ++i) r.v[size_t(i)] = at_broadcast(x, unravel(i, shape));
  return r;
}

RefTensor slice(const RefTensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  int64_t d = wrap(dim, x.dim()), n = x.shape[size_t(d)];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape shape = x.shape;
  shape[size_t(d)] = (end - start + step - 1) / step;
  RefTensor r = make(shape, x.dtype);
  for (int64_t i = 0; i < r.numel(); ++i) {
    auto idx = unravel(i, shape);
    idx[size_t(d)] = start + idx[size_t(d)] * step;
    r.v[size_t(i)] = x.v[size_t(ravel(idx, x.shape))];
  }
  return r;
}

RefTensor reshape(const RefTensor& x, const Shape& shape) {
  RefTensor r = x;
  r.shape = shape;
  return r;
}

namespace {
int64_t window_position(int64_t i, const Shape& size, const Shape& stride, int64_t offset) {
  auto idx = unravel(i, size);
  int64_t pos = offset;
  for (size_t k = 0; k < size.size(); ++k) pos += idx[k] * stride[k];
  return pos;
}
}  // namespace

RefTensor as_strided(const RefTensor& x, const Shape& size, const Shape& stride, int64_t offset) {
  RefTensor r = make(size, x.dtype);
  for (int64_t i = 0; i < r.numel(); ++i) r.v[size_t(i)] = x.v[size_t(window_position(i, size, stride, offset))];
  return r;
}

RefTensor as_strided_scatter(const RefTensor& x, const RefTensor& src, const Shape& size, const Shape& stride,
                             int64_t offset) {
  RefTensor r = x;
  r.scale.clear();
  for (int64_t i = 0; i < src.numel(); ++i) r.v[size_t(window_position(i, size, stride, offset))] = src.v[size_t(i)];
  return r;
}

Tol default_tol(DType dt) {
  switch (dt) {
    case DType::Float32: return {1e-5, 1e-6};
    case DType::Float64: return {1e-12, 1e-13};
    case DType::Float16: return {2e-3, 1e-4};
    case DType::BFloat16: return {1.6e-2, 1e-3};
    default: return {0, 0};
  }
}

Tol scaled(Tol t, double factor) { return {t.rtol * factor, t.atol * factor}; }

std::string compare(const Tensor& got, const RefTensor& want, Tol tol) {
  std::ostringstream os;
  if (!got.defined()) return "result is an undefined tensor";
  if (got.sizes() != want.shape) {
    os << "shape " << shape_str(got.sizes()) << " != expected " << shape_str(want.shape);
    return os.str();
  }
  if (got.dtype() != want.dtype) {
    os << "dtype " << dtype_name(got.dtype()) << " != expected " << dtype_name(want.dtype);
    return os.str();
  }
  RefTensor g = read(got);
  int bad = 0;
  for (size_t i = 0; i < g.v.size(); ++i) {
    double a = g.v[i], b = want.v[i];
    bool ok;
    if (std::isnan(a) || std::isnan(b)) ok = std::isnan(a) && std::isnan(b);
    else if (std::isinf(a) || std::isinf(b)) ok = a == b;
    else {
      double mag = std::max(std::fabs(b), want.scale.empty() ? 0.0 : want.scale[i]);
      ok = std::fabs(a - b) <= tol.atol + tol.rtol * mag;
    }
    if (!ok && bad++ < 4) {
      os.precision(10);
      os << (bad > 1 ? "; " : "") << "at " << shape_str(unravel(int64_t(i), want.shape)) << ": got " << a
         << ", expected " << b;
    }
  }
  if (bad > 4) os << "; ... " << bad << " mismatches of " << g.v.size();
  return os.str();
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.sizes() != b.sizes() || a.dtype() != b.dtype()) return false;
  size_t es = dtype_size(a.dtype());
  const char* pa = static_cast<const char*>(a.data_ptr());
  const char* pb = static_cast<const char*>(b.data_ptr());
  for (int64_t i = 0; i < a.numel(); ++i) {
    auto idx = unravel(i, a.sizes());
    int64_t oa = 0, ob = 0;
    for (size_t d = 0; d < idx.size(); ++d) oa += idx[d] * a.strides()[d], ob += idx[d] * b.strides()[d];
    if (std::memcmp(pa + oa * int64_t(es), pb + ob * int64_t(es), es) != 0) return false;
  }
  return true;
}

}  // namespace duet::ref
