// Fused graph kernels against eager mode, bit for bit: every elementwise op the fuser
// accepts (graph/fusion.cpp fusable_elementwise_op) in chains such as op(x - y),
// op(x) * y and where(x > y, op(x), y), on contiguous, broadcast ([R, 1] x [1, C]),
// transposed and stepped inputs, lengths that leave every vector tail, and special values
// (NaN, infinities, signed zeros, subnormals, huge and tiny magnitudes, the branch points
// of exp/log/tanh/sigmoid/erf); reductions that absorb such chains (sum, mean, amax, amin
// over trailing dims, split rows included); and matmul + bias (+ relu | gelu) epilogues
// on every GEMM micro-kernel family, with stacked left operands. Each case checks from the
// compile report that the fusion it means to test happened. NaNs compare as "both NaN"
// (payloads may differ); everything else by its bits. ctest runs this binary twice: as
// is, and with DUET_NO_AVX512=1 (the AVX2 forms of the interpreter's and eager's vector
// bodies).
#include <doctest/doctest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "core/functions.h"
#include "graph/fusion.h"
#include "graph/graph.h"
#include "kernels/cpu/gemm.h"

using namespace duet;

namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// Values that sit on or near the edges of the kernels' formulas.
const std::vector<float>& special_values() {
  static const std::vector<float> v = {
      NAN, -NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1.0f, -1.0f, 0.5f, -0.5f, 2.0f, -2.0f,
      FLT_MIN, -FLT_MIN, 1e-40f, -1e-40f, 1.4e-45f, -1.4e-45f, FLT_MAX, -FLT_MAX, 1e30f, -1e30f, 1e-30f, -1e-30f,
      // exp: the fast path's |x| <= 87.5, overflow, the clamps, subnormal results
      87.5f, -87.5f, 87.49999f, -87.50001f, 88.72f, 88.73f, 88.8f, 89.0f, -87.34f, -100.0f, -103.97f, -104.0f,
      -104.1f, -150.0f,
      // tanh: the series below 0.4, saturation; sigmoid's tails
      0.4f, -0.4f, 0.39999998f, 0.40000004f, 9.01f, -9.01f, 16.6f, -16.6f, 44.0f, -44.0f,
      // log: m around sqrt(2), FLT_MIN's rescaling, negatives
      1.4142135f, 1.4142137f, 0.70710677f, 0.7071068f, 1.1754942e-38f, -4.0f, 3.0f, 1e-8f, -1e-8f,
      // erf: the series below 0.5, saturation from 3.92; gelu's x / sqrt(2) at those points
      0.49999997f, -0.49999997f, 3.9199998f, -3.92f, 0.70710677f, 5.5437f, -5.5437f, -13.0f};
  return v;
}

// n values: a quarter special, the rest normal draws at several scales (deterministic).
std::vector<float> mixed_values(int64_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const float scales[] = {1.0f, 3.0f, 30.0f, 1e-3f, 1e4f};
  const auto& sp = special_values();
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    uint32_t r = gen();
    v[size_t(i)] = r % 4 == 0 ? sp[(r >> 2) % sp.size()] : normal(gen) * scales[(r >> 2) % 5];
  }
  return v;
}

Tensor mixed(const Shape& shape, uint32_t seed) { return tensor(mixed_values(numel_of(shape), seed), shape); }

// Elements whose bits differ (both NaN counts as equal).
int64_t differing(const Tensor& want, const Tensor& got) {
  REQUIRE(want.sizes() == got.sizes());
  REQUIRE(want.dtype() == got.dtype());
  if (want.dtype() == DType::Bool) {
    auto a = want.to_vector<bool>(), b = got.to_vector<bool>();
    int64_t d = 0;
    for (size_t i = 0; i < a.size(); ++i) d += a[i] != b[i];
    return d;
  }
  auto a = want.to_vector<float>(), b = got.to_vector<float>();
  int64_t d = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (!(std::isnan(a[i]) && std::isnan(b[i])) && std::memcmp(&a[i], &b[i], 4) != 0) ++d;
  return d;
}

// Differing elements per label, reported once per test case (one line per label).
struct Tally {
  std::map<std::string, std::pair<int64_t, int64_t>> rows;  // label -> (differing, compared)
  void add(const std::string& label, int64_t diff, int64_t total) {
    rows[label].first += diff;
    rows[label].second += total;
  }
  void report() const {
    for (const auto& [label, c] : rows)
      CHECK_MESSAGE(c.first == 0, label, ": ", c.first, " of ", c.second, " elements differ from eager");
  }
};

enum class Expect { Elementwise, Reduction, Matmul };

// Runs f eagerly and compiled on `in`; checks that the compile report shows the fusion
// and returns how many elements differ.
int64_t compare(const Fn& f, const std::vector<Tensor>& in, Expect expect, int64_t& total) {
  Tensor want = f(in);
  auto compiled = graph::compile([&](const std::vector<Tensor>& v) { return std::vector<Tensor>{f(v)}; },
                                 {.warmup_calls = 0});
  Tensor got = compiled(in)[0];
  const graph::CompileReport& r = compiled.report();
  // The whole function is the one fused kernel under test.
  INFO(r.str());
  REQUIRE(r.kernels == 1);
  switch (expect) {
    case Expect::Elementwise: REQUIRE(r.elementwise_groups == 1); break;
    case Expect::Reduction: REQUIRE(r.reduction_prologues == 1); break;
    case Expect::Matmul: REQUIRE(r.matmul_epilogues == 1); break;
  }
  total = want.numel();
  return differing(want, got);
}

struct Op {
  OpKind kind;  // the fusable op under test
  std::string name;
  std::function<Tensor(const Tensor&, const Tensor&)> f;  // unary ops ignore the second
  bool bool_result;
};

std::vector<Op> fusable_ops() {
  using T = const Tensor&;
  using K = OpKind;
  auto u = [](K k, const char* name, std::function<Tensor(T)> f, bool b = false) {
    return Op{k, name, [f](T x, T) { return f(x); }, b};
  };
  auto bin = [](K k, const char* name, std::function<Tensor(T, T)> f, bool b = false) { return Op{k, name, f, b}; };
  return {
      u(K::neg, "neg", [](T x) { return neg(x); }),
      u(K::abs, "abs", [](T x) { return abs(x); }),
      u(K::square, "square", [](T x) { return square(x); }),
      u(K::relu, "relu", [](T x) { return relu(x); }),
      u(K::exp, "exp", [](T x) { return exp(x); }),
      u(K::log, "log", [](T x) { return log(x); }),
      u(K::sqrt, "sqrt", [](T x) { return sqrt(x); }),
      u(K::rsqrt, "rsqrt", [](T x) { return rsqrt(x); }),
      u(K::reciprocal, "reciprocal", [](T x) { return reciprocal(x); }),
      u(K::tanh, "tanh", [](T x) { return tanh(x); }),
      u(K::sigmoid, "sigmoid", [](T x) { return sigmoid(x); }),
      u(K::silu, "silu", [](T x) { return silu(x); }),
      u(K::erf, "erf", [](T x) { return erf(x); }),
      u(K::gelu, "gelu", [](T x) { return gelu(x); }),
      u(K::gelu, "gelu (tanh)", [](T x) { return gelu(x, "tanh"); }),
      u(K::clamp, "clamp(-1, 2)", [](T x) { return clamp(x, -1.0, 2.0); }),
      u(K::clamp, "clamp(0, -)", [](T x) { return clamp(x, 0.0, std::nullopt); }),
      u(K::clamp, "clamp(-, -0)", [](T x) { return clamp(x, std::nullopt, -0.0); }),
      u(K::clamp, "clamp(nan, 1)", [](T x) { return clamp(x, double(NAN), 1.0); }),
      u(K::copy, "copy (clone)", [](T x) { return x.clone(); }),
      u(K::cast, "cast to bool", [](T x) { return cast(x, DType::Bool); }, true),
      u(K::cast, "cast bool to float", [](T x) { return cast(gt(x, scalar_like(0.5, x)), DType::Float32); }),
      u(K::logical_not, "logical_not", [](T x) { return logical_not(x); }, true),
      bin(K::add, "add", [](T a, T b) { return add(a, b); }),
      bin(K::sub, "sub", [](T a, T b) { return sub(a, b); }),
      bin(K::mul, "mul", [](T a, T b) { return mul(a, b); }),
      bin(K::div, "div", [](T a, T b) { return div(a, b); }),
      bin(K::maximum, "maximum", [](T a, T b) { return maximum(a, b); }),
      bin(K::minimum, "minimum", [](T a, T b) { return minimum(a, b); }),
      bin(K::eq, "eq", [](T a, T b) { return eq(a, b); }, true),
      bin(K::ne, "ne", [](T a, T b) { return ne(a, b); }, true),
      bin(K::lt, "lt", [](T a, T b) { return lt(a, b); }, true),
      bin(K::le, "le", [](T a, T b) { return le(a, b); }, true),
      bin(K::gt, "gt", [](T a, T b) { return gt(a, b); }, true),
      bin(K::ge, "ge", [](T a, T b) { return ge(a, b); }, true),
      bin(K::logical_and, "logical_and", [](T a, T b) { return logical_and(a, b); }, true),
      bin(K::logical_or, "logical_or", [](T a, T b) { return logical_or(a, b); }, true),
      bin(K::where, "where(a > 0, a, b)", [](T a, T b) { return where(gt(a, zeros_like(a)), a, b); }),
  };
}

// Chains around op: every one is a single fused group of two or more ops.
struct Chain {
  std::string name;
  std::function<Tensor(const Op&, const Tensor&, const Tensor&, const Tensor&)> f;
};

std::vector<Chain> chains() {
  using T = const Tensor&;
  return {
      {"op(x - y, z)", [](const Op& op, T x, T y, T z) { return op.f(x - y, z); }},
      {"op(x, y) then * z or where",
       [](const Op& op, T x, T y, T z) {
         Tensor r = op.f(x, y);
         return op.bool_result ? where(r, z, x) : r * z;
       }},
      {"where(x > y, op(x, z), y)",
       [](const Op& op, T x, T y, T z) {
         Tensor r = op.f(x, z);
         if (op.bool_result) r = cast(r, DType::Float32);
         return where(gt(x, y), r, y);
       }},
  };
}

// Inputs of one layout: x, y, z, each of the group's shape after the view the chain's
// function takes (`view` maps the fed tensor to the operand).
struct Layout {
  std::string name;
  std::vector<Shape> shapes;                                // what is fed to the compiled function
  std::function<std::vector<Tensor>(const std::vector<Tensor>&)> view;  // inside the function
};

std::vector<Layout> layouts() {
  auto same = [](const std::vector<Tensor>& v) { return v; };
  std::vector<Layout> out;
  for (int64_t n = 1; n <= 40; ++n) out.push_back({"contiguous [" + std::to_string(n) + "]", {{n}, {n}, {n}}, same});
  for (int64_t n : {63, 64, 65, 511, 512, 513, 1000, 1031, 4100, 40000})
    out.push_back({"contiguous [" + std::to_string(n) + "]", {{n}, {n}, {n}}, same});
  for (auto [R, C] : std::vector<std::pair<int64_t, int64_t>>{{3, 10}, {128, 10}, {7, 33}, {5, 200}, {2, 513}, {300, 3}}) {
    std::string rc = std::to_string(R) + ", " + std::to_string(C);
    out.push_back({"broadcast [" + rc + "] [" + std::to_string(R) + ", 1] [1, " + std::to_string(C) + "]",
                   {{R, C}, {R, 1}, {1, C}}, same});
    out.push_back({"transposed x [" + rc + "]", {{C, R}, {R, C}, {R, C}},
                   [](const std::vector<Tensor>& v) { return std::vector<Tensor>{v[0].t(), v[1], v[2]}; }});
    out.push_back({"stepped x and broadcast z [" + rc + "]", {{R, 2 * C + 1}, {R, C}, {C}},
                   [C](const std::vector<Tensor>& v) {
                     return std::vector<Tensor>{v[0].slice(1, 1, 2 * C + 1, 2), v[1], v[2]};
                   }});
  }
  return out;
}

}  // namespace

TEST_CASE("every fusable elementwise op in fused chains gives eager's bits") {
  Tally tally;
  uint32_t seed = 1;
  const auto ops = fusable_ops();
  for (int k = 0; k < kNumOps; ++k)  // a new fusable op needs a row above
    if (graph::fusable_elementwise_op(OpKind(k)))
      CHECK_MESSAGE(std::any_of(ops.begin(), ops.end(), [k](const Op& op) { return op.kind == OpKind(k); }),
                    op_name(OpKind(k)), " is fusable but not tested here");
  const auto all_chains = chains();
  for (const Layout& layout : layouts()) {
    std::vector<Tensor> in;
    for (const Shape& s : layout.shapes) in.push_back(mixed(s, seed++));
    for (const Op& op : ops)
      for (const Chain& chain : all_chains) {
        Fn f = [&](const std::vector<Tensor>& v) {
          std::vector<Tensor> w = layout.view(v);
          return chain.f(op, w[0], w[1], w[2]);
        };
        int64_t total = 0;
        const int64_t d = compare(f, in, Expect::Elementwise, total);
        tally.add(op.name + " / " + chain.name, d, total);
        if (d) tally.add(op.name + " [any chain] on " + layout.name, d, total);
      }
  }
  tally.report();
}

TEST_CASE("ties and signed zeros: maximum, minimum, comparisons, clamp") {
  // Pairs drawn from a tiny set so that ties (0 vs -0 included) are common.
  Tally tally;
  const float pool[] = {0.0f, -0.0f, 1.0f, -1.0f, NAN, INFINITY, -INFINITY, 1e-40f, -1e-40f};
  std::mt19937 gen(5);
  for (int64_t n : {1, 7, 8, 9, 15, 16, 17, 100, 513}) {
    std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n)), c(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      a[size_t(i)] = pool[gen() % 9];
      b[size_t(i)] = pool[gen() % 9];
      c[size_t(i)] = pool[gen() % 9];
    }
    const std::vector<Tensor> in = {tensor(a), tensor(b), tensor(c)};
    for (const Op& op : fusable_ops()) {
      Fn f = [&](const std::vector<Tensor>& v) {
        Tensor r = op.f(v[0] * v[2], v[1]);
        return op.bool_result ? where(r, v[0], v[1]) : r;
      };
      int64_t total = 0;
      const int64_t d = compare(f, in, Expect::Elementwise, total);
      tally.add(op.name + " on ties", d, total);
    }
  }
  tally.report();
}

TEST_CASE("bool inputs and bool results inside fused groups") {
  // A bool operand from outside the group is loaded as 0/1; comparisons of bools with
  // bools or floats, logical ops and where on such masks.
  Tally tally;
  using T = const Tensor&;
  const std::vector<std::pair<const char*, std::function<Tensor(T, T, T, T)>>> programs = {
      {"where(m, op, y)", [](T m, T, T x, T y) { return where(m, silu(x) - y, maximum(x, y)); }},
      {"logical ops on masks", [](T m, T k, T x, T y) { return logical_or(logical_and(m, gt(x, y)), logical_not(k)); }},
      {"bool comparisons", [](T m, T k, T x, T y) { return logical_and(lt(m, k), ne(k, le(x, y))); }},
      {"mask times float", [](T m, T k, T x, T y) { return cast(m, DType::Float32) * x + cast(eq(m, k), DType::Float32) * y; }},
      {"float to bool and back", [](T m, T, T x, T y) { return where(cast(x - y, DType::Bool), x, cast(m, DType::Float32)); }},
  };
  for (int64_t n : {1, 7, 9, 100, 513, 4099}) {
    std::vector<float> a = mixed_values(n, uint32_t(n)), b = mixed_values(n, uint32_t(n + 1));
    std::vector<bool> m(static_cast<size_t>(n)), k(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      m[size_t(i)] = (i * 7) % 3 == 0;
      k[size_t(i)] = (i * 5) % 4 < 2;
    }
    const std::vector<Tensor> in = {tensor(m), tensor(k), tensor(a), tensor(b)};
    for (const auto& [name, g] : programs) {
      Fn f = [&](const std::vector<Tensor>& v) { return g(v[0], v[1], v[2], v[3]); };
      int64_t total = 0;
      const int64_t d = compare(f, in, Expect::Elementwise, total);
      tally.add(name, d, total);
    }
  }
  tally.report();
}

namespace {

// Rows whose double sums depend on the order of the additions (magnitudes 1e-20..1e20),
// rows of signed zeros and negatives (amax's tie between 0 and -0), and NaN/inf rows.
Tensor reduction_values(const Shape& shape, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  std::uniform_int_distribution<int> exponent(-20, 20);
  const int64_t n = numel_of(shape), row = shape.back();
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = i / row;
    float x;
    switch (r % 5) {
      case 0: x = unit(gen) * std::pow(10.0f, float(exponent(gen))); break;
      case 1: x = (gen() % 3 == 0) ? -0.0f : (gen() % 2 ? 0.0f : -float(gen() % 4)); break;
      case 2: x = unit(gen) * 3.0f; break;
      case 3:  // large values that cancel in pairs, and small ones whose survival depends on the order
        x = i % 2 ? unit(gen) : std::pow(10.0f, float(10 + (i / 4) % 11)) * (i % 4 ? -1.0f : 1.0f);
        break;
      default: x = i % 97 == 5 ? NAN : (i % 89 == 3 ? INFINITY : unit(gen) * 1e6f); break;
    }
    v[size_t(i)] = x;
  }
  return tensor(v, shape);
}

}  // namespace

TEST_CASE("reductions absorbing elementwise chains give eager's bits") {
  Tally tally;
  using T = const Tensor&;
  struct Prologue {
    const char* name;
    std::function<Tensor(T, T)> f;
  };
  const std::vector<Prologue> prologues = {
      {"x * y", [](T x, T y) { return x * y; }},
      {"exp(x) * y", [](T x, T y) { return exp(x) * y; }},
      {"square(x - y)", [](T x, T y) { return square(x - y); }},
      {"neg(x)", [](T x, T) { return neg(x); }},
      {"maximum(x * y, x * 0)", [](T x, T y) { return maximum(x * y, x * scalar_like(0.0, x)); }},
  };
  struct Reduce {
    const char* name;
    std::function<Tensor(T, std::vector<int64_t>, bool)> f;
  };
  const std::vector<Reduce> reduces = {
      {"sum", [](T x, std::vector<int64_t> d, bool k) { return sum(x, d, k); }},
      {"mean", [](T x, std::vector<int64_t> d, bool k) { return mean(x, d, k); }},
      {"amax", [](T x, std::vector<int64_t> d, bool k) { return amax(x, d, k); }},
      {"amin", [](T x, std::vector<int64_t> d, bool k) { return amin(x, d, k); }},
  };
  struct Case {
    Shape x, y;
    std::vector<int64_t> dims;
  };
  std::vector<Case> cases;
  for (int64_t c : {1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 36, 63, 64, 100, 511, 512, 513, 1000, 4099})
    cases.push_back({{8, c}, {8, c}, {1}});
  cases.push_back({{5, 70001}, {5, 70001}, {1}});      // few rows, long: eager splits them in blocks
  cases.push_back({{1, 100000}, {1, 100000}, {0, 1}}); // every dim
  cases.push_back({{12, 3, 50}, {12, 1, 50}, {1, 2}}); // runs cut by a broadcast operand
  cases.push_back({{4, 9, 700}, {4, 9, 1}, {2}});
  cases.push_back({{20, 33}, {33}, {1}});              // many rows
  uint32_t seed = 100;
  for (const Case& c : cases)
    for (const Prologue& p : prologues)
      for (const Reduce& r : reduces)
        for (bool keepdim : {false, true}) {
          const std::vector<Tensor> in = {reduction_values(c.x, seed), reduction_values(c.y, seed + 1)};
          ++seed;
          Fn f = [&](const std::vector<Tensor>& v) { return r.f(p.f(v[0], v[1]), c.dims, keepdim); };
          const std::string what = std::string(r.name) + "(" + p.name + ") over " + shape_str(c.x);
          INFO(what);
          int64_t total = 0;
          const int64_t d = compare(f, in, Expect::Reduction, total);
          std::ostringstream label;
          label << r.name << "(" << p.name << ")";
          tally.add(label.str(), d, total);
          if (d) tally.add(label.str() + " over " + shape_str(c.x), d, total);
        }
  tally.report();
}

TEST_CASE("reductions over transposed, stepped and broadcast views") {
  // The prologue reads views: its runs are strided (gathered into tiles) or cut by a
  // broadcast operand, so each row arrives in pieces of every length.
  Tally tally;
  uint32_t seed = 500;
  for (auto [R, C] : std::vector<std::pair<int64_t, int64_t>>{{8, 33}, {5, 1000}, {3, 70001}, {40, 7}}) {
    // x is fed transposed, so x^T has reduction_values' rows (cancelling sums, signed zeros).
    const std::vector<Tensor> in = {reduction_values({R, C}, seed).t().contiguous(),
                                    reduction_values({R, 2 * C}, seed + 1), reduction_values({R, 1}, seed + 2)};
    seed += 3;
    using T = const Tensor&;
    const std::vector<std::pair<const char*, std::function<Tensor(T, T, T)>>> programs = {
        {"sum(x^T * y[:, ::2])", [C](T x, T y, T) { return sum(x.t() * y.slice(1, 0, 2 * C, 2), {1}); }},
        {"mean(x^T - b)", [](T x, T, T b) { return mean(x.t() - b, {1}); }},
        {"amax(y[:, 1::2] * b)", [C](T, T y, T b) { return amax(y.slice(1, 1, 2 * C, 2) * b, {1}); }},
        {"amin(neg(x^T))", [](T x, T, T) { return amin(neg(x.t()), {1}); }},
    };
    for (const auto& [name, g] : programs) {
      Fn f = [&](const std::vector<Tensor>& v) { return g(v[0], v[1], v[2]); };
      int64_t total = 0;
      const int64_t d = compare(f, in, Expect::Reduction, total);
      tally.add(name, d, total);
    }
  }
  tally.report();
}

namespace {

// Matmul operands where the products underflow to -0 in some rows (x ~ 1e-30, w < 0), the
// bias holds -0 and the sum of some columns is exactly zero, plus NaN and inf entries.
std::vector<Tensor> matmul_inputs(int64_t M, int64_t K, int64_t N, bool w_transposed, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(M * K)), w(static_cast<size_t>(K * N)), b(static_cast<size_t>(N));
  for (int64_t i = 0; i < M; ++i)
    for (int64_t k = 0; k < K; ++k) {
      float v = normal(gen);
      if (i % 4 == 1) v = 1e-30f * std::fabs(v);  // products of 1e-30 and below: -0 or +0 sums
      if (i % 4 == 2) v = 0.0f;
      if (i % 17 == 5 && k == K / 2) v = NAN;
      x[size_t(i * K + k)] = v;
    }
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < N; ++j) {
      float v = normal(gen);
      if (j % 3 == 0) v = -1e-30f * std::fabs(v);
      if (j % 29 == 7 && k == 0) v = INFINITY;
      w[size_t(w_transposed ? j * K + k : k * N + j)] = v;
    }
  for (int64_t j = 0; j < N; ++j) b[size_t(j)] = j % 2 ? -0.0f : normal(gen);
  return {tensor(x, {M, K}), w_transposed ? tensor(w, {N, K}) : tensor(w, {K, N}), tensor(b, {N})};
}

}  // namespace

TEST_CASE("matmul + bias (+ relu | gelu) epilogues give eager's bits on every GEMM family") {
  using cpu::detail::GemmIsa;
  Tally tally;
  struct Dims {
    int64_t M, K, N;
  };
  const std::vector<Dims> dims = {{1, 1, 1},   {4, 3, 5},     {128, 784, 256}, {128, 256, 128}, {128, 128, 10},
                                  {7, 1500, 20}, {200, 37, 20}, {3, 2100, 40},   {64, 50, 17},    {300, 20, 3}};
  const cpu::GemmBackend backend = cpu::get_gemm_backend();
  std::vector<std::pair<std::string, std::function<void()>>> setups;
  for (GemmIsa isa : {GemmIsa::Avx512, GemmIsa::Avx2, GemmIsa::Scalar})
    setups.push_back({"duet isa " + std::to_string(int(isa)), [isa] {
                        cpu::set_gemm_backend(cpu::GemmBackend::Duet);
                        cpu::detail::set_gemm_isa_limit(isa);
                      }});
  for (cpu::GemmBackend b : {cpu::GemmBackend::OpenBLAS, cpu::GemmBackend::Eigen})
    if (cpu::gemm_backend_available(b))
      setups.push_back({cpu::gemm_backend_name(b), [b] {
                          cpu::detail::set_gemm_isa_limit(GemmIsa::Avx512);
                          cpu::set_gemm_backend(b);
                        }});
  const std::vector<std::pair<std::string, std::function<Tensor(const Tensor&)>>> activations = {
      {"", [](const Tensor& y) { return y; }},
      {"+relu", [](const Tensor& y) { return relu(y); }},
      {"+gelu", [](const Tensor& y) { return gelu(y); }},
      {"+gelu(tanh)", [](const Tensor& y) { return gelu(y, "tanh"); }}};
  uint32_t seed = 7;
  for (const auto& [setup_name, setup] : setups) {
    setup();
    for (const Dims& d : dims)
      for (bool wt : {false, true})
        for (const auto& [act_name, act] : activations)
          for (bool stacked : {false, true}) {  // stacked: x as [2, M/2, K], the rows folded
            if (stacked && d.M % 2) continue;
            const std::vector<Tensor> in = matmul_inputs(d.M, d.K, d.N, wt, seed++);
            Fn f = [&](const std::vector<Tensor>& v) {
              const Tensor x = stacked ? v[0].reshape({2, d.M / 2, d.K}) : v[0];
              return act(matmul(x, wt ? v[1].t() : v[1]) + v[2]);
            };
            int64_t total = 0;
            const int64_t diff = compare(f, in, Expect::Matmul, total);
            const std::string label = "matmul+bias" + act_name + (stacked ? " stacked" : "") + " (" + setup_name + ")";
            tally.add(label, diff, total);
            if (diff)
              tally.add(label + " " + std::to_string(d.M) + "x" + std::to_string(d.K) + "x" + std::to_string(d.N) +
                            (wt ? " w^T" : ""),
                        diff, total);
          }
  }
  cpu::detail::set_gemm_isa_limit(GemmIsa::Avx512);
  cpu::set_gemm_backend(backend);
  tally.report();
}

TEST_CASE("a stacked left operand whose rows do not fold is no matmul epilogue, and computes eager's values") {
  const std::vector<Tensor> in = matmul_inputs(8, 5, 6, false, 3);
  // [4, 2, 5] transposed to [2, 4, 5]: rows 2 elements x 5 apart within a block, but the
  // blocks are 5 apart, not 4 x 10.
  Fn f = [](const std::vector<Tensor>& v) { return gelu(matmul(v[0].reshape({4, 2, 5}).transpose(0, 1), v[1]) + v[2]); };
  Tensor want = f(in);
  auto compiled = graph::compile([&](const std::vector<Tensor>& v) { return std::vector<Tensor>{f(v)}; },
                                 {.warmup_calls = 0});
  Tensor got = compiled(in)[0];
  CHECK(compiled.report().matmul_epilogues == 0);
  CHECK(differing(want, got) == 0);
}
