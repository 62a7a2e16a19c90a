// Finite-difference gradient checks for every differentiable op in the registry: the
// test fails when an op has a derivative rule but no row here. Cases cover broadcasting,
// non-contiguous inputs (views of leaves) and the op's attrs.
#include <doctest/doctest.h>

#include <functional>
#include <map>

#include "autograd/autograd.h"
#include "autograd/derivatives.h"

using namespace duet;

namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;
struct Case {
  std::string label;
  std::vector<Tensor> inputs;
  Fn fn;
};
using CaseMaker = std::function<std::vector<Case>()>;

Tensor leaf(const Shape& shape, double lo = -2, double hi = 2) {
  return uniform(shape, lo, hi, DType::Float64).requires_grad_();
}
// A non-contiguous input: the transpose of a leaf of the transposed shape.
Tensor transposed_leaf(const Shape& shape, double lo = -2, double hi = 2) {
  return leaf({shape[1], shape[0]}, lo, hi).t();
}

Fn op_fn(OpKind op, Attrs attrs = {}) {
  return [op, attrs](const std::vector<Tensor>& in) { return apply(op, std::span<const Tensor>(in), attrs); };
}

std::vector<Case> unary_cases(OpKind op, double lo, double hi, Attrs attrs = {}) {
  return {{"contiguous", {leaf({3, 4}, lo, hi)}, op_fn(op, attrs)},
          {"transposed", {transposed_leaf({4, 3}, lo, hi)}, op_fn(op, attrs)},
          {"0-dim", {leaf({}, lo, hi)}, op_fn(op, attrs)}};
}

std::vector<Case> binary_cases(OpKind op, double lo, double hi) {
  return {{"same shape", {leaf({3, 4}, lo, hi), leaf({3, 4}, lo, hi)}, op_fn(op)},
          {"broadcast", {leaf({3, 1, 4}, lo, hi), leaf({5, 1}, lo, hi)}, op_fn(op)},
          {"transposed and 0-dim", {transposed_leaf({4, 3}, lo, hi), leaf({}, lo, hi)}, op_fn(op)}};
}

Attrs reduce(std::vector<int64_t> dims, bool keepdim) { return Attrs().set("dims", dims).set("keepdim", keepdim); }

std::vector<Case> reduction_cases(OpKind op, Attrs extra = {}) {
  std::vector<Case> out;
  for (auto [dims, keep] : std::vector<std::pair<std::vector<int64_t>, bool>>{{{}, false}, {{1}, false}, {{0, 2}, true}}) {
    Attrs a = reduce(dims, keep);
    for (const auto& [k, v] : extra.items()) std::visit([&](const auto& x) { a.set(k, x); }, v);
    out.push_back({"dims " + shape_str(dims), {leaf({3, 4, 2}, 0.5, 2)}, op_fn(op, a)});
  }
  out.push_back({"transposed", {transposed_leaf({4, 3}, 0.5, 2)}, op_fn(op, reduce({0}, false))});
  return out;
}

Tensor idx(std::vector<int64_t> v, Shape shape) { return tensor<int64_t>(v, shape); }

std::map<std::string, CaseMaker> make_table() {
  std::map<std::string, CaseMaker> t;
  auto unary = [&](const char* name, double lo, double hi, Attrs a = {}) {
    OpKind op = op_by_name(name);
    t[name] = [=] { return unary_cases(op, lo, hi, a); };
  };
  for (const char* n : {"neg", "abs", "sign", "square", "floor", "ceil", "round", "relu", "exp", "expm1", "sin",
                        "cos", "tanh", "sigmoid", "erf", "silu", "copy"})
    unary(n, -2, 2);
  for (const char* n : {"log", "log1p", "sqrt", "rsqrt", "reciprocal"}) unary(n, 0.5, 2);
  t["gelu"] = [] {
    auto a = unary_cases(OpKind::gelu, -2, 2);
    auto b = unary_cases(OpKind::gelu, -2, 2, Attrs().set("approximate", "tanh"));
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  unary("clamp", -2, 2, Attrs().set("min", -0.5).set("max", 0.7));
  t["cast"] = [] { return unary_cases(OpKind::cast, -2, 2, Attrs().set("dtype", DType::Float64)); };
  for (const char* n : {"add", "sub", "mul", "maximum", "minimum"}) {
    OpKind op = op_by_name(n);
    t[n] = [=] { return binary_cases(op, -2, 2); };
  }
  t["div"] = [] { return binary_cases(OpKind::div, 0.5, 2); };
  t["pow"] = [] { return binary_cases(OpKind::pow, 0.5, 2); };
  t["where"] = [] {
    Tensor cond = gt(rand({3, 4}), scalar_tensor(0.5));
    return std::vector<Case>{{"broadcast", {cond, leaf({3, 4}), leaf({4})}, op_fn(OpKind::where)}};
  };
  for (const char* n : {"sum", "mean", "prod", "amax", "amin"}) {
    OpKind op = op_by_name(n);
    t[n] = [=] { return reduction_cases(op); };
  }
  for (const char* n : {"var", "std"}) {
    OpKind op = op_by_name(n);
    t[n] = [=] {
      auto a = reduction_cases(op);
      auto b = reduction_cases(op, Attrs().set("correction", 0.0));
      a.insert(a.end(), b.begin(), b.end());
      return a;
    };
  }
  for (const char* n : {"softmax", "log_softmax"}) {
    OpKind op = op_by_name(n);
    t[n] = [=] {
      return std::vector<Case>{{"last dim", {leaf({3, 5})}, op_fn(op, Attrs().set("dim", -1))},
                               {"dim 0, transposed", {transposed_leaf({4, 3})}, op_fn(op, Attrs().set("dim", 0))}};
    };
  }
  t["matmul"] = [] {
    Fn mm = op_fn(OpKind::matmul);
    return std::vector<Case>{{"2-D", {leaf({3, 4}), leaf({4, 5})}, mm},
                             {"transposed operands", {transposed_leaf({3, 4}), transposed_leaf({4, 2})}, mm},
                             {"broadcast batch", {leaf({2, 1, 3, 4}), leaf({3, 4, 2})}, mm},
                             {"vector @ matrix", {leaf({4}), leaf({4, 5})}, mm},
                             {"batched matrix @ vector", {leaf({2, 3, 4}), leaf({4})}, mm},
                             {"dot", {leaf({4}), leaf({4})}, mm}};
  };
  t["index_select"] = [] {
    return std::vector<Case>{
        {"dim 0 with repeats", {leaf({4, 3}), idx({0, 2, 2, 3}, {4})}, op_fn(OpKind::index_select, Attrs().set("dim", 0))},
        {"dim 1, transposed", {transposed_leaf({3, 4}), idx({3, 1}, {2})}, op_fn(OpKind::index_select, Attrs().set("dim", 1))}};
  };
  t["gather"] = [] {
    return std::vector<Case>{
        {"dim 1", {leaf({3, 4}), idx({0, 3, 1, 1, 2, 0}, {3, 2})}, op_fn(OpKind::gather, Attrs().set("dim", 1))}};
  };
  t["scatter_add"] = [] {
    return std::vector<Case>{{"dim 0", {leaf({3, 4}), idx({0, 2, 2, 1, 0, 0, 1, 2}, {2, 4}), leaf({2, 4})},
                              op_fn(OpKind::scatter_add, Attrs().set("dim", 0))}};
  };
  t["cat"] = [] {
    return std::vector<Case>{{"dim 0", {leaf({2, 3}), leaf({1, 3})}, op_fn(OpKind::cat, Attrs().set("dim", 0))},
                             {"dim 1, transposed", {transposed_leaf({2, 3}), leaf({2, 2})},
                              op_fn(OpKind::cat, Attrs().set("dim", -1))}};
  };
  t["reshape"] = [] {
    return std::vector<Case>{
        {"view", {leaf({3, 4})}, op_fn(OpKind::reshape, Attrs().set("shape", std::vector<int64_t>{2, 6}))},
        {"copying (transposed)", {transposed_leaf({4, 3})},
         op_fn(OpKind::reshape, Attrs().set("shape", std::vector<int64_t>{12}))}};
  };
  t["permute"] = [] {
    return std::vector<Case>{
        {"3-D", {leaf({2, 3, 4})}, op_fn(OpKind::permute, Attrs().set("dims", std::vector<int64_t>{2, 0, 1}))}};
  };
  t["expand"] = [] {
    return std::vector<Case>{
        {"new and size-1 dims", {leaf({3, 1})}, op_fn(OpKind::expand, Attrs().set("shape", std::vector<int64_t>{2, 3, 4}))}};
  };
  t["slice"] = [] {
    auto s = [](int64_t dim, int64_t start, int64_t end, int64_t step) {
      return Attrs().set("dim", dim).set("start", start).set("end", end).set("step", step);
    };
    return std::vector<Case>{{"step 1", {leaf({5, 3})}, op_fn(OpKind::slice, s(0, 1, 4, 1))},
                             {"step 2, negative start", {leaf({3, 7})}, op_fn(OpKind::slice, s(1, -6, 7, 2))}};
  };
  auto window = [](Shape size, Shape stride, int64_t offset) {
    return Attrs().set("size", size).set("stride", stride).set("offset", offset);
  };
  t["as_strided"] = [window] {
    return std::vector<Case>{{"stepped window", {leaf({4, 5})}, op_fn(OpKind::as_strided, window({2, 3}, {5, 2}, 1))},
                             {"overlapping, transposed input", {transposed_leaf({3, 4})},
                              op_fn(OpKind::as_strided, window({3, 3}, {1, 1}, 0))}};
  };
  t["as_strided_scatter"] = [window] {
    return std::vector<Case>{{"window of a matrix", {leaf({4, 5}), leaf({2, 3})},
                              op_fn(OpKind::as_strided_scatter, window({2, 3}, {5, 2}, 1))},
                             {"transposed window", {transposed_leaf({3, 4}), leaf({4, 3})},
                              op_fn(OpKind::as_strided_scatter, window({4, 3}, {1, 4}, 0))}};
  };
  return t;
}

}  // namespace

TEST_CASE("gradcheck: every differentiable op") {
  manual_seed(1234);
  auto table = make_table();
  int checked_ops = 0;
  for (int k = 0; k < kNumOps; ++k) {
    OpKind op = OpKind(k);
    const char* name = op_name(op);
    bool differentiable = derivative_for(op).fn != nullptr;
    auto it = table.find(name);
    if (!differentiable) {
      CHECK_MESSAGE(it == table.end(), name, " has gradcheck cases but no derivative rule");
      continue;
    }
    REQUIRE_MESSAGE(it != table.end(), name, " has a derivative rule but no gradcheck row in tests/test_gradcheck.cpp");
    for (const Case& c : it->second()) {
      INFO(name, " / ", c.label);
      GradcheckResult r = gradcheck(c.fn, c.inputs);
      CHECK_MESSAGE(r.ok, name, " / ", c.label, ": ", r.message);
    }
    ++checked_ops;
  }
  MESSAGE("gradcheck covered ", checked_ops, " differentiable ops");
  CHECK(checked_ops >= 50);
}
