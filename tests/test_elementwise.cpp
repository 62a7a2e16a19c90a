// Tests of the elementwise kernels (kernels/cpu/elementwise_*.cpp) against plain loops in
// double: every unary and binary op and where, on float32/float64/float16/bfloat16/int32/
// int64/bool where allowed; broadcasting (0-dim operands, size-1 dims), non-contiguous
// inputs (transposed, stepped slices, expanded), size-0 tensors, strided outputs through
// apply_out, mixed dtypes, 1 vs 2 threads; and the accuracy of the AVX2 exp/log/tanh/
// sigmoid/gelu over the whole float range, with their special values.
// The "throughput" case is skipped by default (run with --no-skip) and only prints GB/s.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "core/functions.h"
#include "core/parallel.h"
#include "tests/test_support.h"

using namespace duet;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

using testing::values_of;

// `t`'s values broadcast to `shape` (NumPy rules), in row-major order.
std::vector<double> broadcast_values(const Tensor& t, const Shape& shape) {
  std::vector<double> src = values_of(t);
  std::vector<double> out;
  int64_t n = numel_of(shape), nd = int64_t(shape.size()), td = t.dim();
  for (int64_t i = 0; i < n; ++i) {
    int64_t rem = i, off = 0, mul = 1;
    for (int64_t d = nd - 1; d >= 0; --d) {
      int64_t idx = rem % shape[d];
      rem /= shape[d];
      int64_t k = d - (nd - td);
      if (k >= 0) {
        if (t.size(k) != 1) off += idx * mul;
        mul *= t.size(k);
      }
    }
    out.push_back(src[size_t(off)]);
  }
  return out;
}

std::mt19937 g_rng(1234);

void apply_into(OpKind op, std::vector<Tensor> ins, const Tensor& out) { apply_out(op, ins, {}, out); }

template <typename T>
Tensor make(const Shape& shape, double lo, double hi, bool integers = false) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<T> v(size_t(numel_of(shape)));
  for (size_t i = 0; i < v.size(); ++i) {
    double x = u(g_rng);
    if (integers) x = std::round(x);
    if constexpr (std::is_same_v<T, bool>) v[i] = x > 0;
    else v[i] = T(compute_t<T>(x));
  }
  return tensor<T>(v, shape);
}

Tensor make_dt(DType dt, const Shape& shape, double lo, double hi) {
  Tensor r;
  visit_dtype(dt, [&]<typename T>() { r = make<T>(shape, lo, hi, !is_floating(dt)); });
  return r;
}

// Relative tolerance for results stored in `dt`.
double tol_of(DType dt) {
  switch (dt) {
    case DType::Float16: return 2e-3;
    case DType::BFloat16: return 1.6e-2;
    case DType::Float32: return 4e-6;
    default: return 1e-12;
  }
}

void check_close(const std::vector<double>& got, const std::vector<double>& want, double rtol, double atol,
                 const std::string& what) {
  REQUIRE_MESSAGE(got.size() == want.size(), what);
  int bad = 0;
  for (size_t i = 0; i < got.size() && bad < 5; ++i) {
    double g = got[i], w = want[i];
    bool ok = (std::isnan(g) && std::isnan(w)) || g == w || std::abs(g - w) <= atol + rtol * std::abs(w);
    if (!ok) {
      ++bad;
      FAIL_CHECK(what, ": element ", i, " got ", g, " want ", w);
    }
  }
}

// ---- unary ops
struct UnaryCase {
  OpKind op;
  std::function<double(double)> ref;
  double lo, hi;
  bool float_only;  // output is floating even for integer inputs
  Attrs attrs = {};
  double atol = 1e-6;
};

double gelu_ref(double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }
double gelu_tanh_ref(double x) {
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}
double sigmoid_ref(double x) { return 1 / (1 + std::exp(-x)); }

std::vector<UnaryCase> unary_cases() {
  return {
      {OpKind::neg, [](double x) { return -x; }, -5, 5, false},
      {OpKind::abs, [](double x) { return std::abs(x); }, -5, 5, false},
      {OpKind::sign, [](double x) { return double((x > 0) - (x < 0)); }, -5, 5, false},
      {OpKind::square, [](double x) { return x * x; }, -5, 5, false},
      {OpKind::floor, [](double x) { return std::floor(x); }, -5, 5, false},
      {OpKind::ceil, [](double x) { return std::ceil(x); }, -5, 5, false},
      {OpKind::round, [](double x) { return std::nearbyint(x); }, -5, 5, false},
      {OpKind::relu, [](double x) { return x > 0 ? x : 0; }, -5, 5, false},
      {OpKind::exp, [](double x) { return std::exp(x); }, -20, 20, true},
      {OpKind::expm1, [](double x) { return std::expm1(x); }, -3, 3, true},
      {OpKind::log, [](double x) { return std::log(x); }, 0.01, 100, true},
      {OpKind::log1p, [](double x) { return std::log1p(x); }, -0.9, 10, true},
      {OpKind::sqrt, [](double x) { return std::sqrt(x); }, 0, 50, true},
      {OpKind::rsqrt, [](double x) { return 1 / std::sqrt(x); }, 0.1, 50, true},
      {OpKind::reciprocal, [](double x) { return 1 / x; }, 0.5, 5, true},
      {OpKind::sin, [](double x) { return std::sin(x); }, -6, 6, true},
      {OpKind::cos, [](double x) { return std::cos(x); }, -6, 6, true},
      {OpKind::tanh, [](double x) { return std::tanh(x); }, -6, 6, true},
      {OpKind::sigmoid, sigmoid_ref, -12, 12, true},
      {OpKind::erf, [](double x) { return std::erf(x); }, -3, 3, true},
      {OpKind::gelu, gelu_ref, -6, 6, true, Attrs().set("approximate", "none")},
      {OpKind::gelu, gelu_tanh_ref, -6, 6, true, Attrs().set("approximate", "tanh")},
      {OpKind::silu, [](double x) { return x * sigmoid_ref(x); }, -12, 12, true},
      {OpKind::clamp, [](double x) { return std::min(std::max(x, -1.5), 2.0); }, -5, 5, false,
       Attrs().set("min", -1.5).set("max", 2.0)},
      {OpKind::clamp, [](double x) { return std::max(x, 0.5); }, -5, 5, false, Attrs().set("min", 0.5)},
      {OpKind::clamp, [](double x) { return std::min(x, -1.0); }, -5, 5, false, Attrs().set("max", int64_t(-1))},
  };
}

// Runs the case on `x` and compares with the reference computed from x's stored values.
void check_unary(const UnaryCase& c, const Tensor& x, const std::string& what) {
  Tensor y = apply(c.op, {x}, c.attrs);
  CHECK(y.sizes() == x.sizes());
  DType want_dt = c.float_only && !is_floating(x.dtype()) ? DType::Float32 : x.dtype();
  REQUIRE(y.dtype() == want_dt);
  std::vector<double> in = values_of(x), want;
  for (double v : in) {
    double r = c.ref(v);
    if (is_integral(want_dt) && c.op == OpKind::clamp) {  // integer clamp: bounds move inward
      double lo = c.attrs.has("min") ? std::ceil(c.attrs.get_number("min")) : -kInf;
      double hi = c.attrs.has("max") ? std::floor(c.attrs.get_number("max")) : kInf;
      r = std::min(std::max(v, lo), hi);
    }
    if (want_dt == DType::Float16) r = float(Half(float(r)));
    if (want_dt == DType::BFloat16) r = float(BFloat16(float(r)));
    want.push_back(r);
  }
  check_close(values_of(y), want, tol_of(want_dt), c.atol, what);
}

}  // namespace

TEST_CASE("unary ops: dtypes and layouts") {
  for (const UnaryCase& c : unary_cases()) {
    std::string name = op_name(c.op) + (" " + c.attrs.str());
    for (DType dt : {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16}) {
      CAPTURE(dtype_name(dt));
      check_unary(c, make_dt(dt, {1003}, c.lo, c.hi), name + " contiguous");
      check_unary(c, make_dt(dt, {37, 29}, c.lo, c.hi).t(), name + " transposed");
      check_unary(c, make_dt(dt, {61, 40}, c.lo, c.hi).slice(0, 3, 61, 3).slice(1, 1, 40, 2), name + " stepped");
      check_unary(c, make_dt(dt, {5, 1}, c.lo, c.hi).expand({5, 33}), name + " expanded");
      check_unary(c, make_dt(dt, {}, c.lo, c.hi), name + " 0-dim");
      check_unary(c, make_dt(dt, {3, 0, 2}, c.lo, c.hi), name + " empty");
      check_unary(c, make_dt(dt, {5}, c.lo, c.hi), name + " short");
    }
    if (c.op == OpKind::log || c.op == OpKind::rsqrt || c.op == OpKind::reciprocal || c.op == OpKind::log1p ||
        c.op == OpKind::sqrt)
      continue;  // integer inputs would hit 0 or negatives outside the domain tested
    for (DType dt : {DType::Int32, DType::Int64}) {
      CAPTURE(dtype_name(dt));
      check_unary(c, make_dt(dt, {7, 13}, std::max(c.lo, -20.0), std::min(c.hi, 20.0)), name + " int");
      check_unary(c, make_dt(dt, {13, 7}, -5, 5).t(), name + " int transposed");
    }
  }
}

TEST_CASE("float32 unary ops give a view the bits of its contiguous copy") {
  // Note [Strided vector ops]: strided and broadcast runs take the vector bodies too.
  for (const UnaryCase& c : unary_cases()) {
    const Tensor views[] = {make_dt(DType::Float32, {37, 29}, c.lo, c.hi).t(),
                            make_dt(DType::Float32, {61, 40}, c.lo, c.hi).slice(0, 3, 61, 3).slice(1, 1, 40, 2),
                            make_dt(DType::Float32, {5, 1}, c.lo, c.hi).expand({5, 333})};
    for (const Tensor& x : views) {
      const std::vector<float> got = apply(c.op, {x}, c.attrs).to_vector<float>();
      const std::vector<float> want = apply(c.op, {x.contiguous()}, c.attrs).to_vector<float>();
      REQUIRE(got.size() == want.size());
      int differ = 0;
      for (size_t i = 0; i < got.size(); ++i)
        differ += std::isnan(want[i]) ? !std::isnan(got[i]) : std::memcmp(&got[i], &want[i], 4) != 0;
      CHECK_MESSAGE(differ == 0, op_name(c.op), " ", c.attrs.str(), ": ", differ, " of ", got.size(),
                    " elements differ");
    }
  }
}

TEST_CASE("integer-only unary details") {
  Tensor x = tensor<int32_t>({std::numeric_limits<int32_t>::min(), -3, 0, 7}, {4});
  CHECK(values_of(neg(x)) == std::vector<double>{double(std::numeric_limits<int32_t>::min()), 3, 0, -7});
  CHECK(values_of(sign(x)) == std::vector<double>{-1, -1, 0, 1});
  Tensor c = clamp(tensor<int64_t>({-5, -2, 0, 1, 4}, {5}), -1.5, 2.5);
  CHECK(values_of(c) == std::vector<double>{-1, -1, 0, 1, 2});
  Tensor r = round(tensor<float>({0.5f, 1.5f, 2.5f, -0.5f, -1.5f}, {5}));
  CHECK(values_of(r) == std::vector<double>{0, 2, 2, -0.0, -2});
  // Extremes wrap like two's complement (PyTorch), never through signed-overflow UB.
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min(), kMax = std::numeric_limits<int64_t>::max();
  Tensor e = tensor<int64_t>({kMin, kMax}, {2});
  CHECK(neg(e).to_vector<int64_t>() == std::vector<int64_t>{kMin, kMin + 1});
  CHECK(abs(e).to_vector<int64_t>() == std::vector<int64_t>{kMin, kMax});
  CHECK(square(e).to_vector<int64_t>() == std::vector<int64_t>{0, 1});
  CHECK((e + e).to_vector<int64_t>() == std::vector<int64_t>{0, -2});
  CHECK((e - tensor<int64_t>({1, -1}, {2})).to_vector<int64_t>() == std::vector<int64_t>{kMax, kMin});
  CHECK((e * e).to_vector<int64_t>() == std::vector<int64_t>{0, 1});
  Tensor e32 = tensor<int32_t>({std::numeric_limits<int32_t>::min()}, {1});
  CHECK(abs(e32).item<int32_t>() == std::numeric_limits<int32_t>::min());
  CHECK((e32 - tensor<int32_t>({1}, {1})).item<int32_t>() == std::numeric_limits<int32_t>::max());
  Tensor nan_in = tensor<float>(std::vector<float>(9, float(kNaN)), {9});
  for (Tensor y : {relu(nan_in), clamp(nan_in, 0.0, 1.0), abs(nan_in)})
    for (double v : values_of(y)) CHECK(std::isnan(v));
}

TEST_CASE("logical_not, cast and copy") {
  Tensor f = tensor<float>({0.0f, -0.0f, 2.5f, float(kNaN), -1.0f}, {5});
  CHECK(values_of(logical_not(f)) == std::vector<double>{1, 1, 0, 0, 0});
  CHECK(values_of(logical_not(tensor<int64_t>({0, 3}, {2}))) == std::vector<double>{1, 0});
  CHECK(values_of(logical_not(tensor<bool>({true, false}, {2}).expand({3, 2}))) ==
        std::vector<double>{0, 1, 0, 1, 0, 1});

  Tensor g = tensor<double>({-2.7, -0.5, 0.0, 0.9, 3.99, 1e20, -1e20, kNaN}, {8});
  CHECK(values_of(cast(g, DType::Int32)) ==
        std::vector<double>{-2, 0, 0, 0, 3, 2147483647.0, -2147483648.0, 0});
  CHECK(values_of(cast(g, DType::Bool)) == std::vector<double>{1, 1, 0, 1, 1, 1, 1, 1});
  CHECK(values_of(cast(tensor<bool>({true, false}, {2}), DType::Float16)) == std::vector<double>{1, 0});
  CHECK(values_of(cast(tensor<int64_t>({1LL << 40, -7}, {2}), DType::Float64)) ==
        std::vector<double>{double(1LL << 40), -7});

  // Every dtype pair, on a transposed source with values every dtype holds exactly.
  const DType all[] = {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16,
                       DType::Int32,   DType::Int64,   DType::Bool};
  for (DType from : all)
    for (DType to : all) {
      Tensor src;
      visit_dtype(from, [&]<typename T>() { src = make<T>({6, 5}, -8, 8, true).t(); });
      Tensor y = cast(src, to);
      std::vector<double> want = values_of(src);
      if (to == DType::Bool)
        for (auto& w : want) w = w != 0;
      CHECK_MESSAGE(values_of(y) == want, dtype_name(from), " -> ", dtype_name(to));
    }

  // copy: clone of a strided view, and copy_ into a transposed view of another dtype.
  Tensor src = make<float>({4, 6}, -3, 3).slice(1, 0, 6, 2);
  CHECK(values_of(src.clone()) == values_of(src));
  CHECK(src.clone().is_contiguous());
  Tensor dst_base = tensor<double>(std::vector<double>(12, 0.0), {3, 4});
  Tensor dst = dst_base.t();
  apply_into(OpKind::copy, {src}, dst);
  CHECK(values_of(dst) == values_of(src));
  Tensor half_src = make<Half>({2, 3}, -2, 2);
  Tensor int_dst = tensor<int32_t>({0, 0, 0, 0, 0, 0}, {3, 2});
  apply_into(OpKind::copy, {half_src.t()}, int_dst);  // converts, truncating
  std::vector<double> hv = values_of(half_src.t());
  for (auto& v : hv) v = std::trunc(v);
  CHECK(values_of(int_dst) == hv);
}

// ---- binary ops
namespace {

struct BinaryCase {
  OpKind op;
  std::function<double(double, double)> ref;
  bool compare;
  double lo = -5, hi = 5;
};

std::vector<BinaryCase> binary_cases() {
  auto nan_max = [](double a, double b) { return std::isnan(a) || std::isnan(b) ? kNaN : std::max(a, b); };
  auto nan_min = [](double a, double b) { return std::isnan(a) || std::isnan(b) ? kNaN : std::min(a, b); };
  return {
      {OpKind::add, [](double a, double b) { return a + b; }, false},
      {OpKind::sub, [](double a, double b) { return a - b; }, false},
      {OpKind::mul, [](double a, double b) { return a * b; }, false},
      {OpKind::div, [](double a, double b) { return a / b; }, false},
      {OpKind::pow, [](double a, double b) { return std::pow(a, b); }, false, 0.1, 3},
      {OpKind::maximum, nan_max, false},
      {OpKind::minimum, nan_min, false},
      {OpKind::eq, [](double a, double b) { return double(a == b); }, true},
      {OpKind::ne, [](double a, double b) { return double(a != b); }, true},
      {OpKind::lt, [](double a, double b) { return double(a < b); }, true},
      {OpKind::le, [](double a, double b) { return double(a <= b); }, true},
      {OpKind::gt, [](double a, double b) { return double(a > b); }, true},
      {OpKind::ge, [](double a, double b) { return double(a >= b); }, true},
      {OpKind::logical_and, [](double a, double b) { return double(a != 0 && b != 0); }, true},
      {OpKind::logical_or, [](double a, double b) { return double(a != 0 || b != 0); }, true},
  };
}

Shape broadcast_of(const Shape& a, const Shape& b) {
  Shape r(std::max(a.size(), b.size()), 1);
  for (size_t i = 0; i < r.size(); ++i) {
    int64_t da = i < r.size() - a.size() ? 1 : a[i - (r.size() - a.size())];
    int64_t db = i < r.size() - b.size() ? 1 : b[i - (r.size() - b.size())];
    r[i] = da == 1 ? db : da;
  }
  return r;
}

void check_binary(const BinaryCase& c, const Tensor& a, const Tensor& b, const std::string& what) {
  Tensor y = apply(c.op, {a, b});
  Shape shape = broadcast_of(a.sizes(), b.sizes());
  REQUIRE(y.sizes() == shape);
  std::vector<double> va = broadcast_values(a, shape), vb = broadcast_values(b, shape), want;
  // Compute in the op's dtype: inputs converted to it first (matters for 16-bit floats).
  DType ct = c.compare ? DType::Float64 : y.dtype();
  for (size_t i = 0; i < va.size(); ++i) {
    double x = va[i], z = vb[i];
    if (ct == DType::Float16) x = float(Half(float(x))), z = float(Half(float(z)));
    if (ct == DType::BFloat16) x = float(BFloat16(float(x))), z = float(BFloat16(float(z)));
    want.push_back(c.ref(x, z));
  }
  if (c.compare) CHECK(y.dtype() == DType::Bool);
  check_close(values_of(y), want, c.compare ? 0 : tol_of(y.dtype()), c.compare ? 0 : 1e-6, what);
}

}  // namespace

TEST_CASE("binary ops: dtypes, broadcasting and layouts") {
  for (const BinaryCase& c : binary_cases()) {
    std::string name = op_name(c.op);
    for (DType dt : {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16, DType::Int32, DType::Int64}) {
      CAPTURE(dtype_name(dt));
      double lo = c.lo, hi = c.hi;
      if (c.op == OpKind::div && !is_floating(dt)) lo = 1;  // no integer 0 divisors
      if (c.op == OpKind::pow && !is_floating(dt)) lo = 0, hi = 4;
      auto mk = [&](const Shape& s) { return make_dt(dt, s, lo, hi); };
      check_binary(c, mk({1001}), mk({1001}), name + " contiguous");
      check_binary(c, mk({1001}), mk({}), name + " tensor-scalar");
      check_binary(c, mk({}), mk({1001}), name + " scalar-tensor");
      check_binary(c, mk({}), mk({}), name + " scalar-scalar");
      check_binary(c, mk({4, 1, 6}), mk({3, 1}), name + " size-1 dims");
      check_binary(c, mk({17, 23}).t(), mk({23, 17}), name + " transposed");
      check_binary(c, mk({30, 20}).slice(0, 1, 30, 4), mk({1, 20}).expand({8, 20}), name + " stepped+expanded");
      check_binary(c, mk({2, 0, 3}), mk({3}), name + " empty");
      if (c.compare) {
        Tensor a = mk({50});
        check_binary(c, a, a.slice(0, 0, 50, 1), name + " equal operands");
      }
    }
  }
  // Bool operands for comparisons and logical ops.
  Tensor p = tensor<bool>({true, false, true, false}, {4}), q = tensor<bool>({true, true, false, false}, {4});
  CHECK(values_of(logical_and(p, q)) == std::vector<double>{1, 0, 0, 0});
  CHECK(values_of(logical_or(p, q)) == std::vector<double>{1, 1, 1, 0});
  CHECK(values_of(eq(p, q)) == std::vector<double>{1, 0, 0, 1});
  CHECK(values_of(lt(p, q)) == std::vector<double>{0, 1, 0, 0});
}

TEST_CASE("binary ops: mixed dtypes, special values, integer details") {
  Tensor i = tensor<int32_t>({1, -2, 3, 7}, {4});
  Tensor f = tensor<float>({0.5f, 0.25f, -1.0f, 2.0f}, {4});
  Tensor s = add(i, f);
  CHECK(s.dtype() == DType::Float32);
  CHECK(values_of(s) == std::vector<double>{1.5, -1.75, 2, 9});
  Tensor q = div(i, tensor<int64_t>({2, 4, -2, 0}, {4}));
  CHECK(q.dtype() == DType::Float32);
  CHECK(values_of(q) == std::vector<double>{0.5, -0.5, -1.5, kInf});
  Tensor h = mul(make<Half>({3, 4}, -2, 2), make<float>({4}, -2, 2));
  CHECK(h.dtype() == DType::Float32);
  Tensor d0 = tensor<double>({0.1}, {});
  Tensor fd = add(f, d0);  // a 0-dim float64 does not promote a float32 tensor
  CHECK(fd.dtype() == DType::Float32);
  CHECK(values_of(fd)[0] == double(0.5f + float(0.1)));
  CHECK(values_of(gt(i, f)) == std::vector<double>{1, 0, 1, 1});
  Tensor i64 = add(tensor<int64_t>({5}, {1}), tensor<int32_t>({3, 4}, {2}));
  CHECK(i64.dtype() == DType::Int64);

  // NaN propagation of maximum/minimum on both sides, in the AVX2 and scalar paths.
  std::vector<float> av(19, 1.0f), bv(19, 2.0f);
  av[3] = float(kNaN), bv[5] = float(kNaN), av[17] = float(kNaN);
  Tensor a = tensor<float>(av, {19}), b = tensor<float>(bv, {19});
  for (Tensor y : {maximum(a, b), minimum(a, b), maximum(b, a), minimum(b, a)}) {
    std::vector<double> v = values_of(y);
    CHECK(std::isnan(v[3]));
    CHECK(std::isnan(v[5]));
    CHECK(std::isnan(v[17]));
    CHECK(!std::isnan(v[0]));
  }

  // Integer pow wraps; a negative exponent is an error (tests/test_errors.cpp).
  Tensor base = tensor<int64_t>({2, -1, -1, 1, 3, 0, 3}, {7});
  Tensor ex = tensor<int64_t>({10, 3, 4, 5, 0, 0, 41}, {7});
  CHECK(values_of(pow(base, ex)) ==
        std::vector<double>{1024, -1, 1, 1, 1, 1, double(int64_t(-420491770248316829))});  // 3^41 mod 2^64
  Tensor big = add(tensor<int32_t>({std::numeric_limits<int32_t>::max()}, {1}), tensor<int32_t>({1}, {1}));
  CHECK(values_of(big)[0] == double(std::numeric_limits<int32_t>::min()));
}

TEST_CASE("where") {
  Tensor cond = tensor<bool>({true, false, true}, {3, 1});
  Tensor a = make<float>({3, 4}, -5, 5), b = tensor<double>({7.0}, {});
  Tensor y = where(cond, a, b);
  CHECK(y.dtype() == DType::Float32);
  std::vector<double> va = values_of(a), vy = values_of(y);
  for (int r = 0; r < 3; ++r)
    for (int k = 0; k < 4; ++k) CHECK(vy[r * 4 + k] == (r != 1 ? va[r * 4 + k] : 7.0));
  Tensor wi = where(tensor<bool>({false, true}, {2}), tensor<int32_t>({1, 2}, {2}), tensor<int64_t>({9}, {1}));
  CHECK(wi.dtype() == DType::Int64);
  CHECK(values_of(wi) == std::vector<double>{9, 2});
  Tensor wt = where(tensor<bool>({true, false, false, true}, {2, 2}).t(), make<Half>({2, 2}, -1, 1),
                    make<Half>({2, 2}, -1, 1).t());
  CHECK(wt.dtype() == DType::Float16);
  CHECK(where(tensor<bool>(std::vector<bool>{}, {0}), make<float>({0}, 0, 1), make<float>({}, 0, 1)).numel() == 0);
}

TEST_CASE("in-place ops read their inputs as they were (Note [In-place overlap])") {
  // copy_ from an overlapping, shifted range: used to be a memcpy with overlapping ranges.
  Tensor a = arange(0, 8, 1, DType::Float32);
  a.slice(0, 1, 5).copy_(a.slice(0, 0, 4));
  CHECK(values_of(a) == std::vector<double>{0, 0, 1, 2, 3, 5, 6, 7});
  Tensor b = arange(0, 8, 1, DType::Float32);
  b.slice(0, 0, 4).copy_(b.slice(0, 1, 5));
  CHECK(values_of(b) == std::vector<double>{1, 2, 3, 4, 4, 5, 6, 7});
  // A transpose of the destination itself: the loop order would mix old and new values.
  Tensor m = arange(0, 9, 1, DType::Float32).reshape({3, 3});
  m.copy_(m.t());
  CHECK(values_of(m) == std::vector<double>{0, 3, 6, 1, 4, 7, 2, 5, 8});
  Tensor big = arange(0, 64 * 64, 1, DType::Float64).reshape({64, 64});
  std::vector<double> want = values_of(big.t());
  big.copy_(big.t());
  CHECK(values_of(big) == want);
  // A broadcast source that is part of the destination.
  Tensor r = arange(0, 6, 1, DType::Float32).reshape({3, 2});
  r.copy_(r[1]);
  CHECK(values_of(r) == std::vector<double>{2, 3, 2, 3, 2, 3});
  // Binary ops: out[i] = x[i] + x[i - 1] with every x[i - 1] read before any write.
  Tensor x = ones({100});
  x.slice(0, 1, 100).add_(x.slice(0, 0, 99));
  std::vector<double> w(100, 2.0);
  w[0] = 1.0;
  CHECK(values_of(x) == w);
  Tensor y = arange(0, 10, 1, DType::Int64);
  y.slice(0, 0, 9).mul_(y.slice(0, 1, 10));
  CHECK(values_of(y) == std::vector<double>{0, 2, 6, 12, 20, 30, 42, 56, 72, 9});
  // Exact aliases need no copy and still work; disjoint parts of one storage too.
  Tensor z = arange(0, 4, 1, DType::Float32);
  z.add_(z);
  z.slice(0, 0, 2).sub_(z.slice(0, 2, 4));
  CHECK(values_of(z) == std::vector<double>{-4, -4, 4, 6});
  z.copy_(z);
  CHECK(values_of(z) == std::vector<double>{-4, -4, 4, 6});
}

TEST_CASE("strided outputs via apply_out") {
  // add into a transposed view, from a transposed and a broadcast operand.
  Tensor base = tensor<float>(std::vector<float>(40 * 30, 0.0f), {40, 30});
  Tensor out = base.t();  // (30, 40), column-major
  Tensor a = make<float>({40, 30}, -3, 3).t(), b = make<float>({40}, -3, 3);
  apply_into(OpKind::add, {a, b}, out);
  Shape shape = {30, 40};
  std::vector<double> va = broadcast_values(a, shape), vb = broadcast_values(b, shape), want;
  for (size_t k = 0; k < va.size(); ++k) want.push_back(double(float(va[k]) + float(vb[k])));
  CHECK(values_of(out) == want);
  // in-place unary into a stepped slice: only the selected elements change.
  Tensor x = make<float>({10, 16}, 0.5, 3);
  std::vector<double> before = values_of(x);
  Tensor view = x.slice(1, 1, 16, 3);
  apply_into(OpKind::exp, {view}, view);
  std::vector<double> after = values_of(x);
  for (int r = 0; r < 10; ++r)
    for (int c = 0; c < 16; ++c) {
      double b0 = before[r * 16 + c], a0 = after[r * 16 + c];
      if (c % 3 == 1) CHECK(std::abs(a0 - std::exp(b0)) <= 4e-6 * std::exp(b0));
      else CHECK(a0 == b0);
    }
  // in-place binary where out aliases the first operand, int64.
  Tensor n = tensor<int64_t>({1, 2, 3, 4, 5, 6}, {2, 3});
  apply_into(OpKind::mul, {n, tensor<int64_t>({10, 100, 1000}, {3})}, n);
  CHECK(values_of(n) == std::vector<double>{10, 200, 3000, 40, 500, 6000});
}

TEST_CASE("1 vs 2 threads give identical results") {
  int saved = get_num_threads();
  Tensor a = make<float>({300, 700}, -4, 4), b = make<float>({700}, -4, 4);
  Tensor ai = make<int32_t>({250, 600}, -100, 100, true);
  auto run = [&] {
    return std::vector<Tensor>{add(a, b),         mul(a.t(), a.t()), exp(a),  tanh(a.t()), gelu(a),
                               sigmoid(a),        log(abs(a)),       mul(ai, ai), lt(a, b), cast(a, DType::BFloat16),
                               maximum(a.t(), a.t()), clamp(a, -1.0, 1.0)};
  };
  set_num_threads(1);
  std::vector<Tensor> one = run();
  set_num_threads(2);
  std::vector<Tensor> two = run();
  set_num_threads(saved);
  for (size_t k = 0; k < one.size(); ++k) {
    Tensor p = one[k].contiguous(), q = two[k].contiguous();
    CHECK_MESSAGE(std::memcmp(p.data_ptr(), q.data_ptr(), p.numel() * p.element_size()) == 0, "result ", k);
  }
}

// ---- accuracy of the vectorised float32 math over the whole range
namespace {

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Max error of `op` against `ref` (double), in ulps of the float result (subnormal ulp
// = 2^-149), over xs, which are evaluated in one contiguous float32 tensor.
double max_ulp_error(OpKind op, const std::vector<float>& xs, double (*ref)(double), float* worst_x) {
  Tensor y = apply(op, {tensor<float>(xs, {int64_t(xs.size())})});
  const float* py = y.data<float>();
  double worst = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    double r = ref(double(xs[i]));
    float rf = float(r);
    if (std::isnan(r)) {
      if (!std::isnan(py[i])) return 1e30;
      continue;
    }
    if (std::isinf(rf)) {
      if (py[i] != rf && std::abs(double(py[i])) < 3.4e38) return 1e30;
      continue;
    }
    double ulp = std::max(std::ldexp(1.0, std::ilogb(std::max(std::abs(r), 1.17549435e-38)) - 23),
                          std::ldexp(1.0, -149));
    double e = std::abs(double(py[i]) - r) / ulp;
    if (e > worst) worst = e, *worst_x = xs[i];
  }
  return worst;
}

std::vector<float> sweep(float lo, float hi, int n) {
  std::vector<float> v;
  for (int i = 0; i < n; ++i) v.push_back(lo + (hi - lo) * float(i) / float(n - 1));
  return v;
}

}  // namespace

TEST_CASE("vectorised exp/log/tanh/sigmoid/erf/gelu accuracy") {
  float wx = 0;
  std::vector<float> ex = sweep(-105.0f, 90.0f, 400000);
  double e = max_ulp_error(OpKind::exp, ex, [](double x) { return std::exp(x); }, &wx);
  MESSAGE("exp max error ", e, " ulp at ", wx);
  CHECK(e <= 3);

  std::vector<float> lx;  // every 3001st positive bit pattern: subnormals to inf
  for (uint64_t u = 1; u <= 0x7f800000u; u += 3001) lx.push_back(from_bits(uint32_t(u)));
  for (float v : sweep(0.5f, 2.0f, 100000)) lx.push_back(v);
  e = max_ulp_error(OpKind::log, lx, [](double x) { return std::log(x); }, &wx);
  MESSAGE("log max error ", e, " ulp at ", wx);
  CHECK(e <= 3);

  std::vector<float> tx = sweep(-12.0f, 12.0f, 400000);
  for (float v : sweep(-1e-3f, 1e-3f, 10000)) tx.push_back(v);
  e = max_ulp_error(OpKind::tanh, tx, [](double x) { return std::tanh(x); }, &wx);
  MESSAGE("tanh max error ", e, " ulp at ", wx);
  CHECK(e <= 4);

  std::vector<float> sx = sweep(-100.0f, 40.0f, 300000);
  e = max_ulp_error(OpKind::sigmoid, sx, [](double x) { return 1 / (1 + std::exp(-x)); }, &wx);
  MESSAGE("sigmoid max error ", e, " ulp at ", wx);
  CHECK(e <= 4);

  // erf: its series near 0 (tiny values included) and 1 - erfc beyond 0.5.
  std::vector<float> fx = sweep(-6.0f, 6.0f, 400000);
  for (float v : sweep(-1e-3f, 1e-3f, 10000)) fx.push_back(v);
  for (float v : {1e-30f, -1e-20f, 0.4999999f, 0.5f, 0.5000001f, 3.91f, 3.92f}) fx.push_back(v);
  e = max_ulp_error(OpKind::erf, fx, [](double x) { return std::erf(x); }, &wx);
  MESSAGE("erf max error ", e, " ulp at ", wx);
  CHECK(e <= 3);

  // gelu (erf form): relative for x > -5; the far negative tail is tiny, check absolute.
  std::vector<float> gx = sweep(-5.0f, 10.0f, 300000);
  e = max_ulp_error(OpKind::gelu, gx, [](double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }, &wx);
  MESSAGE("gelu max error ", e, " ulp at ", wx);
  CHECK(e <= 8);
  Tensor tail = gelu(tensor<float>(sweep(-30.0f, -5.0f, 1000), {1000}));
  for (double v : values_of(tail)) CHECK(std::abs(v) < 1e-5);

  // Special values, in a full vector and in a masked tail.
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> sp = {inf, -inf, nan, 0.0f, -0.0f, 88.8f, -200.0f, 89.0f, 1e-45f, -1.0f, 1.0f};
  for (int len : {11, 3}) {
    std::vector<float> v(sp.begin(), sp.begin() + len);
    Tensor x = tensor<float>(v, {len});
    std::vector<float> yexp = exp(x).to_vector<float>(), ylog = log(x).to_vector<float>(),
                       ytanh = tanh(x).to_vector<float>(), ysig = sigmoid(x).to_vector<float>(),
                       yerf = erf(x).to_vector<float>();
    for (int i = 0; i < len; ++i) {
      auto same = [](float got, float want) {
        return (std::isnan(got) && std::isnan(want)) || (got == want && std::signbit(got) == std::signbit(want));
      };
      float xv = v[size_t(i)];
      CHECK_MESSAGE(same(yexp[i], std::exp(xv)), "exp(", xv, ") = ", yexp[i]);
      CHECK_MESSAGE((same(ylog[i], std::log(xv)) || std::abs(ylog[i] - std::log(xv)) < 3e-5f), "log(", xv,
                    ") = ", ylog[i]);
      CHECK_MESSAGE(same(ytanh[i], std::tanh(xv)), "tanh(", xv, ") = ", ytanh[i]);
      CHECK_MESSAGE(same(yerf[i], std::erf(xv)), "erf(", xv, ") = ", yerf[i]);
      CHECK_MESSAGE((same(ysig[i], 1 / (1 + std::exp(-xv))) || std::abs(ysig[i] - 1 / (1 + std::exp(-xv))) < 1e-7f),
                    "sigmoid(", xv, ") = ", ysig[i]);
    }
  }
}

TEST_CASE("throughput (prints GB/s)" * doctest::skip()) {
  int saved = get_num_threads();
  set_num_threads(2);
  const int64_t n = 4 << 20;
  Tensor a = make<float>({n}, -5, 5), b = make<float>({n}, -5, 5);
  Tensor out = tensor<float>(std::vector<float>(size_t(n), 0.0f), {n});
  auto time = [&](OpKind op, std::vector<Tensor> ins, int bytes_per_elem) {
    for (int w = 0; w < 3; ++w) apply_out(op, ins, {}, out);
    int reps = 30;
    auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r) apply_out(op, ins, {}, out);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
    std::printf("%-5s 4M float32, 2 threads: %.3f ms, %.1f GB/s\n", op_name(op), s * 1e3,
                double(n) * bytes_per_elem / s / 1e9);
  };
  time(OpKind::add, {a, b}, 12);
  time(OpKind::exp, {a}, 8);
  time(OpKind::tanh, {a}, 8);
  time(OpKind::gelu, {a}, 8);
  set_num_threads(saved);
}

TEST_CASE("neg flips the sign bit of every float dtype, zeros too, as PyTorch") {
  for (DType dt : {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16}) {
    for (int64_t n : {1, 5, 9, 40}) {  // scalar tails and vector bodies
      Tensor z = zeros({n}, dt);
      for (double v : neg(z).to_vector<double>()) CHECK_MESSAGE(std::signbit(v), dtype_name(dt), " n ", n);
      for (double v : neg(neg(z)).to_vector<double>()) CHECK_MESSAGE(!std::signbit(v), dtype_name(dt), " n ", n);
    }
  }
}
