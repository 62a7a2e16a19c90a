// Op-table cases for the elementwise ops: unary (incl. clamp, cast, copy), binary with
// NumPy broadcasting and type promotion, and where. Expected values are computed in
// double by reference_ops.h from the inputs as stored.
#include <cmath>
#include <numbers>
#include <stdexcept>

#include "tests/reference/op_cases.h"

namespace duet::cases {
namespace {

enum class UnaryKind { Same, Float, Bool };  // output dtype: input's (not bool), floating, bool

struct UnarySpec {
  UnaryKind kind;
  Domain dom;
  std::function<double(double)> f;
};

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

UnarySpec unary_spec(OpKind op, const Attrs& attrs) {
  using K = UnaryKind;
  const Domain wide = domain(-4, 4);
  switch (op) {
    case OpKind::neg: return {K::Same, wide, [](double x) { return -x; }};
    case OpKind::abs: return {K::Same, wide, [](double x) { return std::fabs(x); }};
    case OpKind::sign: return {K::Same, domain(-2, 2, 0.5), [](double x) { return double((x > 0) - (x < 0)); }};
    case OpKind::square: return {K::Same, wide, [](double x) { return x * x; }};
    case OpKind::floor: return {K::Same, domain(-4, 4, 0.25), [](double x) { return std::floor(x); }};
    case OpKind::ceil: return {K::Same, domain(-4, 4, 0.25), [](double x) { return std::ceil(x); }};
    // Halves exercise round-half-to-even (PyTorch's rule).
    case OpKind::round: return {K::Same, domain(-4, 4, 0.5), [](double x) { return std::nearbyint(x); }};
    case OpKind::relu: return {K::Same, wide, [](double x) { return x > 0 ? x : 0.0; }};
    case OpKind::exp: return {K::Float, domain(-5, 5), [](double x) { return std::exp(x); }};
    case OpKind::expm1: return {K::Float, domain(-2, 2), [](double x) { return std::expm1(x); }};
    case OpKind::log: return {K::Float, domain(0.05, 10), [](double x) { return std::log(x); }};
    case OpKind::log1p: return {K::Float, domain(-0.9, 5), [](double x) { return std::log1p(x); }};
    case OpKind::sqrt: return {K::Float, domain(0, 10), [](double x) { return std::sqrt(x); }};
    case OpKind::rsqrt: return {K::Float, domain(0.05, 10), [](double x) { return 1.0 / std::sqrt(x); }};
    case OpKind::reciprocal: return {K::Float, domain(-5, 5, 0, 0.2), [](double x) { return 1.0 / x; }};
    case OpKind::sin: return {K::Float, domain(-6, 6), [](double x) { return std::sin(x); }};
    case OpKind::cos: return {K::Float, domain(-6, 6), [](double x) { return std::cos(x); }};
    case OpKind::tanh: return {K::Float, domain(-5, 5), [](double x) { return std::tanh(x); }};
    case OpKind::sigmoid: return {K::Float, domain(-8, 8), sigmoid};
    case OpKind::erf: return {K::Float, domain(-3, 3), [](double x) { return std::erf(x); }};
    case OpKind::gelu:
      if (attrs.get_or<std::string>("approximate", "none") == "tanh")
        return {K::Float, domain(-5, 5), [](double x) {
                  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
                }};
      return {K::Float, domain(-5, 5), [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }};
    case OpKind::silu: return {K::Float, domain(-6, 6), [](double x) { return x * sigmoid(x); }};
    case OpKind::logical_not: return {K::Bool, domain(-1, 1, 1), [](double x) { return x == 0 ? 1.0 : 0.0; }};
    case OpKind::clamp: {
      double lo = attrs.has("min") ? attrs.get_number("min") : -INFINITY;
      double hi = attrs.has("max") ? attrs.get_number("max") : INFINITY;
      return {K::Same, wide, [lo, hi](double x) { return std::min(std::max(x, lo), hi); }};
    }
    case OpKind::copy: return {K::Same, wide, [](double x) { return x; }};
    default: break;
  }
  throw std::logic_error("unary_spec: not a unary op");
}

struct ShapeLayout {
  Shape shape;
  Layout layout;
};
// 0-dim, size 0, size-1 dims, contiguous, every non-contiguous layout, a vector tail.
const std::vector<ShapeLayout> kUnaryShapes = {
    {{}, Layout::Contiguous},         {{0, 3}, Layout::Contiguous},     {{1, 1, 7}, Layout::Contiguous},
    {{3, 4, 5}, Layout::Contiguous},  {{3, 4, 5}, Layout::Transposed},  {{5, 6}, Layout::Strided},
    {{4, 3, 6}, Layout::Expanded},    {{1031}, Layout::Contiguous},
};
const std::vector<ShapeLayout> kShortShapes = {
    {{}, Layout::Contiguous}, {{3, 4, 5}, Layout::Contiguous}, {{3, 4, 5}, Layout::Transposed}, {{5, 6}, Layout::Strided}};
constexpr int64_t kBig = (1 << 16) + 5;  // above the kernels' parallel grain

bool is_short_dtype(DType dt) { return dt == DType::Float16 || dt == DType::BFloat16 || dt == DType::Bool; }

void cast_cases(const CaseSink& sink) {
  Inputs in(11);
  for (DType from : kAllDTypes)
    for (DType to : kAllDTypes)
      for (const auto& sl : kShortShapes) {
        Tensor x = in.make(from, sl.shape, sl.layout, domain(-3, 3, 0.25));
        // Float to integer truncates toward zero; anything to bool is "non-zero".
        RefTensor want = ref::unary(ref::read(x), to, [to](double v) {
          return to == DType::Bool ? double(v != 0) : ref::is_float(to) ? v : std::trunc(v);
        });
        sink({describe(from, sl.shape, sl.layout) + " -> " + dtype_name(to), {x}, Attrs().set("dtype", to), want,
              ref::default_tol(to)});
      }
  Tensor big = in.make(DType::Float32, {kBig}, Layout::Contiguous, domain(-100, 100));
  sink({"float32 -> int32 large", {big}, Attrs().set("dtype", DType::Int32),
        ref::unary(ref::read(big), DType::Int32, [](double v) { return std::trunc(v); }), {}, false, true});
}

}  // namespace

void unary_cases(OpKind op, const CaseSink& sink) {
  if (op == OpKind::cast) return cast_cases(sink);
  std::vector<Attrs> variants = {Attrs()};
  if (op == OpKind::gelu) variants = {Attrs(), Attrs().set("approximate", "none"), Attrs().set("approximate", "tanh")};
  if (op == OpKind::clamp)
    variants = {Attrs().set("min", -1.0).set("max", 2.0), Attrs().set("min", 0.0), Attrs().set("max", -1.0),
                Attrs().set("min", 1.0).set("max", 1.0)};
  Inputs in(uint32_t(op) * 7919 + 1);
  for (const Attrs& attrs : variants) {
    UnarySpec spec = unary_spec(op, attrs);
    std::string suffix = attrs.items().empty() ? "" : " (" + attrs.str() + ")";
    for (DType dt : kAllDTypes) {
      if (dt == DType::Bool && spec.kind == UnaryKind::Same && op != OpKind::copy) continue;  // rejected
      DType out = spec.kind == UnaryKind::Bool ? DType::Bool
                  : spec.kind == UnaryKind::Float && !ref::is_float(dt) ? DType::Float32
                                                                         : dt;
      ref::Tol tol = ref::default_tol(out);
      if (spec.kind == UnaryKind::Float) tol = ref::scaled(tol, 2);  // transcendental approximations
      for (const auto& sl : is_short_dtype(dt) ? kShortShapes : kUnaryShapes) {
        Tensor x = in.make(dt, sl.shape, sl.layout, spec.dom);
        sink({describe(dt, sl.shape, sl.layout) + suffix, {x}, attrs, ref::unary(ref::read(x), out, spec.f), tol});
      }
    }
    Tensor big = in.make(DType::Float32, {kBig}, Layout::Contiguous, spec.dom);
    DType big_out = spec.kind == UnaryKind::Bool ? DType::Bool : DType::Float32;
    sink({"float32 large" + suffix, {big}, attrs, ref::unary(ref::read(big), big_out, spec.f),
          ref::scaled(ref::default_tol(big_out), 2), false, true});
  }
}

namespace {

enum class BinaryKind { Arith, Compare };

struct BinarySpec {
  BinaryKind kind;
  Domain a, b;
  std::function<double(double, double)> f;
};

BinarySpec binary_spec(OpKind op) {
  using K = BinaryKind;
  Domain d = domain(-5, 5);
  Domain ties = domain(-2, 2, 1);  // integer-valued: equal pairs are common
  switch (op) {
    case OpKind::add: return {K::Arith, d, d, [](double a, double b) { return a + b; }};
    case OpKind::sub: return {K::Arith, d, d, [](double a, double b) { return a - b; }};
    case OpKind::mul: return {K::Arith, d, d, [](double a, double b) { return a * b; }};
    case OpKind::div: return {K::Arith, d, domain(-4, 4, 0, 0.5), [](double a, double b) { return a / b; }};
    case OpKind::pow: {
      Domain base = domain(0.25, 3), expo = domain(-2, 3);
      expo.int_lo = 0;  // integers to negative powers are an error in PyTorch
      return {K::Arith, base, expo, [](double a, double b) { return std::pow(a, b); }};
    }
    case OpKind::maximum: return {K::Arith, domain(-3, 3, 0.5), domain(-3, 3, 0.5), [](double a, double b) { return std::max(a, b); }};
    case OpKind::minimum: return {K::Arith, domain(-3, 3, 0.5), domain(-3, 3, 0.5), [](double a, double b) { return std::min(a, b); }};
    case OpKind::eq: return {K::Compare, ties, ties, [](double a, double b) { return double(a == b); }};
    case OpKind::ne: return {K::Compare, ties, ties, [](double a, double b) { return double(a != b); }};
    case OpKind::lt: return {K::Compare, ties, ties, [](double a, double b) { return double(a < b); }};
    case OpKind::le: return {K::Compare, ties, ties, [](double a, double b) { return double(a <= b); }};
    case OpKind::gt: return {K::Compare, ties, ties, [](double a, double b) { return double(a > b); }};
    case OpKind::ge: return {K::Compare, ties, ties, [](double a, double b) { return double(a >= b); }};
    case OpKind::logical_and:
      return {K::Compare, domain(-1, 1, 1), domain(-1, 1, 1), [](double a, double b) { return double(a != 0 && b != 0); }};
    case OpKind::logical_or:
      return {K::Compare, domain(-1, 1, 1), domain(-1, 1, 1), [](double a, double b) { return double(a != 0 || b != 0); }};
    default: break;
  }
  throw std::logic_error("binary_spec: not a binary op");
}

struct Operand {
  Shape shape;
  Layout layout;
};
struct Pair {
  Operand a, b;
};
const std::vector<Pair> kPairs = {
    {{{3, 1, 4}, Layout::Contiguous}, {{5, 1}, Layout::Contiguous}},   // [3,5,4]
    {{{}, Layout::Contiguous}, {{2, 3}, Layout::Contiguous}},          // 0-dim with a matrix
    {{{2, 3}, Layout::Transposed}, {{}, Layout::Contiguous}},
    {{{}, Layout::Contiguous}, {{}, Layout::Contiguous}},
    {{{0, 3}, Layout::Contiguous}, {{1, 3}, Layout::Contiguous}},      // size 0
    {{{4, 1}, Layout::Contiguous}, {{1, 0}, Layout::Contiguous}},      // [4, 0]
    {{{7, 9}, Layout::Transposed}, {{7, 9}, Layout::Strided}},
    {{{4, 3, 6}, Layout::Expanded}, {{3, 1}, Layout::Strided}},
    {{{1, 1, 5}, Layout::Contiguous}, {{5}, Layout::Contiguous}},
    {{{1031}, Layout::Contiguous}, {{1031}, Layout::Contiguous}},
    {{{2, 1031}, Layout::Contiguous}, {{1031}, Layout::Contiguous}},   // row broadcast
    {{{33, 1}, Layout::Contiguous}, {{1, 35}, Layout::Contiguous}},    // outer product
};
struct DTypePair {
  DType a, b;
  bool all_shapes;
};
const std::vector<DTypePair> kDTypePairs = {
    {DType::Float32, DType::Float32, true},   {DType::Float64, DType::Float64, true},
    {DType::Int32, DType::Int32, true},       {DType::Int64, DType::Int64, true},
    {DType::Float16, DType::Float16, false},  {DType::BFloat16, DType::BFloat16, false},
    {DType::Bool, DType::Bool, false},        {DType::Int32, DType::Float32, false},
    {DType::Float32, DType::Float64, false},  {DType::Int64, DType::Float32, false},
    {DType::Int32, DType::Int64, false},      {DType::Float16, DType::Float64, false},
    {DType::Bool, DType::Int32, false},       {DType::BFloat16, DType::Float16, false},
};

}  // namespace

void binary_cases(OpKind op, const CaseSink& sink) {
  BinarySpec spec = binary_spec(op);
  Inputs in(uint32_t(op) * 104729 + 3);
  for (const DTypePair& dp : kDTypePairs) {
    for (size_t p = 0; p < kPairs.size(); ++p) {
      if (!dp.all_shapes && p != 0 && p != 2 && p != 6) continue;
      const Pair& pr = kPairs[p];
      Tensor a = in.make(dp.a, pr.a.shape, pr.a.layout, spec.a);
      Tensor b = in.make(dp.b, pr.b.shape, pr.b.layout, spec.b);
      RefTensor ra = ref::read(a), rb = ref::read(b);
      DType out = DType::Bool;
      if (spec.kind == BinaryKind::Arith) {
        out = ref::result_type(ra, rb);
        if (out == DType::Bool) continue;  // arithmetic on bools is rejected
        if (op == OpKind::div && !ref::is_float(out)) out = DType::Float32;
      }
      // The op computes in the result dtype: operands are converted to it first.
      DType compute = spec.kind == BinaryKind::Arith ? out : ref::result_type(ra, rb);
      ra = ref::unary(ra, ra.dtype, [&](double v) { return ref::stored_value(compute, v); });
      rb = ref::unary(rb, rb.dtype, [&](double v) { return ref::stored_value(compute, v); });
      std::string desc = describe(dp.a, pr.a.shape, pr.a.layout) + " , " + describe(dp.b, pr.b.shape, pr.b.layout);
      sink({desc, {a, b}, {}, ref::binary(ra, rb, out, spec.f), ref::scaled(ref::default_tol(out), 2)});
    }
  }
  Tensor a = in.make(DType::Float32, {kBig}, Layout::Contiguous, spec.a);
  Tensor b = in.make(DType::Float32, {kBig}, Layout::Contiguous, spec.b);
  DType out = spec.kind == BinaryKind::Arith ? DType::Float32 : DType::Bool;
  sink({"float32 large", {a, b}, {}, ref::binary(ref::read(a), ref::read(b), out, spec.f),
        ref::scaled(ref::default_tol(out), 2), false, true});
}

void where_cases(OpKind op, const CaseSink& sink) {
  struct Triple {
    Operand c, a, b;
  };
  const std::vector<Triple> triples = {
      {{{3, 1, 4}, Layout::Contiguous}, {{5, 1}, Layout::Contiguous}, {{}, Layout::Contiguous}},
      {{{2, 3}, Layout::Transposed}, {{2, 3}, Layout::Contiguous}, {{2, 3}, Layout::Strided}},
      {{{}, Layout::Contiguous}, {{4}, Layout::Contiguous}, {{4}, Layout::Contiguous}},
      {{{0, 2}, Layout::Contiguous}, {{1, 2}, Layout::Contiguous}, {{2}, Layout::Contiguous}},
      {{{4, 3, 6}, Layout::Expanded}, {{4, 3, 6}, Layout::Transposed}, {{6}, Layout::Contiguous}},
      {{{1031}, Layout::Contiguous}, {{1031}, Layout::Contiguous}, {{1031}, Layout::Contiguous}},
  };
  const std::vector<DTypePair> dtypes = {
      {DType::Float32, DType::Float32, true}, {DType::Float64, DType::Float64, true},
      {DType::Int32, DType::Int32, true},     {DType::Int64, DType::Int64, true},
      {DType::Bool, DType::Bool, false},      {DType::Float16, DType::Float16, false},
      {DType::Int32, DType::Float32, false},  {DType::Float32, DType::Float64, false},
      {DType::Int64, DType::Float64, false},
  };
  Inputs in(77);
  for (const DTypePair& dp : dtypes)
    for (size_t t = 0; t < triples.size(); ++t) {
      if (!dp.all_shapes && t > 1) continue;
      const Triple& tr = triples[t];
      Tensor c = in.make(DType::Bool, tr.c.shape, tr.c.layout);
      Tensor a = in.make(dp.a, tr.a.shape, tr.a.layout);
      Tensor b = in.make(dp.b, tr.b.shape, tr.b.layout);
      RefTensor ra = ref::read(a), rb = ref::read(b);
      DType out = ref::result_type(ra, rb);
      std::string desc = "cond " + describe(DType::Bool, tr.c.shape, tr.c.layout) + ", " +
                         describe(dp.a, tr.a.shape, tr.a.layout) + ", " + describe(dp.b, tr.b.shape, tr.b.layout);
      RefTensor want = ref::ternary(ref::read(c), ra, rb, out, [out](double s, double x, double y) {
        return ref::stored_value(out, s != 0 ? x : y);
      });
      sink({desc, {c, a, b}, {}, want, ref::default_tol(out)});
    }
  Tensor c = in.make(DType::Bool, {kBig});
  Tensor a = in.make(DType::Float32, {kBig}), b = in.make(DType::Float32, {1});
  sink({"float32 large", {c, a, b}, {},
        ref::ternary(ref::read(c), ref::read(a), ref::read(b), DType::Float32,
                     [](double s, double x, double y) { return s != 0 ? x : y; }),
        ref::default_tol(DType::Float32), false, true});
}

}  // namespace duet::cases
