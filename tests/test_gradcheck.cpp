// Finite-difference gradient checks for every differentiable op in the registry: the
// test fails when an op has a derivative rule but no row here. Cases cover broadcasting,
// non-contiguous inputs (views of leaves) and the op's attrs.
#include <doctest/doctest.h>

#include <functional>
#include <map>

#include "autograd/autograd.h"
#include "autograd/derivatives.h"
#include "nn/functional.h"

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

// Convolution and pooling, and the backward ops that are differentiable themselves.
void add_conv_rows(std::map<std::string, CaseMaker>& t) {
  using S = std::vector<int64_t>;
  auto conv = [](S stride, S pad, S dil, int64_t groups) {
    return Attrs().set("stride", stride).set("padding", pad).set("dilation", dil).set("groups", groups);
  };
  const Attrs s2p1 = conv({2, 2}, {1, 1}, {1, 1}, 1), grouped = conv({1, 1}, {1, 0}, {2, 1}, 2);
  t["conv2d"] = [=] {
    return std::vector<Case>{
        {"bias, stride 2, padding 1", {leaf({2, 3, 5, 5}), leaf({4, 3, 3, 3}), leaf({4})}, op_fn(OpKind::conv2d, s2p1)},
        {"groups 2, dilation, no bias", {leaf({1, 4, 6, 5}), leaf({4, 2, 2, 2})}, op_fn(OpKind::conv2d, grouped)},
        {"1x1", {leaf({2, 3, 3, 2}), leaf({2, 3, 1, 1})}, op_fn(OpKind::conv2d, conv({1, 1}, {0, 0}, {1, 1}, 1))}};
  };
  t["conv2d_input_grad"] = [=] {
    return std::vector<Case>{{"stride 2, padding 1", {leaf({2, 4, 3, 3}), leaf({4, 3, 3, 3})},
                              op_fn(OpKind::conv2d_input_grad, Attrs(s2p1).set("input_shape", S{2, 3, 5, 5}))},
                             {"groups 2, dilation", {leaf({1, 4, 6, 4}), leaf({4, 2, 2, 2})},
                              op_fn(OpKind::conv2d_input_grad, Attrs(grouped).set("input_shape", S{1, 4, 6, 5}))}};
  };
  t["conv2d_weight_grad"] = [=] {
    return std::vector<Case>{{"stride 2, padding 1", {leaf({2, 4, 3, 3}), leaf({2, 3, 5, 5})},
                              op_fn(OpKind::conv2d_weight_grad, Attrs(s2p1).set("weight_shape", S{4, 3, 3, 3}))}};
  };
  auto pool = [](S k, S stride, S pad, bool ceil) {
    return Attrs().set("kernel", k).set("stride", stride).set("padding", pad).set("ceil_mode", ceil);
  };
  t["max_pool2d"] = [=] {
    return std::vector<Case>{
        {"2x2", {leaf({2, 2, 4, 4})}, op_fn(OpKind::max_pool2d, pool({2, 2}, {2, 2}, {0, 0}, false).set("dilation", S{1, 1}))},
        {"3x3 stride 2 padding 1 ceil", {leaf({1, 2, 6, 5})},
         op_fn(OpKind::max_pool2d, pool({3, 3}, {2, 2}, {1, 1}, true).set("dilation", S{1, 1}))}};
  };
  t["max_pool2d_backward"] = [=] {  // refuses: see "gradcheck: every differentiable op"
    return std::vector<Case>{{"2x2", {leaf({1, 1, 2, 2}), leaf({1, 1, 4, 4})},
                              op_fn(OpKind::max_pool2d_backward, pool({2, 2}, {2, 2}, {0, 0}, false).set("dilation", S{1, 1}))}};
  };
  const Attrs avg = pool({3, 3}, {2, 2}, {1, 1}, true).set("count_include_pad", false);
  t["avg_pool2d"] = [=] {
    return std::vector<Case>{{"3x3 stride 2 padding 1 ceil, padding not counted", {leaf({2, 2, 6, 5})},
                              op_fn(OpKind::avg_pool2d, avg)},
                             {"2x2 counting padding", {leaf({1, 2, 4, 4})},
                              op_fn(OpKind::avg_pool2d, pool({2, 2}, {2, 2}, {1, 1}, false).set("count_include_pad", true))}};
  };
  t["avg_pool2d_backward"] = [=] {
    return std::vector<Case>{{"3x3 stride 2 padding 1 ceil", {leaf({2, 2, 4, 3})},
                              op_fn(OpKind::avg_pool2d_backward, Attrs(avg).set("input_shape", S{2, 2, 6, 5}))}};
  };
  t["adaptive_avg_pool2d"] = [=] {
    return std::vector<Case>{
        {"7x5 to 3x2", {leaf({2, 2, 7, 5})}, op_fn(OpKind::adaptive_avg_pool2d, Attrs().set("output_size", S{3, 2}))},
        {"global", {leaf({2, 3, 4, 4})}, op_fn(OpKind::adaptive_avg_pool2d, Attrs().set("output_size", S{1, 1}))}};
  };
  t["adaptive_avg_pool2d_backward"] = [=] {
    return std::vector<Case>{{"7x5 to 3x2", {leaf({2, 2, 3, 2})},
                              op_fn(OpKind::adaptive_avg_pool2d_backward,
                                    Attrs().set("output_size", S{3, 2}).set("input_shape", S{2, 2, 7, 5}))}};
  };
}

// Batch normalisation. In training mode mean and var are the input's own statistics, so
// that form is checked through nn::functional::batch_norm, which computes them.
void add_batch_norm_rows(std::map<std::string, CaseMaker>& t) {
  const Attrs eps = Attrs().set("eps", 1e-5);
  t["batch_norm_stats"] = [] {
    return std::vector<Case>{{"4-D", {leaf({3, 2, 2, 3})}, op_fn(OpKind::batch_norm_stats)},
                             {"2-D, transposed", {transposed_leaf({5, 3})}, op_fn(OpKind::batch_norm_stats)}};
  };
  t["batch_norm"] = [=] {
    Fn train = [](const std::vector<Tensor>& in) {
      return nn::functional::batch_norm(in[0], {}, {}, in[1], in[2], /*training=*/true);
    };
    return std::vector<Case>{
        {"training (batch statistics)", {leaf({3, 2, 2, 3}), leaf({2}), leaf({2})}, train},
        {"training, 2-D", {transposed_leaf({4, 3}), leaf({3}), leaf({3})}, train},
        {"eval (running statistics take gradients too)",
         {leaf({3, 2, 2, 3}), leaf({2}), leaf({2}, 0.5, 2), leaf({2}), leaf({2})},
         op_fn(OpKind::batch_norm, Attrs(eps).set("training", false))}};
  };
  for (const char* name : {"batch_norm_backward_reduce", "batch_norm_backward"})  // refuse: see below
    t[name] = [=] {
      Fn f = [name, eps](const std::vector<Tensor>& in) {
        std::vector<Tensor> args(in);
        if (std::string(name) == "batch_norm_backward") args.push_back(zeros({2, 2}, DType::Float64));
        return apply(op_by_name(name), std::span<const Tensor>(args), Attrs(eps).set("training", true));
      };
      std::vector<Tensor> in = {leaf({2, 2, 2}), leaf({2, 2, 2}), leaf({2}), leaf({2}, 0.5, 2)};
      if (std::string(name) == "batch_norm_backward") in.push_back(leaf({2}));
      return std::vector<Case>{{"3-D", in, f}};
    };
}

// Layer normalisation over 1 or 2 trailing dims, with and without its affine operands; the
// backward ops refuse their own gradients (see below).
void add_layer_norm_rows(std::map<std::string, CaseMaker>& t) {
  auto norm = [](int64_t k) { return Attrs().set("normalized_dims", k).set("eps", 1e-5); };
  t["layer_norm"] = [=] {
    return std::vector<Case>{
        {"last dim, weight and bias", {leaf({3, 5}), leaf({5}), leaf({5})}, op_fn(OpKind::layer_norm, norm(1))},
        {"two dims, transposed input, weight only", {transposed_leaf({6, 2}).reshape({3, 2, 2}), leaf({2, 2})},
         op_fn(OpKind::layer_norm, norm(2))},
        {"no affine", {leaf({2, 3, 4})}, op_fn(OpKind::layer_norm, norm(1))}};
  };
  for (const char* name : {"layer_norm_backward", "layer_norm_backward_affine"})
    t[name] = [=] {
      return std::vector<Case>{{"2-D", {leaf({3, 4}), leaf({3, 4})}, op_fn(op_by_name(name), norm(1))}};
    };
}

// Fused attention: causal over several key tiles' worth of positions is too slow in
// float64 finite differences, so small shapes: causal self-attention and a non-causal one
// with L != S and E != Ev; the backward op refuses its own gradient (see below).
void add_attention_rows(std::map<std::string, CaseMaker>& t) {
  auto attn = [](bool causal, double scale) { return Attrs().set("causal", causal).set("scale", scale); };
  t["attention"] = [=] {
    return std::vector<Case>{
        {"causal, [2, 4, 3]", {leaf({2, 4, 3}), leaf({2, 4, 3}), leaf({2, 4, 3})},
         op_fn(OpKind::attention, attn(true, 0.6))},
        {"L 3, S 5, E 2, Ev 4, transposed q", {transposed_leaf({3, 2}), leaf({5, 2}), leaf({5, 4})},
         op_fn(OpKind::attention, attn(false, 0.8))}};
  };
  t["attention_backward"] = [=] {
    return std::vector<Case>{{"[3, 2]", {leaf({9}), leaf({3, 2}), leaf({3, 2}), leaf({3, 2}), leaf({9})},
                              op_fn(OpKind::attention_backward, attn(true, 0.7))}};
  };
}

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
  add_conv_rows(t);
  add_batch_norm_rows(t);
  add_layer_norm_rows(t);
  add_attention_rows(t);
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
      // Their rules refuse (double backward is not implemented) rather than drop the gradient.
      if (op == OpKind::max_pool2d_backward || op == OpKind::batch_norm_backward_reduce ||
          op == OpKind::batch_norm_backward || op == OpKind::layer_norm_backward ||
          op == OpKind::layer_norm_backward_affine || op == OpKind::attention_backward) {
        CHECK_THROWS_WITH_AS(gradcheck(c.fn, c.inputs), doctest::Contains("not implemented"), Error);
        continue;
      }
      GradcheckResult r = gradcheck(c.fn, c.inputs);
      CHECK_MESSAGE(r.ok, name, " / ", c.label, ": ", r.message);
    }
    ++checked_ops;
  }
  MESSAGE("gradcheck covered ", checked_ops, " differentiable ops");
  CHECK(checked_ops >= 50);
}
