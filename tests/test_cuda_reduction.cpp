// The CUDA reduction and softmax kernels (kernels/cuda/reduction.cu, softmax.cu) against
// the CPU kernels (label `cuda`): every layout the launch planning picks (rows with 1..32
// lanes or a block, float4 rows, column tiles of 1..32 outputs, split reductions with a
// second pass, strided/transposed/expanded inputs), sizes around warp/block/chunk edges,
// keepdim, size-0 and 0-d cases, every dtype each op takes; NaN propagation and the
// first-index rule of argmax/argmin across threads and blocks; softmax/log_softmax with
// -inf/NaN/large logits. Integers must match the CPU exactly, floats to 1e-5 relative
// (float16/bfloat16 to one rounding of their own).
//
// Without a GPU (or in a build without CUDA) every test prints
//   skipped: no CUDA device (<why>)
// and passes.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "core/functions.h"
#include "tests/cuda_test_support.h"
#include "tests/reference/op_cases.h"
#include "tests/test_support.h"

using namespace duet;
using duet::testing::cpu;
using duet::cases::kAllDTypes;
using duet::testing::skip_without_gpu;
using duet::testing::to_gpu_same_layout;
using duet::testing::values_of;

namespace {

const std::vector<DType> kFloatDTypes = {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16};

double tol_for(DType dt) {
  switch (dt) {
    case DType::Float16: return 2e-3;
    case DType::BFloat16: return 1.6e-2;
    default: return 1e-5;
  }
}

// Test data of dtype dt: normal floats, small integers, random bools.
Tensor data(const Shape& shape, DType dt) {
  if (dt == DType::Bool) return randint(0, 2, shape).to(DType::Bool);
  if (is_integral(dt)) return randint(-20, 21, shape, dt);
  return randn(shape).to(dt);
}

std::string describe(const Tensor& t) { return std::string(dtype_name(t.dtype())) + shape_str(t.sizes()); }

std::string describe_case(OpKind op, const Tensor& x, const Attrs& attrs) {
  return std::string(op_name(op)) + " of " + describe(x) + " strides " + shape_str(x.strides()) + " attrs " +
         attrs.str();
}

// "" when `got` (any device) matches `want` (CPU).
std::string compare(const Tensor& got_dev, const Tensor& want, double rtol) {
  Tensor got = cpu(got_dev);
  if (got.sizes() != want.sizes() || got.dtype() != want.dtype())
    return "got " + describe(got) + ", want " + describe(want);
  if (want.dtype() == DType::Int64) {
    // Not through double: int64 results above 2^53 (wrapped sums and products) would
    // compare equal with different low bits.
    const Tensor gc = got.contiguous(), wc = want.contiguous();
    for (int64_t i = 0; i < wc.numel(); ++i) {
      if (gc.data<int64_t>()[i] != wc.data<int64_t>()[i]) {
        std::ostringstream s;
        s << "element " << i << ": got " << gc.data<int64_t>()[i] << ", want " << wc.data<int64_t>()[i];
        return s.str();
      }
    }
    return "";
  }
  std::vector<double> g = values_of(got), w = values_of(want);
  const bool exact = !is_floating(want.dtype());
  for (size_t i = 0; i < g.size(); ++i) {
    bool ok;
    if (std::isnan(w[i])) ok = std::isnan(g[i]);
    else if (exact || std::isinf(w[i])) ok = g[i] == w[i];
    // The absolute term covers results near 0 (a sum of random signs, log_softmax of a
    // dominant logit) whose error is relative to the terms, not to the result.
    else ok = std::abs(g[i] - w[i]) <= rtol * std::abs(w[i]) + rtol * 0.1;
    if (!ok) {
      std::ostringstream s;
      s << "element " << i << ": got " << g[i] << ", want " << w[i];
      return s.str();
    }
  }
  return "";
}

// op(x) on the device (x copied in the same layout) against the CPU kernel.
void check(OpKind op, const Tensor& x, const Attrs& attrs, double rtol = -1) {
  if (rtol < 0) rtol = tol_for(x.dtype());
  Tensor want = apply(op, {x}, attrs);
  Tensor got = apply(op, {to_gpu_same_layout(x)}, attrs);
  CHECK_MESSAGE(got.device() == testing::kGpu, describe_case(op, x, attrs));
  std::string err = compare(got, want, rtol);
  CHECK_MESSAGE(err.empty(), describe_case(op, x, attrs), ": ", err);
}

Attrs dims_attrs(std::vector<int64_t> dims, bool keepdim = false) {
  Attrs a;
  a.set("dims", std::move(dims)).set("keepdim", keepdim);
  return a;
}
Attrs dim_attrs(int64_t dim, bool keepdim = false) {
  Attrs a;
  a.set("dim", dim).set("keepdim", keepdim);
  return a;
}

// The ops of reduce_shape that take dtype dt.
std::vector<OpKind> reduce_ops_for(DType dt) {
  std::vector<OpKind> ops = {OpKind::sum, OpKind::prod};
  if (dt != DType::Bool) {
    ops.push_back(OpKind::amax);
    ops.push_back(OpKind::amin);
  }
  if (is_floating(dt)) {
    ops.push_back(OpKind::mean);
    ops.push_back(OpKind::var);
    ops.push_back(OpKind::std);
  }
  return ops;
}

// Every reduce op and argmax/argmin of x over `dims` (one dim for the arg ops).
void check_all(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false) {
  for (OpKind op : reduce_ops_for(x.dtype())) {
    // Products of long float rows over/underflow the same way on both, but stay finite
    // and meaningful only for values near 1.
    Tensor in = x;
    if (op == OpKind::prod && is_floating(x.dtype())) in = (x * scalar_like(0.05, x)).exp().to(x.dtype());
    check(op, in, dims_attrs(dims, keepdim));
  }
  if (x.dtype() != DType::Bool && dims.size() == 1) {
    check(OpKind::argmax, x, dim_attrs(dims[0], keepdim));
    check(OpKind::argmin, x, dim_attrs(dims[0], keepdim));
  }
}

}  // namespace

TEST_CASE("cuda reductions: rows of every length (warp lanes, block, float4, split)") {
  if (skip_without_gpu()) return;
  for (int64_t n : {1, 2, 3, 4, 5, 8, 17, 31, 32, 33, 64, 100, 1000, 2047, 2048, 2049, 5003, 40000}) {
    for (int64_t m : {1, 3, 67}) {
      if (n * m > 3'000'000) continue;
      CAPTURE(n);
      CAPTURE(m);
      check_all(data({m, n}, DType::Float32), {1});
      check_all(data({m, n}, DType::Float32), {1}, true);
    }
  }
  // Every dtype on a few shapes.
  for (DType dt : kAllDTypes) {
    CAPTURE(dt);
    for (int64_t n : {7, 300, 4100}) check_all(data({5, n}, dt), {1});
  }
}

TEST_CASE("cuda reductions: columns (unit-stride outputs, strided reduction)") {
  if (skip_without_gpu()) return;
  for (int64_t L : {2, 3, 5, 31, 32, 33, 100}) {
    for (int64_t n : {2, 3, 257, 5000, 70000}) {
      if (n * L > 3'000'000) continue;
      CAPTURE(L);
      CAPTURE(n);
      check_all(data({n, L}, DType::Float32), {0});
    }
  }
  for (DType dt : kAllDTypes) {
    CAPTURE(dt);
    check_all(data({600, 37}, dt), {0});
    check_all(data({40000, 3}, dt), {0}, true);  // split columns
    check_all(data({6, 50, 9}, dt), {1});         // middle dim: outer x columns
    check_all(data({6, 50, 9}, dt), {0, 2});      // rows of two reduced dims
    check_all(data({6, 50, 9}, dt), {0, 1});
  }
}

TEST_CASE("cuda reductions: all elements, split into chunks, and large sums") {
  if (skip_without_gpu()) return;
  for (int64_t n : {1, 5, 1 << 15, (1 << 15) + 1, 100003, (1 << 21) + 3}) {
    CAPTURE(n);
    check_all(data({n}, DType::Float32), {});
    check_all(data({n}, DType::Float32), {0}, true);
  }
  for (DType dt : kAllDTypes) {
    CAPTURE(dt);
    check_all(data({333, 517}, dt), {});
  }
  // Against an independent double sum: double accumulation leaves one float rounding.
  Tensor x = uniform({(1 << 22) + 7}, 0.0, 2.0);
  std::vector<double> v = values_of(x);
  double ref = 0;
  for (double e : v) ref += e;
  double got = cpu(sum(to_gpu_same_layout(x))).item<double>();
  CHECK(std::abs(got - ref) <= 1e-7 * ref);
  // Integer sums wrap like int64 and match bit for bit (100003 * (2^60 + 12345) wraps
  // and keeps low bits that a comparison through double would lose).
  Tensor big = full({100003}, double(int64_t(1) << 60), DType::Int64) + full({100003}, 12345.0, DType::Int64);
  check(OpKind::sum, big, dims_attrs({}));
  CHECK(cpu(sum(to_gpu_same_layout(big))).item<int64_t>() ==
        int64_t(uint64_t(100003) * ((uint64_t(1) << 60) + 12345)));
  check(OpKind::prod, full({70}, 3.0, DType::Int64), dims_attrs({}));
}

TEST_CASE("cuda reductions: non-contiguous inputs") {
  if (skip_without_gpu()) return;
  for (DType dt : {DType::Float32, DType::Float64, DType::Int32, DType::Float16}) {
    CAPTURE(dt);
    Tensor base = data({70, 90}, dt);
    Tensor t = base.transpose(0, 1);  // (90, 70), strides (1, 90)
    check_all(t, {0});
    check_all(t, {1});
    check_all(t, {});
    Tensor s = base.slice(0, 1, 70, 3).slice(1, 2, 89, 2);  // odd offsets, steps
    check_all(s, {0});
    check_all(s, {1});
    check_all(s, {});
    Tensor e = data({1, 40}, dt).expand({300, 40});  // stride 0 on dim 0
    check_all(e, {0});
    check_all(e, {1});
    check_all(e, {});
    Tensor p = data({4, 5, 6, 7}, dt).permute({2, 0, 3, 1});
    check_all(p, {1, 3});
    check_all(p, {0, 2}, true);
    check_all(p, {3});
  }
  // Misaligned float32 rows take the scalar path.
  Tensor m = data({9, 1025}, DType::Float32).slice(1, 1, 1025);
  check_all(m, {1});
}

TEST_CASE("cuda reductions: size-0, size-1 and 0-d") {
  if (skip_without_gpu()) return;
  for (DType dt : kAllDTypes) {
    CAPTURE(dt);
    Tensor z = data({0, 5}, dt);
    for (OpKind op : {OpKind::sum, OpKind::prod}) {
      check(op, z, dims_attrs({0}));  // empty reduction: identity
      check(op, z, dims_attrs({1}));  // no outputs
      check(op, z, dims_attrs({}, true));
    }
    if (is_floating(dt))
      for (OpKind op : {OpKind::mean, OpKind::var, OpKind::std}) check(op, z, dims_attrs({0}));  // NaN
    if (dt != DType::Bool) {
      check(OpKind::amax, z, dims_attrs({1}));
      check(OpKind::argmax, z, dim_attrs(1));
      check(OpKind::argmin, data({3, 1, 4}, dt), dim_attrs(1, true));
    }
    Tensor s = data({}, dt);  // 0-d
    check_all(s, {});
    check_all(s, {0}, true);
    if (dt != DType::Bool) {
      check(OpKind::argmax, s, Attrs{});
      check(OpKind::argmin, s, dim_attrs(0));
    }
    check_all(data({1, 1, 7}, dt), {0, 1});
  }
  Attrs c0 = dims_attrs({1});
  c0.set("correction", 0.0);
  check(OpKind::var, data({4, 1}, DType::Float32), c0);
  check(OpKind::std, data({4, 1}, DType::Float32), dims_attrs({1}));  // N - 1 = 0: inf/NaN
  Attrs c2 = dims_attrs({0});
  c2.set("correction", 2.5);
  check(OpKind::var, data({50, 3}, DType::Float64), c2);
}

TEST_CASE("cuda reductions: NaN and ties across threads, blocks and splits") {
  if (skip_without_gpu()) return;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (int64_t n : {10, 100, 3000, 100000}) {
    CAPTURE(n);
    // Ties: the extreme value at two indices far apart (other threads, other chunks).
    std::vector<double> v(size_t(n), 0.0);
    for (int64_t i = 0; i < n; ++i) v[size_t(i)] = double((i * 37) % 11) - 5;
    const int64_t a = n / 7 + 1, b = n - 2;
    v[size_t(a)] = v[size_t(b)] = 100;
    v[size_t(a + 1)] = v[size_t(b - 1)] = -100;
    for (DType dt : {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::BFloat16}) {
      CAPTURE(dt);
      Tensor x = tensor(v, {n}).to(dt);
      check(OpKind::argmax, x, Attrs{});
      check(OpKind::argmin, x, Attrs{});
      check(OpKind::argmax, x.reshape({1, n}).expand({3, n}), dim_attrs(1));
      // Columns layout: contiguous (n, 5), so the kept dim has unit stride (an expanded
      // view would have stride 0 there and take the rows path).
      Tensor col = x.reshape({n, 1}).expand({n, 5}).contiguous();
      check(OpKind::argmax, col, dim_attrs(0));
      check(OpKind::argmin, col, dim_attrs(0));
      CHECK(cpu(argmax(to_gpu_same_layout(x))).item<int64_t>() == a);
    }
    // NaN: amax/amin give NaN; argmax/argmin the first NaN, even after a larger value.
    std::vector<double> w = v;
    w[size_t(b)] = nan;
    w[size_t(a + 2)] = nan;
    for (DType dt : kFloatDTypes) {
      CAPTURE(dt);
      Tensor x = tensor(w, {n}).to(dt);
      for (OpKind op : {OpKind::amax, OpKind::amin, OpKind::sum, OpKind::mean, OpKind::var})
        check(op, x, dims_attrs({}));
      check(OpKind::argmax, x, Attrs{});
      check(OpKind::argmin, x, Attrs{});
      CHECK(cpu(argmin(to_gpu_same_layout(x))).item<int64_t>() == a + 2);
      Tensor col = x.reshape({n, 1}).expand({n, 4}).contiguous();
      check(OpKind::argmax, col, dim_attrs(0));
      check(OpKind::amin, col, dims_attrs({0}));
    }
  }
}

TEST_CASE("cuda reductions: results do not change between runs") {
  if (skip_without_gpu()) return;
  Tensor x = to_gpu_same_layout(randn({(1 << 20) + 5}));
  std::vector<double> first = values_of(cpu(sum(x))), again = values_of(cpu(sum(x)));
  CHECK(first == again);
  Tensor c = to_gpu_same_layout(randn({50000, 7}));
  CHECK(values_of(cpu(var(c, {0}))) == values_of(cpu(var(c, {0}))));
}

// ---------------------------------------------------------------- softmax

namespace {

void check_softmax(const Tensor& x, int64_t dim) {
  check(OpKind::softmax, x, dim_attrs(dim));
  check(OpKind::log_softmax, x, dim_attrs(dim));
}

}  // namespace

TEST_CASE("cuda softmax: rows (warp lanes, block, float4) and columns") {
  if (skip_without_gpu()) return;
  for (int64_t n : {1, 2, 3, 4, 10, 31, 32, 33, 128, 1000, 1023, 1024, 1025, 4096, 5001}) {
    CAPTURE(n);
    for (int64_t m : {1, 5, 130}) {
      CAPTURE(m);
      check_softmax(data({m, n}, DType::Float32), 1);
      check_softmax(data({n, m}, DType::Float32), 0);  // columns
    }
  }
  for (DType dt : kFloatDTypes) {
    CAPTURE(dt);
    check_softmax(data({3, 7, 5, 4}, dt), 1);
    check_softmax(data({3, 7, 5, 4}, dt), -1);
    check_softmax(data({17, 2000}, dt), 1);
    check_softmax(data({20, 64}, dt), 1);
    check_softmax(data({}, dt), 0);
    check_softmax(data({0, 6}, dt), 1);
    check_softmax(data({6, 0}, dt), 1);
  }
}

TEST_CASE("cuda softmax: non-contiguous inputs") {
  if (skip_without_gpu()) return;
  for (DType dt : {DType::Float32, DType::Float64, DType::BFloat16}) {
    CAPTURE(dt);
    Tensor base = data({40, 300}, dt);
    check_softmax(base.transpose(0, 1), 0);  // unit-stride lines of a transposed view
    check_softmax(base.transpose(0, 1), 1);
    check_softmax(base.slice(1, 1, 297), 1);          // misaligned rows
    check_softmax(base.slice(0, 0, 40, 3).slice(1, 0, 300, 2), 1);  // strided lines
    check_softmax(data({1, 64}, dt).expand({9, 64}), 1);
    check_softmax(data({64, 1}, dt).expand({64, 9}), 0);
  }
}

TEST_CASE("cuda softmax: -inf, NaN and large logits") {
  if (skip_without_gpu()) return;
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  for (int64_t n : {5, 64, 2048}) {
    CAPTURE(n);
    std::vector<double> v(size_t(4 * n));
    for (int64_t i = 0; i < 4 * n; ++i) v[size_t(i)] = double((i * 13) % 17) * 60.0;  // up to 960
    v[1] = -inf;                                      // row 0: one -inf
    for (int64_t i = 0; i < n; ++i) v[size_t(n + i)] = -inf;  // row 1: all -inf -> NaN
    v[size_t(2 * n + n / 2)] = nan;                    // row 2: NaN -> NaN
    v[size_t(3 * n)] = 1000;                           // row 3: large logit
    for (DType dt : kFloatDTypes) {
      CAPTURE(dt);
      Tensor x = tensor(v, {4, n}).to(dt);
      check_softmax(x, 1);
      check_softmax(x.transpose(0, 1).contiguous(), 0);  // the same lines as columns
    }
  }
}
