// nn::functional::scaled_dot_product_attention (the composite) and masked_fill against a
// float64 reference written as loops from PyTorch's definition: no mask, causal masks
// with fewer and more queries than keys, bool and additive masks that broadcast, a custom
// scale, heads as leading dims; rows with every position masked give zeros and zero
// gradients (no NaN), as PyTorch; finite-difference gradients; clear errors; and a
// compiled forward + backward with eager's bits.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "autograd/autograd.h"
#include "autograd/gradcheck.h"
#include "core/generator.h"
#include "graph/graph.h"
#include "nn/nn.h"
#include "optim/optim.h"
#include "tests/reference/reference_ops.h"
#include "tests/test_support.h"

using namespace duet;
namespace F = duet::nn::functional;

namespace {

// out[b, i, :] = sum_j softmax_j(q_i . k_j * scale + bias(i, j)) v_j over the positions
// allowed(i, j); rows with none allowed are zero. q [B, L, E], k [B, S, E], v [B, S, Ev].
template <typename Allowed, typename Bias>
std::vector<double> reference(const Tensor& q, const Tensor& k, const Tensor& v, double scale, Allowed allowed, Bias bias) {
  const auto Q = q.to(DType::Float64).contiguous().to_vector<double>(), K = k.to(DType::Float64).contiguous().to_vector<double>(),
             V = v.to(DType::Float64).contiguous().to_vector<double>();
  const int64_t B = q.size(0), L = q.size(1), S = k.size(1), E = q.size(2), Ev = v.size(2);
  std::vector<double> out(size_t(B * L * Ev), 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < L; ++i) {
      std::vector<double> s(size_t(S), -INFINITY);
      double mx = -INFINITY;
      for (int64_t j = 0; j < S; ++j) {
        if (!allowed(b, i, j)) continue;
        double d = 0;
        for (int64_t e = 0; e < E; ++e) d += Q[size_t((b * L + i) * E + e)] * K[size_t((b * S + j) * E + e)];
        s[size_t(j)] = d * scale + bias(b, i, j);
        mx = std::max(mx, s[size_t(j)]);
      }
      if (mx == -INFINITY) continue;
      double z = 0;
      for (double& x : s) z += (x = std::exp(x - mx));
      for (int64_t j = 0; j < S; ++j)
        for (int64_t e = 0; e < Ev; ++e) out[size_t((b * L + i) * Ev + e)] += s[size_t(j)] / z * V[size_t((b * S + j) * Ev + e)];
    }
  return out;
}

void check_close(const Tensor& got, const std::vector<double>& want, double tol) {
  const auto g = got.to(DType::Float64).contiguous().to_vector<double>();
  REQUIRE(g.size() == want.size());
  for (size_t i = 0; i < g.size(); ++i) CHECK(g[i] == doctest::Approx(want[i]).epsilon(tol).scale(1.0));
}

auto all = [](int64_t, int64_t, int64_t) { return true; };
auto none = [](int64_t, int64_t, int64_t) { return 0.0; };

}  // namespace

TEST_CASE("scaled_dot_product_attention matches the definition") {
  manual_seed(5);
  const Tensor q = randn({2, 4, 8}), k = randn({2, 6, 8}), v = randn({2, 6, 3});
  check_close(F::scaled_dot_product_attention(q, k, v), reference(q, k, v, 1 / std::sqrt(8.0), all, none), 1e-5);
  check_close(F::scaled_dot_product_attention(q, k, v, {.scale = 0.3}), reference(q, k, v, 0.3, all, none), 1e-5);
  // Causal, top-left aligned: j <= i, with fewer (4) and more (6) queries than keys.
  auto causal = [](int64_t, int64_t i, int64_t j) { return j <= i; };
  check_close(F::scaled_dot_product_attention(q, k, v, {.causal = true}), reference(q, k, v, 1 / std::sqrt(8.0), causal, none),
              1e-5);
  const Tensor q6 = randn({2, 6, 8}), k4 = k.narrow(1, 0, 4), v4 = v.narrow(1, 0, 4);
  check_close(F::scaled_dot_product_attention(q6, k4, v4, {.causal = true}),
              reference(q6, k4, v4, 1 / std::sqrt(8.0), causal, none), 1e-5);
  // A bool mask [L, S] broadcast over the batch, and an additive one [B, 1, S].
  const Tensor keep = rand({4, 6}) > 0.4;
  const auto kv = keep.to(DType::Int64).to_vector<int64_t>();
  check_close(F::scaled_dot_product_attention(q, k, v, {.attn_mask = keep}),
              reference(q, k, v, 1 / std::sqrt(8.0), [&](int64_t, int64_t i, int64_t j) { return kv[size_t(i * 6 + j)] != 0; }, none),
              1e-5);
  const Tensor add = randn({2, 1, 6});
  const auto av = add.to(DType::Float64).to_vector<double>();
  check_close(F::scaled_dot_product_attention(q, k, v, {.attn_mask = add}),
              reference(q, k, v, 1 / std::sqrt(8.0), all, [&](int64_t b, int64_t, int64_t j) { return av[size_t(b * 6 + j)]; }),
              1e-5);
  // Heads as a leading dim: [B, H, L, E] is the same computation per (b, h).
  const Tensor qh = randn({2, 3, 4, 8}), kh = randn({2, 3, 6, 8}), vh = randn({2, 3, 6, 3});
  check_close(F::scaled_dot_product_attention(qh, kh, vh, {.causal = true}),
              reference(qh.reshape({6, 4, 8}), kh.reshape({6, 6, 8}), vh.reshape({6, 6, 3}), 1 / std::sqrt(8.0), causal, none), 1e-5);
}

TEST_CASE("attention: rows with every position masked give zeros and zero gradients") {
  manual_seed(6);
  const Tensor q = randn({1, 3, 4}).requires_grad_(), k = randn({1, 5, 4}).requires_grad_(),
               v = randn({1, 5, 2}).requires_grad_();
  const Tensor keep = tensor(std::vector<double>{1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1}, {3, 5}).to(DType::Bool);
  const Tensor out = F::scaled_dot_product_attention(q, k, v, {.attn_mask = keep});
  const auto o = out.to_vector<float>();
  CHECK(o[2] == 0.0f);
  CHECK(o[3] == 0.0f);
  out.sum().backward();
  for (const Tensor& t : {q, k, v})
    for (float g : t.grad().to_vector<float>()) CHECK(std::isfinite(g));
  CHECK(q.grad().to_vector<float>()[4] == 0.0f);  // row 1 of q took part in nothing
  // An additive mask of -inf everywhere in a row does the same.
  const Tensor minus = F::masked_fill(zeros({3, 5}), logical_not(keep), -INFINITY);
  CHECK(F::scaled_dot_product_attention(q.detach(), k.detach(), v.detach(), {.attn_mask = minus}).to_vector<float>() == o);
}

TEST_CASE("attention gradients match finite differences (float64)") {
  manual_seed(7);
  auto leaf = [](const Shape& s) { return randn(s, DType::Float64).requires_grad_(); };
  const Tensor keep = tensor(std::vector<double>{1, 1, 0, 0, 1, 1, 1, 0, 0}, {3, 3}).to(DType::Bool);
  for (int form = 0; form < 3; ++form) {
    INFO("form ", form);
    auto fn = [&](const std::vector<Tensor>& in) {
      F::AttentionOptions o;
      if (form == 1) o.causal = true;
      if (form == 2) o.attn_mask = keep;
      return F::scaled_dot_product_attention(in[0], in[1], in[2], o);
    };
    const GradcheckResult r = gradcheck(fn, {leaf({2, 3, 4}), leaf({2, 3, 4}), leaf({2, 3, 2})});
    CHECK_MESSAGE(r.ok, r.message);
  }
}

TEST_CASE("attention and masked_fill: clear errors") {
  const Tensor q = zeros({2, 4, 8}), k = zeros({2, 6, 8}), v = zeros({2, 6, 3});
  EXPECT_ERROR(F::scaled_dot_product_attention(q, k, v, {.attn_mask = zeros({5, 6}, DType::Bool)}),
               "scaled_dot_product_attention", "bool[5, 6]", "[2, 4, 6]");
  EXPECT_ERROR(F::scaled_dot_product_attention(q, zeros({2, 6, 7}), v), "same last dim", "float32[2, 4, 8]",
               "float32[2, 6, 7]");
  EXPECT_ERROR(F::scaled_dot_product_attention(q, k, zeros({2, 5, 3})), "same sequence dim");
  EXPECT_ERROR(F::scaled_dot_product_attention(q, k, v, {.attn_mask = zeros({4, 6}, DType::Bool), .causal = true}),
               "not both");
  EXPECT_ERROR(F::masked_fill(q, zeros({4, 8}), 1.0), "masked_fill", "bool mask", "float32[4, 8]");
  EXPECT_ERROR(F::masked_fill(q, zeros({3, 8}, DType::Bool), 1.0), "masked_fill");
}

TEST_CASE("causal attention forward and backward compiled equal eager") {
  manual_seed(8);
  const Tensor q0 = randn({2, 2, 5, 4}), k0 = randn({2, 2, 5, 4}), v0 = randn({2, 2, 5, 4});
  auto step = [](const std::vector<Tensor>& in) {
    Tensor q = in[0].detach().requires_grad_(), k = in[1].detach().requires_grad_(), v = in[2].detach().requires_grad_();
    Tensor out = F::scaled_dot_product_attention(q, k, v, {.causal = true});
    (out * out).sum().backward();
    return std::vector<Tensor>{out.detach(), q.grad(), k.grad(), v.grad()};
  };
  const std::vector<Tensor> want = step({q0, k0, v0});
  auto compiled = graph::compile(step);
  for (int call = 0; call < 2; ++call) {
    const std::vector<Tensor> got = compiled({q0, k0, v0});
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) CHECK(ref::bitwise_equal(got[i], want[i]));
  }
}

TEST_CASE("CausalSelfAttention: parameters, shapes, causality and a compiled step with eager's bits") {
  manual_seed(10);
  nn::CausalSelfAttention attn(8, 2);
  const std::vector<std::string> names = attn.state_dict().keys();
  CHECK(names == std::vector<std::string>{"c_attn.weight", "c_attn.bias", "c_proj.weight", "c_proj.bias"});
  CHECK(attn.c_attn->weight.sizes() == Shape{24, 8});
  const Tensor x = randn({2, 5, 8});
  const Tensor y = attn.forward(x);
  CHECK(y.sizes() == Shape{2, 5, 8});
  // Position t sees positions <= t only: changing positions 3 and 4 leaves 0..2 as they were.
  Tensor x2 = x.clone();
  x2.narrow(1, 3, 2).fill_(7.0);
  CHECK(ref::bitwise_equal(attn.forward(x2).narrow(1, 0, 3), y.narrow(1, 0, 3)));
  CHECK_FALSE(ref::bitwise_equal(attn.forward(x2).narrow(1, 3, 2), y.narrow(1, 3, 2)));
  EXPECT_ERROR(attn.forward(randn({2, 5, 6})), "CausalSelfAttention", "[B, T, 8]", "float32[2, 5, 6]");
  EXPECT_ERROR(nn::CausalSelfAttention(10, 3), "multiple of num_heads 3");
  // A training step, eagerly and compiled.
  auto run = [&](bool compiled_mode) {
    manual_seed(11);
    nn::CausalSelfAttention a(8, 2);
    optim::Adam opt(a.parameters(), 1e-2);
    auto step = [&](const std::vector<Tensor>& in) {
      opt.zero_grad();
      Tensor loss = square(a.forward(in[0]) - in[0]).mean();
      loss.backward();
      opt.step();
      return std::vector<Tensor>{loss.detach()};
    };
    auto compiled = graph::compile(step);
    std::vector<Tensor> out;
    for (int i = 0; i < 4; ++i) out.push_back((compiled_mode ? compiled({x}) : step({x}))[0]);
    for (const Tensor& p : a.parameters()) out.push_back(p.detach().clone());
    return out;
  };
  const auto eager = run(false), compiled = run(true);
  REQUIRE(eager.size() == compiled.size());
  for (size_t i = 0; i < eager.size(); ++i) CHECK(ref::bitwise_equal(eager[i], compiled[i]));
}

namespace {

// Runs `fn` with the given implementation chosen, then restores the automatic choice.
template <typename Fn>
auto with_attention_impl(F::AttentionImpl impl, Fn fn) {
  F::set_attention_impl(impl);
  struct Restore {
    ~Restore() { F::set_attention_impl(F::AttentionImpl::Auto); }
  } restore;
  return fn();
}

// Output and the three input gradients of attention on copies of q, k, v.
std::vector<Tensor> attention_and_grads(const Tensor& q0, const Tensor& k0, const Tensor& v0, bool causal) {
  Tensor q = q0.detach().requires_grad_(true), k = k0.detach().requires_grad_(true), v = v0.detach().requires_grad_(true);
  F::AttentionOptions o;
  o.causal = causal;
  const Tensor out = F::scaled_dot_product_attention(q, k, v, o);
  (out * out).sum().backward();
  return {out.detach(), q.grad(), k.grad(), v.grad()};
}

}  // namespace

TEST_CASE("fused attention (the attention op) agrees with the composite, forward and backward") {
  struct Shape4 {
    Shape q, k, v;
    bool causal;
  };
  // Heads broadcast over the batch; L != S; several query and key tiles; E != Ev.
  const std::vector<Shape4> shapes = {{{2, 3, 40, 16}, {2, 3, 40, 16}, {2, 3, 40, 16}, true},
                                      {{1, 2, 70, 8}, {2, 1, 150, 8}, {2, 1, 150, 4}, false},
                                      {{200, 32}, {200, 32}, {200, 32}, true},
                                      {{2, 65, 12}, {2, 300, 12}, {2, 300, 12}, true}};
  for (DType dt : {DType::Float32, DType::Float64})
    for (const Shape4& s : shapes) {
      CAPTURE(dtype_name(dt));
      CAPTURE(shape_str(s.q));
      manual_seed(21);
      const Tensor q = randn(s.q).to(dt), k = randn(s.k).to(dt), v = randn(s.v).to(dt);
      const auto fused = with_attention_impl(F::AttentionImpl::Fused, [&] { return attention_and_grads(q, k, v, s.causal); });
      const auto composite =
          with_attention_impl(F::AttentionImpl::Composite, [&] { return attention_and_grads(q, k, v, s.causal); });
      const double tol = dt == DType::Float32 ? 2e-5 : 1e-12;
      for (size_t i = 0; i < 4; ++i) {
        CAPTURE(i);
        const double scale = std::max(1.0, amax(abs(composite[i])).item<double>());
        CHECK(amax(abs(fused[i] - composite[i])).item<double>() <= tol * scale);
      }
    }
}

TEST_CASE("fused attention: chosen where it applies, composite elsewhere; one node in a compiled step") {
  manual_seed(22);
  const Tensor q = randn({1, 2, 130, 8}), k = randn({1, 2, 130, 8}), v = randn({1, 2, 130, 8});
  // auto: fused from kFusedAttentionMinKeys keys on, without a mask or dropout.
  CHECK(F::attention_impl() == F::AttentionImpl::Auto);
  F::AttentionOptions causal;
  causal.causal = true;
  auto compiled = graph::compile([&](const std::vector<Tensor>& in) {
    Tensor qq = in[0].detach().requires_grad_(true);
    Tensor out = F::scaled_dot_product_attention(qq, in[1], in[2], causal);
    out.sum().backward();
    return std::vector<Tensor>{out.detach(), qq.grad()};
  });
  const std::vector<Tensor> eager = [&] {
    Tensor qq = q.detach().requires_grad_(true);
    Tensor out = F::scaled_dot_product_attention(qq, k, v, causal);
    out.sum().backward();
    return std::vector<Tensor>{out.detach(), qq.grad()};
  }();
  std::vector<Tensor> got = compiled({q, k, v});
  got = compiled({q, k, v});
  CHECK(ref::bitwise_equal(got[0], eager[0]));
  CHECK(ref::bitwise_equal(got[1], eager[1]));
  int forward_nodes = 0, backward_nodes = 0;  // the fused op and its gradient, one node each
  for (const graph::Node& n : compiled.executable()->graph().nodes) {
    if (n.kind != graph::NodeKind::Op) continue;
    forward_nodes += n.op == OpKind::attention;
    backward_nodes += n.op == OpKind::attention_backward;
  }
  CHECK(forward_nodes == 1);
  CHECK(backward_nodes == 1);
  // A bool mask takes the composite even when fused is asked for, with the same values.
  const Tensor mask = randn({130, 130}) > 0.0;
  F::AttentionOptions masked;
  masked.attn_mask = mask;
  const Tensor a = with_attention_impl(F::AttentionImpl::Fused, [&] { return F::scaled_dot_product_attention(q, k, v, masked); });
  const Tensor b = with_attention_impl(F::AttentionImpl::Composite, [&] { return F::scaled_dot_product_attention(q, k, v, masked); });
  CHECK(ref::bitwise_equal(a, b));
}
