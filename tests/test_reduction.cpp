// Tests of the reduction kernels (sum, mean, prod, amax, amin, var, std, argmax, argmin)
// and of softmax/log_softmax, against plain-loop references in double: single, multiple
// and all dims, keepdim, non-contiguous inputs (transposed, stepped slices, expanded),
// size-0 and size-1 dims, every dtype, NaN/inf, 1 vs 2 threads, and a long float32 sum.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/functions.h"
#include "core/parallel.h"
#include "tests/test_support.h"

using namespace duet;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

using testing::values_of;

template <typename T>
Tensor make(const Shape& shape, std::mt19937& rng, double lo, double hi, bool integers = false) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<T> v(size_t(numel_of(shape)));
  for (size_t i = 0; i < v.size(); ++i) {
    double x = u(rng);
    if (integers) x = std::floor(x);
    if constexpr (std::is_same_v<T, bool>) v[i] = x > 0;
    else v[i] = T(compute_t<T>(x));
  }
  return tensor<T>(v, shape);
}

enum class R { sum, mean, prod, amax, amin, var, std };

// Groups input values by output index, then reduces each group in double.
std::vector<double> ref_reduce(R op, const Shape& shape, const std::vector<double>& v, std::vector<int64_t> dims,
                               double corr = 1) {
  const int64_t nd = int64_t(shape.size());
  std::vector<bool> red(size_t(nd), dims.empty());
  for (int64_t d : dims) red[size_t(d < 0 ? d + nd : d)] = true;
  int64_t M = 1;
  for (int64_t d = 0; d < nd; ++d)
    if (!red[size_t(d)]) M *= shape[size_t(d)];
  std::vector<std::vector<double>> groups(static_cast<size_t>(M));
  for (size_t i = 0; i < v.size(); ++i) {
    int64_t rem = int64_t(i), m = 0, scale = 1;
    for (int64_t d = nd - 1; d >= 0; --d) {
      int64_t idx = rem % shape[size_t(d)];
      rem /= shape[size_t(d)];
      if (!red[size_t(d)]) {
        m += idx * scale;
        scale *= shape[size_t(d)];
      }
    }
    groups[size_t(m)].push_back(v[i]);
  }
  std::vector<double> out;
  for (auto& g : groups) {
    double n = double(g.size()), s = 0, p = 1;
    double mx = -kInf, mn = kInf;
    bool nan = false;
    for (double x : g) {
      s += x;
      p *= x;
      nan = nan || std::isnan(x);
      mx = std::max(mx, x);
      mn = std::min(mn, x);
    }
    double mean = s / n, ss = 0;
    for (double x : g) ss += (x - mean) * (x - mean);
    double var = ss / std::max(0.0, n - corr);
    switch (op) {
      case R::sum: out.push_back(s); break;
      case R::mean: out.push_back(mean); break;
      case R::prod: out.push_back(p); break;
      case R::amax: out.push_back(nan ? kNaN : mx); break;
      case R::amin: out.push_back(nan ? kNaN : mn); break;
      case R::var: out.push_back(var); break;
      case R::std: out.push_back(std::sqrt(var)); break;
    }
  }
  return out;
}

Tensor run_op(R op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, double corr = 1) {
  switch (op) {
    case R::sum: return sum(x, dims, keepdim);
    case R::mean: return mean(x, dims, keepdim);
    case R::prod: return prod(x, dims, keepdim);
    case R::amax: return amax(x, dims, keepdim);
    case R::amin: return amin(x, dims, keepdim);
    case R::var: return var(x, dims, keepdim, corr);
    case R::std: return duet::std(x, dims, keepdim, corr);
  }
  return {};
}

Shape expected_shape(const Shape& in, std::vector<int64_t> dims, bool keepdim) {
  const int64_t nd = int64_t(in.size());
  std::vector<bool> red(size_t(nd), dims.empty());
  for (int64_t d : dims) red[size_t(d < 0 ? d + nd : d)] = true;
  Shape s;
  for (int64_t d = 0; d < nd; ++d) {
    if (!red[size_t(d)]) s.push_back(in[size_t(d)]);
    else if (keepdim) s.push_back(1);
  }
  return s;
}

bool close(double got, double want, double rtol, double atol) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  return std::abs(got - want) <= atol + rtol * std::abs(want);
}

void check_close(const Tensor& got, const std::vector<double>& want, double rtol, double atol, const std::string& what) {
  INFO(what);
  auto g = values_of(got);
  REQUIRE(g.size() == want.size());
  for (size_t i = 0; i < g.size(); ++i) {
    if (!close(g[i], want[i], rtol, atol)) {
      INFO("index ", i, ": got ", g[i], ", want ", want[i]);
      CHECK(false);
      return;
    }
  }
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.sizes() != b.sizes() || a.dtype() != b.dtype()) return false;
  return std::memcmp(a.data_ptr(), b.data_ptr(), size_t(a.numel()) * a.element_size()) == 0;
}

// The same logical (5, 7, 6) tensor as contiguous, transposed, stepped-slice and expanded views.
template <typename T>
std::vector<std::pair<std::string, Tensor>> layouts(std::mt19937& rng, double lo, double hi, bool integers) {
  std::vector<std::pair<std::string, Tensor>> v;
  v.emplace_back("contiguous", make<T>({5, 7, 6}, rng, lo, hi, integers));
  v.emplace_back("transposed", make<T>({7, 5, 6}, rng, lo, hi, integers).transpose(0, 1));
  v.emplace_back("permuted", make<T>({6, 5, 7}, rng, lo, hi, integers).permute({1, 2, 0}));
  v.emplace_back("sliced", make<T>({10, 7, 13}, rng, lo, hi, integers).slice(0, 0, 10, 2).slice(2, 1, 13, 2));
  v.emplace_back("expanded", make<T>({5, 1, 6}, rng, lo, hi, integers).expand({5, 7, 6}));
  return v;
}

const std::vector<std::vector<int64_t>> kDimSets = {{}, {0}, {1}, {2}, {-1}, {0, 2}, {0, 1}, {1, 2}, {0, 1, 2}};

template <typename T>
void check_all_ops(std::vector<R> ops, double lo, double hi, bool integers, double rtol, double atol) {
  std::mt19937 rng(1234);
  for (auto& [name, x] : layouts<T>(rng, lo, hi, integers)) {
    auto v = values_of(x);
    for (R op : ops) {
      for (auto& dims : kDimSets) {
        for (bool keepdim : {false, true}) {
          std::ostringstream os;
          os << name << " op " << int(op) << " dtype " << dtype_name(x.dtype()) << " dims " << shape_str(dims)
             << " keepdim " << keepdim;
          std::string what = os.str();
          set_num_threads(1);
          Tensor y1 = run_op(op, x, dims, keepdim);
          set_num_threads(2);
          Tensor y2 = run_op(op, x, dims, keepdim);
          INFO(what);
          CHECK(y1.sizes() == expected_shape(x.sizes(), dims, keepdim));
          CHECK(bitwise_equal(y1, y2));
          check_close(y1, ref_reduce(op, x.sizes(), v, dims), rtol, atol, what);
        }
      }
    }
  }
}

}  // namespace

TEST_CASE("reductions: float32/float64 over every dim set and layout") {
  std::vector<R> all = {R::sum, R::mean, R::prod, R::amax, R::amin, R::var, R::std};
  check_all_ops<float>(all, 0.5, 1.5, false, 2e-6, 1e-6);
  check_all_ops<double>(all, -2, 2, false, 1e-12, 1e-12);
}

TEST_CASE("reductions: 16-bit floats compute in float") {
  std::vector<R> all = {R::sum, R::mean, R::prod, R::amax, R::amin, R::var, R::std};
  // Integers in [-4, 4] are exact in both; results round once to the 16-bit type.
  check_all_ops<Half>({R::sum, R::mean, R::amax, R::amin, R::var, R::std}, -4, 5, true, 2e-3, 1e-3);
  check_all_ops<BFloat16>({R::sum, R::mean, R::amax, R::amin, R::var, R::std}, -4, 5, true, 1e-2, 1e-2);
  check_all_ops<Half>({R::prod}, 0.5, 1.5, false, 2e-2, 1e-3);
}

TEST_CASE("reductions: integer and bool dtypes are exact, sum/prod give int64") {
  check_all_ops<int32_t>({R::sum, R::prod, R::amax, R::amin}, -3, 4, true, 0, 0);
  check_all_ops<int64_t>({R::sum, R::amax, R::amin}, -100, 100, true, 0, 0);
  check_all_ops<int64_t>({R::prod}, -3, 4, true, 0, 0);
  check_all_ops<bool>({R::sum, R::prod}, -1, 1, false, 0, 0);
  std::mt19937 rng(5);
  Tensor x = make<int32_t>({4, 5}, rng, -9, 9, true);
  CHECK(sum(x).dtype() == DType::Int64);
  CHECK(prod(x, {1}).dtype() == DType::Int64);
  CHECK(amax(x, {1}).dtype() == DType::Int32);
  CHECK(sum(tensor<bool>({true, true, false, true})).item<int64_t>() == 3);
  // int64 products wrap instead of being undefined.
  Tensor big = tensor<int64_t>({int64_t(1) << 40, int64_t(1) << 40});
  CHECK(prod(big).item<int64_t>() == 0);
}

TEST_CASE("integer sums wrap like two's complement int64, as in PyTorch") {
  // Signed overflow in the accumulators was undefined behaviour (UBSan stops on it).
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max(), kMin = std::numeric_limits<int64_t>::min();
  CHECK(sum(tensor<int64_t>({kMax, 1})).item<int64_t>() == kMin);
  CHECK(sum(tensor<int64_t>({kMin, -1})).item<int64_t>() == kMax);
  CHECK(sum(tensor<int64_t>({kMax, kMax, 2})).item<int64_t>() == 0);
  // Every loop: per output (4 chains), columns, and the split of a long reduction.
  Tensor rows = full({4, 8}, double(int64_t(1) << 61), DType::Int64);
  CHECK(values_of(sum(rows, {1})) == std::vector<double>(4, 0.0));  // 8 * 2^61 = 2^64
  Tensor cols = full({8, 16}, double(int64_t(1) << 61), DType::Int64);
  CHECK(values_of(sum(cols, {0})) == std::vector<double>(16, 0.0));
  Tensor flat = full({100000}, double(int64_t(1) << 60), DType::Int64);  // 100000 * 2^60 mod 2^64
  CHECK(sum(flat).item<int64_t>() == int64_t(uint64_t(100000) << 60));
  CHECK(sum(full({3}, double(std::numeric_limits<int32_t>::max()), DType::Int32)).item<int64_t>() ==
        3 * int64_t(std::numeric_limits<int32_t>::max()));
  CHECK(prod(tensor<int64_t>({kMin, -1})).item<int64_t>() == kMin);
}

TEST_CASE("reductions: large shapes take the column, split and per-output loops") {
  std::mt19937 rng(7);
  struct Case {
    Shape shape;
    std::vector<int64_t> dims;
  };
  std::vector<Case> cases = {
      {{128, 256}, {0}},      // bias gradient: column loop
      {{40, 1000}, {0}},      // column loop over several chunks
      {{40, 1000}, {1}},      // per-output rows
      {{3, 70000}, {1}},      // split loop, several outputs
      {{300, 1000}, {}},      // split loop, one output
      {{20, 30, 200}, {0, 2}},
  };
  for (auto& c : cases) {
    Tensor x = make<float>(c.shape, rng, -1, 1);
    auto v = values_of(x);
    for (R op : {R::sum, R::mean, R::amax, R::amin, R::var, R::std}) {
      set_num_threads(1);
      Tensor y1 = run_op(op, x, c.dims, false);
      set_num_threads(2);
      Tensor y2 = run_op(op, x, c.dims, false);
      std::string what = shape_str(c.shape) + " op " + std::to_string(int(op));
      INFO(what);
      CHECK(bitwise_equal(y1, y2));
      check_close(y2, ref_reduce(op, c.shape, v, c.dims), 1e-5, 1e-6, what);
    }
    // A transposed view of the same data reduces the same way.
    if (c.shape.size() != 2) continue;
    Tensor xt = x.t();
    std::vector<int64_t> tdims;
    for (int64_t d : c.dims) tdims.push_back(1 - d);
    check_close(sum(xt, tdims), ref_reduce(R::sum, xt.sizes(), values_of(xt), tdims), 1e-5, 1e-5, "transposed");
  }
}

TEST_CASE("reductions: size-0, size-1 and 0-dim inputs") {
  Tensor e = tensor<float>(std::vector<float>{}, {0, 3});
  check_close(sum(e, {0}), {0, 0, 0}, 0, 0, "sum over empty dim");
  check_close(prod(e, {0}), {1, 1, 1}, 0, 0, "prod over empty dim");
  check_close(mean(e, {0}), {kNaN, kNaN, kNaN}, 0, 0, "mean over empty dim");
  check_close(var(e, {0}), {kNaN, kNaN, kNaN}, 0, 0, "var over empty dim");
  CHECK(sum(e, {1}).sizes() == Shape{0});
  CHECK(sum(e).item<float>() == 0);
  CHECK(sum(tensor<int32_t>(std::vector<int32_t>{}, {0})).item<int64_t>() == 0);
  CHECK(sum(e, {1}, true).sizes() == Shape{0, 1});

  Tensor one = tensor<float>({1, 2, 3, 4, 5}, {1, 5, 1});
  check_close(sum(one, {0, 2}), {1, 2, 3, 4, 5}, 0, 0, "size-1 dims");
  CHECK(sum(one, {0, 2}, true).sizes() == Shape{1, 5, 1});
  check_close(amax(one, {1}, true), {5}, 0, 0, "amax");
  CHECK(amax(one, {1}, true).sizes() == Shape{1, 1, 1});

  Tensor s = tensor<float>({2.5f}, {});
  CHECK(sum(s).item<float>() == 2.5f);
  CHECK(sum(s).dim() == 0);
  CHECK(amin(s).item<float>() == 2.5f);
  CHECK(argmax(s).item<int64_t>() == 0);
}

TEST_CASE("reductions: NaN propagates and var follows the correction") {
  std::vector<float> v(40, 1.0f);
  v[3] = 7;
  v[25] = NAN;  // past the 16-wide AVX2 block
  Tensor x = tensor<float>(v, {40});
  CHECK(std::isnan(amax(x).item<float>()));
  CHECK(std::isnan(amin(x).item<float>()));
  CHECK(std::isnan(sum(x).item<float>()));
  CHECK(argmax(x).item<int64_t>() == 25);
  CHECK(argmin(x).item<int64_t>() == 25);
  v[25] = 1;
  v[9] = INFINITY;
  x = tensor<float>(v, {40});
  CHECK(amax(x).item<float>() == INFINITY);
  CHECK(amin(x).item<float>() == 1.0f);

  Tensor t = tensor<double>({1, 2, 3}, {3});
  CHECK(var(t).item<double>() == doctest::Approx(1.0));
  CHECK(var(t, {}, false, 0).item<double>() == doctest::Approx(2.0 / 3));
  CHECK(duet::std(t, {}, false, 0).item<double>() == doctest::Approx(std::sqrt(2.0 / 3)));
  CHECK(std::isinf(var(t, {}, false, 3).item<double>()));
  CHECK(std::isinf(var(t, {}, false, 5).item<double>()));
  CHECK(std::isnan(var(tensor<double>({4}, {1})).item<double>()));  // 0 / 0
  check_close(var(tensor<float>({1, 2, 3, 4, 6, 8}, {2, 3}), {1}, true, 2), {2, 8}, 1e-6, 0, "correction 2");
}

TEST_CASE("argmax/argmin: first index on ties, dims, flattened, non-contiguous") {
  std::mt19937 rng(11);
  auto check_arg = [&](const Tensor& x, const char* what) {
    INFO(what, " ", dtype_name(x.dtype()));
    auto v = values_of(x);
    const Shape& sh = x.sizes();
    // Flattened.
    for (bool mx : {true, false}) {
      int64_t best = 0;
      for (size_t i = 1; i < v.size(); ++i)
        if (mx ? v[i] > v[size_t(best)] : v[i] < v[size_t(best)]) best = int64_t(i);
      Tensor got = mx ? argmax(x) : argmin(x);
      CHECK(got.dim() == 0);
      CHECK(got.item<int64_t>() == best);
      CHECK((mx ? argmax(x, std::nullopt, true) : argmin(x, std::nullopt, true)).sizes() == Shape(sh.size(), 1));
    }
    // Along each dim.
    for (int64_t d = 0; d < int64_t(sh.size()); ++d) {
      int64_t inner = 1;
      for (size_t k = size_t(d) + 1; k < sh.size(); ++k) inner *= sh[k];
      int64_t outer = int64_t(v.size()) / (inner * sh[size_t(d)]);
      for (bool mx : {true, false}) {
        std::vector<double> want;
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t i = 0; i < inner; ++i) {
            int64_t best = 0;
            for (int64_t k = 1; k < sh[size_t(d)]; ++k) {
              double a = v[size_t((o * sh[size_t(d)] + k) * inner + i)];
              double b = v[size_t((o * sh[size_t(d)] + best) * inner + i)];
              if (mx ? a > b : a < b) best = k;
            }
            want.push_back(double(best));
          }
        for (int threads : {1, 2}) {
          set_num_threads(threads);
          Tensor got = mx ? argmax(x, d) : argmin(x, d);
          CHECK(got.dtype() == DType::Int64);
          check_close(got, want, 0, 0, "along dim");
          CHECK((mx ? argmax(x, d - int64_t(sh.size()), true) : argmin(x, d, true)).dim() == int64_t(sh.size()));
        }
      }
    }
  };
  // Few distinct values, so ties are common.
  check_arg(make<float>({6, 9, 5}, rng, 0, 3, true), "contiguous");
  check_arg(make<float>({9, 6, 5}, rng, 0, 3, true).transpose(0, 1), "transposed");
  check_arg(make<double>({12, 9, 10}, rng, 0, 3, true).slice(0, 1, 12, 2).slice(2, 0, 10, 3), "sliced");
  check_arg(make<int32_t>({6, 1, 5}, rng, 0, 3, true).expand({6, 4, 5}), "expanded");
  check_arg(make<int64_t>({300, 200}, rng, -1000, 1000, true), "large");
  check_arg(make<Half>({6, 9, 5}, rng, 0, 3, true), "half");
  check_arg(make<BFloat16>({6, 9, 5}, rng, 0, 3, true), "bfloat16");
  // NaN: the first NaN, along a dim too.
  Tensor n = tensor<float>({1, NAN, 3, NAN, 2, 9}, {2, 3});
  check_close(argmax(n, 1), {1, 0}, 0, 0, "argmax nan");
  check_close(argmin(n, 1), {1, 0}, 0, 0, "argmin nan");
  check_close(argmax(n, 0), {1, 0, 1}, 0, 0, "argmax nan dim 0");
  check_close(argmin(n, 0), {1, 0, 0}, 0, 0, "argmin nan dim 0");
  CHECK(argmax(n).item<int64_t>() == 1);
}

TEST_CASE("sum: 10M float32 values accumulate far better than a naive float loop") {
  const int64_t n = 10'000'000;
  std::vector<float> v(static_cast<size_t>(n));
  double exact = 0;
  float naive = 0;
  for (int64_t i = 0; i < n; ++i) {
    v[size_t(i)] = 1.0f + float(i % 7) * 1e-3f;
    exact += double(v[size_t(i)]);
    naive += v[size_t(i)];
  }
  Tensor x = tensor<float>(v, {n});
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    double got = sum(x).item<float>();
    double err = std::abs(got - exact) / exact;
    double naive_err = std::abs(double(naive) - exact) / exact;
    INFO("threads ", threads, " rel err ", err, " naive rel err ", naive_err);
    CHECK(err < 1e-7);  // one float rounding of the exact sum
    CHECK(naive_err > 1e-3);
    CHECK(mean(x).item<float>() == doctest::Approx(exact / double(n)).epsilon(1e-7));
    // Strided and 2-D variants take other loops.
    CHECK(std::abs(sum(x.view({1000, 10000}), {1}).sum().item<float>() - exact) / exact < 1e-6);
    CHECK(std::abs(double(sum(x.slice(0, 0, n, 2)).item<float>()) - exact / 2) / exact < 1e-3);
  }
}

namespace {

std::vector<double> ref_softmax(const Tensor& x, int64_t dim, bool log_out) {
  auto v = values_of(x);
  const Shape& sh = x.sizes();
  if (dim < 0) dim += int64_t(sh.size());
  int64_t inner = 1;
  for (size_t k = size_t(dim) + 1; k < sh.size(); ++k) inner *= sh[k];
  int64_t n = sh[size_t(dim)], outer = int64_t(v.size()) / std::max<int64_t>(1, inner * n);
  std::vector<double> out(v.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t k) { return size_t((o * n + k) * inner + i); };
      double m = -kInf;
      for (int64_t k = 0; k < n; ++k) m = std::max(m, v[at(k)]);
      double s = 0;
      for (int64_t k = 0; k < n; ++k) s += std::exp(v[at(k)] - m);
      for (int64_t k = 0; k < n; ++k) out[at(k)] = log_out ? v[at(k)] - m - std::log(s) : std::exp(v[at(k)] - m) / s;
    }
  return out;
}

}  // namespace

TEST_CASE("softmax/log_softmax: against double, any dim and layout") {
  std::mt19937 rng(3);
  std::vector<std::pair<std::string, Tensor>> xs = {
      {"(128,10)", make<float>({128, 10}, rng, -20, 20)},
      {"(7,37)", make<float>({7, 37}, rng, -20, 20)},
      {"(3,4,50)", make<float>({3, 4, 50}, rng, -5, 5)},
      {"transposed", make<float>({37, 7}, rng, -20, 20).t()},
      {"sliced", make<float>({8, 80}, rng, -20, 20).slice(1, 0, 80, 2)},
      {"expanded", make<float>({1, 33}, rng, -3, 3).expand({5, 33})},
      {"float64", make<double>({6, 19}, rng, -30, 30)},
  };
  for (auto& [name, x] : xs) {
    for (int64_t dim = -int64_t(x.dim()); dim < x.dim(); ++dim) {
      for (bool log_out : {false, true}) {
        set_num_threads(1);
        Tensor y1 = log_out ? log_softmax(x, dim) : softmax(x, dim);
        set_num_threads(2);
        Tensor y2 = log_out ? log_softmax(x, dim) : softmax(x, dim);
        std::string what = name + " dim " + std::to_string(dim) + (log_out ? " log" : "");
        INFO(what);
        CHECK(y1.sizes() == x.sizes());
        CHECK(bitwise_equal(y1, y2));
        double tol = x.dtype() == DType::Float64 ? 1e-12 : 1e-6;
        check_close(y1, ref_softmax(x, dim, log_out), tol, log_out ? 1e-5 : 1e-7, what);
      }
    }
  }
  Tensor h = make<Half>({4, 9}, rng, -4, 4, true);
  check_close(softmax(h, 1), ref_softmax(h, 1, false), 2e-3, 1e-4, "half softmax");
  check_close(log_softmax(h, 0), ref_softmax(h, 0, true), 2e-3, 2e-3, "half log_softmax");
  Tensor b = make<BFloat16>({4, 9}, rng, -4, 4, true);
  check_close(softmax(b, 1), ref_softmax(b, 1, false), 1e-2, 1e-3, "bfloat16 softmax");
  // 0-dim and size-1 dims.
  CHECK(softmax(tensor<float>({3.0f}, {}), 0).item<float>() == 1.0f);
  CHECK(log_softmax(tensor<float>({3.0f}, {1, 1}), 1).item<float>() == 0.0f);
  CHECK(softmax(tensor<float>(std::vector<float>{}, {0, 4}), 1).sizes() == Shape{0, 4});
}

TEST_CASE("softmax: large logits and -inf entries stay finite and rows sum to 1") {
  const int64_t rows = 6, cols = 1000;
  std::vector<float> v(size_t(rows * cols));
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(990, 1010);
  for (auto& e : v) e = u(rng);
  for (int64_t c = 0; c < cols; c += 3) v[size_t(c)] = -INFINITY;  // row 0: every third is -inf
  for (int64_t c = 0; c < cols; ++c) v[size_t(cols + c)] = c == 17 ? 1000.0f : -INFINITY;  // row 1: one finite
  v[size_t(2 * cols + 5)] = NAN;                                                             // row 2: NaN
  for (int64_t c = 0; c < cols; ++c) v[size_t(3 * cols + c)] = -INFINITY;                    // row 3: all -inf
  Tensor x = tensor<float>(v, {rows, cols});
  Tensor p = softmax(x, 1), lp = log_softmax(x, -1);
  auto pv = values_of(p), lv = values_of(lp);
  auto want = ref_softmax(x, 1, false), lwant = ref_softmax(x, 1, true);
  for (int64_t r : {0, 1, 4, 5}) {
    double s = 0;
    for (int64_t c = 0; c < cols; ++c) {
      size_t i = size_t(r * cols + c);
      s += pv[i];
      CHECK(close(pv[i], want[i], 1e-5, 1e-9));
      CHECK(close(lv[i], lwant[i], 1e-6, 1e-4));
    }
    CHECK(s == doctest::Approx(1.0).epsilon(1e-5));
  }
  CHECK(pv[0] == 0.0);
  CHECK(lv[0] == -kInf);
  CHECK(pv[size_t(cols + 17)] == 1.0);
  CHECK(lv[size_t(cols + 17)] == 0.0);
  CHECK(pv[size_t(cols + 18)] == 0.0);
  CHECK(std::isnan(pv[size_t(2 * cols)]));
  CHECK(std::isnan(lv[size_t(2 * cols + 999)]));
  CHECK(std::isnan(pv[size_t(3 * cols)]));
  // The same through the double path (a strided view forces it).
  std::vector<float> vt(v.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) vt[size_t(c * rows + r)] = v[size_t(r * cols + c)];
  Tensor xs = tensor<float>(vt, {cols, rows}).t();
  check_close(softmax(xs, 1), values_of(p), 1e-5, 1e-9, "strided softmax");
}
