// optim/: every optimizer checked step by step against plain-double loops that follow
// torch.optim's documented algorithms; state-dict round trips (bitwise), zero_grad,
// hyperparameter and parameter validation, skipping parameters without gradients, the
// lr schedulers' sequences, gradient clipping, and a tiny end-to-end fit through autograd.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <numbers>

#include "autograd/autograd.h"
#include "optim/optim.h"

using namespace duet;
using namespace duet::optim;

namespace {

using Vec = std::vector<double>;
const Shape kShape = {2, 3};
constexpr int kN = 6;

// A fixed gradient for step k: mixed signs, one zero, varying magnitudes.
Vec grad_at(int k) {
  Vec g(kN);
  for (int j = 0; j < kN; ++j) g[j] = std::sin(1.3 * k + 0.7 * j) * (0.5 + 0.4 * j);
  g[(k + 2) % kN] = 0;
  return g;
}
Vec initial_param() { return {0.5, -1.25, 2.0, 0.0, -0.3, 1.1}; }

Tensor make_param(const Vec& v, DType dt = DType::Float64) {
  return tensor<double>(v, kShape).to(dt).requires_grad_();
}
void set_grad(const Tensor& p, const Vec& g) { p.set_grad(tensor<double>(g, kShape).to(p.dtype())); }
Vec vec(const Tensor& t) { return t.to(DType::Float64).to_vector<double>(); }

void check_close(const Vec& got, const Vec& want, double tol, const std::string& what) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO(what, " element ", i, ": got ", got[i], " want ", want[i]);
    CHECK(std::abs(got[i] - want[i]) <= tol * std::max(1.0, std::abs(want[i])));
  }
}

// ---- references: one step of each algorithm on plain doubles, as the torch.optim docs write it
struct RefSGD {
  double lr, momentum = 0, dampening = 0, wd = 0;
  bool nesterov = false;
  Vec buf{};  // empty until the first step
  void step(Vec& p, const Vec& grad) {
    const bool first = buf.empty();
    if (first) buf.assign(kN, 0);
    for (int j = 0; j < kN; ++j) {
      double g = grad[j] + wd * p[j];
      if (momentum != 0) {
        buf[j] = first ? g : momentum * buf[j] + (1 - dampening) * g;
        g = nesterov ? g + momentum * buf[j] : buf[j];
      }
      p[j] -= lr * g;
    }
  }
};

struct RefAdam {
  double lr, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0;
  bool amsgrad = false, decoupled = false;
  Vec m = Vec(kN), v = Vec(kN), vmax = Vec(kN);
  int t = 0;
  void step(Vec& p, const Vec& grad) {
    ++t;
    for (int j = 0; j < kN; ++j) {
      double g = grad[j];
      if (decoupled) p[j] *= 1 - lr * wd;
      else g += wd * p[j];
      m[j] = b1 * m[j] + (1 - b1) * g;
      v[j] = b2 * v[j] + (1 - b2) * g * g;
      double vh = v[j];
      if (amsgrad) vh = vmax[j] = std::max(vmax[j], v[j]);
      double mhat = m[j] / (1 - std::pow(b1, t));
      double vhat = vh / (1 - std::pow(b2, t));
      p[j] -= lr * mhat / (std::sqrt(vhat) + eps);
    }
  }
};

struct RefRMSprop {
  double lr, alpha = 0.99, eps = 1e-8, wd = 0, momentum = 0;
  bool centered = false;
  Vec v = Vec(kN), gavg = Vec(kN), buf = Vec(kN);
  void step(Vec& p, const Vec& grad) {
    for (int j = 0; j < kN; ++j) {
      double g = grad[j] + wd * p[j];
      v[j] = alpha * v[j] + (1 - alpha) * g * g;
      double vt = v[j];
      if (centered) {
        gavg[j] = alpha * gavg[j] + (1 - alpha) * g;
        vt -= gavg[j] * gavg[j];
      }
      if (momentum > 0) {
        buf[j] = momentum * buf[j] + g / (std::sqrt(vt) + eps);
        p[j] -= lr * buf[j];
      } else {
        p[j] -= lr * g / (std::sqrt(vt) + eps);
      }
    }
  }
};

struct RefAdagrad {
  double lr, lr_decay = 0, wd = 0, init = 0, eps = 1e-10;
  Vec sum{};
  int t = 0;
  void step(Vec& p, const Vec& grad) {
    if (sum.empty()) sum.assign(kN, init);
    ++t;
    double clr = lr / (1 + (t - 1) * lr_decay);
    for (int j = 0; j < kN; ++j) {
      double g = grad[j] + wd * p[j];
      sum[j] += g * g;
      p[j] -= clr * g / (std::sqrt(sum[j]) + eps);
    }
  }
};

// Runs `steps` steps of opt and ref on the same gradients and compares after each.
template <typename Ref>
void run_against(Optimizer& opt, Ref& ref, int steps, double tol, int first_k = 0) {
  const Tensor& p = opt.params()[0];
  Vec want = vec(p);
  for (int k = first_k; k < first_k + steps; ++k) {
    Vec g = grad_at(k);
    set_grad(p, g);
    opt.step();
    ref.step(want, g);
    check_close(vec(p), want, tol, opt.name() + " step " + std::to_string(k));
  }
}

}  // namespace

TEST_CASE("SGD matches the documented update") {
  struct Case { SGDOptions o; const char* what; };
  for (auto c : {Case{{}, "plain"}, Case{{.weight_decay = 0.1}, "weight decay"},
                 Case{{.momentum = 0.9}, "momentum"}, Case{{.momentum = 0.8, .dampening = 0.3}, "dampening"},
                 Case{{.momentum = 0.9, .nesterov = true, .weight_decay = 0.05}, "nesterov + wd"}}) {
    INFO(c.what);
    Tensor p = make_param(initial_param());
    SGD opt({p}, 0.1, c.o);
    RefSGD ref{.lr = 0.1, .momentum = c.o.momentum, .dampening = c.o.dampening, .wd = c.o.weight_decay,
               .nesterov = c.o.nesterov};
    run_against(opt, ref, 4, 1e-13);
    CHECK(opt.step_count() == 4);
  }
}

TEST_CASE("Adam and AdamW match the documented update") {
  for (bool amsgrad : {false, true})
    for (double wd : {0.0, 0.1}) {
      INFO("amsgrad ", amsgrad, " wd ", wd);
      {
        Tensor p = make_param(initial_param());
        Adam opt({p}, 0.05, {.beta1 = 0.8, .beta2 = 0.95, .weight_decay = wd, .amsgrad = amsgrad});
        RefAdam ref{.lr = 0.05, .b1 = 0.8, .b2 = 0.95, .wd = wd, .amsgrad = amsgrad};
        run_against(opt, ref, 5, 1e-12);
      }
      {
        Tensor p = make_param(initial_param());
        AdamW opt({p}, 0.05, {.beta1 = 0.8, .beta2 = 0.95, .weight_decay = wd, .amsgrad = amsgrad});
        RefAdam ref{.lr = 0.05, .b1 = 0.8, .b2 = 0.95, .wd = wd, .amsgrad = amsgrad, .decoupled = true};
        run_against(opt, ref, 5, 1e-12);
      }
    }
  // Defaults are PyTorch's.
  Tensor p = make_param(initial_param());
  Adam a({p});
  CHECK(a.lr() == 1e-3);
  CHECK(a.options().beta1 == 0.9);
  CHECK(a.options().beta2 == 0.999);
  CHECK(a.options().eps == 1e-8);
  CHECK(a.options().weight_decay == 0);
  AdamW w({p});
  CHECK(w.options().weight_decay == 1e-2);
  RefAdam ref{.lr = 1e-3, .wd = 1e-2, .decoupled = true};
  run_against(w, ref, 3, 1e-12);
}

TEST_CASE("Adam on float32 parameters keeps float32 state") {
  Tensor p = make_param(initial_param(), DType::Float32);
  Adam opt({p}, 0.01, {.amsgrad = true});
  RefAdam ref{.lr = 0.01, .amsgrad = true};
  run_against(opt, ref, 4, 2e-6);
  NamedTensors sd = opt.state_dict();
  CHECK(sd.at("state.0.exp_avg").dtype() == DType::Float32);
  CHECK(sd.at("state.0.max_exp_avg_sq").dtype() == DType::Float32);
  CHECK(sd.at("state.0.step").item<int64_t>() == 4);
}

TEST_CASE("RMSprop matches the documented update") {
  struct Case { RMSpropOptions o; const char* what; };
  for (auto c : {Case{{}, "plain"}, Case{{.alpha = 0.9, .weight_decay = 0.1}, "weight decay"},
                 Case{{.momentum = 0.7}, "momentum"}, Case{{.centered = true}, "centered"},
                 Case{{.alpha = 0.8, .eps = 1e-6, .weight_decay = 0.02, .momentum = 0.5, .centered = true},
                      "everything"}}) {
    INFO(c.what);
    Tensor p = make_param(initial_param());
    RMSprop opt({p}, 0.01, c.o);
    RefRMSprop ref{.lr = 0.01, .alpha = c.o.alpha, .eps = c.o.eps, .wd = c.o.weight_decay,
                   .momentum = c.o.momentum, .centered = c.o.centered};
    run_against(opt, ref, 5, 1e-12);
  }
  Tensor p = make_param(initial_param());
  RMSprop d({p});
  CHECK(d.lr() == 1e-2);
  CHECK(d.options().alpha == 0.99);
}

TEST_CASE("Adagrad matches the documented update") {
  struct Case { AdagradOptions o; const char* what; };
  for (auto c : {Case{{}, "plain"}, Case{{.lr_decay = 0.1}, "lr decay"},
                 Case{{.weight_decay = 0.1, .initial_accumulator_value = 0.5}, "wd + initial value"}}) {
    INFO(c.what);
    Tensor p = make_param(initial_param());
    Adagrad opt({p}, 0.1, c.o);
    RefAdagrad ref{.lr = 0.1, .lr_decay = c.o.lr_decay, .wd = c.o.weight_decay,
                   .init = c.o.initial_accumulator_value};
    run_against(opt, ref, 4, 1e-12);
  }
  // The state exists before the first step, as in PyTorch.
  Tensor p = make_param(initial_param());
  Adagrad opt({p}, 0.1, {.initial_accumulator_value = 0.25});
  NamedTensors sd = opt.state_dict();
  CHECK(sd.at("state.0.step").item<int64_t>() == 0);
  CHECK(vec(sd.at("state.0.sum")) == Vec(kN, 0.25));
}

TEST_CASE("non-contiguous gradients") {
  Tensor p = make_param(initial_param());
  Adam opt({p}, 0.05, {.weight_decay = 0.1});
  RefAdam ref{.lr = 0.05, .wd = 0.1};
  Vec want = vec(p);
  for (int k = 0; k < 3; ++k) {
    Vec g = grad_at(k);
    // The same values laid out transposed: a (3, 2) tensor viewed as (2, 3).
    Vec gt(kN);
    for (int r = 0; r < 2; ++r)
      for (int c = 0; c < 3; ++c) gt[c * 2 + r] = g[r * 3 + c];
    Tensor view = tensor<double>(gt, {3, 2}).t();
    REQUIRE_FALSE(view.is_contiguous());
    p.set_grad(view);
    opt.step();
    ref.step(want, g);
    check_close(vec(p), want, 1e-12, "transposed grad");
  }
}

namespace {

using Factory = std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)>;

// Two steps, save, load into a fresh optimizer over a copy, then three more steps on both:
// every value must agree bitwise.
void check_round_trip(const Factory& make, const std::string& what) {
  INFO(what);
  Tensor p = make_param(initial_param());
  Tensor q = make_param({1.0, 2.0, -3.0, 0.25, 0.5, -0.75});
  auto a = make({p, q});
  for (int k = 0; k < 2; ++k) {
    set_grad(p, grad_at(k));
    set_grad(q, grad_at(k + 7));
    a->step();
  }
  NamedTensors sd = a->state_dict();
  Tensor p2 = p.detach().clone().requires_grad_();
  Tensor q2 = q.detach().clone().requires_grad_();
  auto b = make({p2, q2});
  b->load_state_dict(sd);
  CHECK(b->step_count() == 2);
  for (int k = 2; k < 5; ++k) {
    for (auto* opt : {a.get(), b.get()}) {
      set_grad(opt->params()[0], grad_at(k));
      set_grad(opt->params()[1], grad_at(k + 7));
      opt->step();
    }
    CHECK(vec(p) == vec(p2));
    CHECK(vec(q) == vec(q2));
  }
  // The saved dict was a copy: the later steps did not change it.
  NamedTensors now = a->state_dict();
  CHECK(now.at("step").item<int64_t>() == 5);
  CHECK(sd.at("step").item<int64_t>() == 2);
  for (const auto& [k, t] : b->state_dict()) CHECK(vec(t) == vec(now.at(k)));
}

}  // namespace

TEST_CASE("state_dict round trips reproduce later steps exactly") {
  check_round_trip([](auto ps) { return std::make_unique<SGD>(ps, 0.1, SGDOptions{.momentum = 0.9, .nesterov = true}); },
                   "SGD nesterov");
  check_round_trip([](auto ps) { return std::make_unique<SGD>(ps, 0.1); }, "SGD plain");
  check_round_trip([](auto ps) { return std::make_unique<Adam>(ps, 0.01, AdamOptions{.amsgrad = true}); },
                   "Adam amsgrad");
  check_round_trip([](auto ps) { return std::make_unique<AdamW>(ps, 0.01); }, "AdamW");
  check_round_trip(
      [](auto ps) { return std::make_unique<RMSprop>(ps, 0.01, RMSpropOptions{.momentum = 0.9, .centered = true}); },
      "RMSprop centered momentum");
  check_round_trip([](auto ps) { return std::make_unique<Adagrad>(ps, 0.1, AdagradOptions{.lr_decay = 0.01}); },
                   "Adagrad");
}

TEST_CASE("state_dict keys and load errors") {
  Tensor p = make_param(initial_param());
  Adam a({p}, 0.01, {.amsgrad = true});
  set_grad(p, grad_at(0));
  a.step();
  NamedTensors sd = a.state_dict();
  CHECK(sd.keys() == std::vector<std::string>{"step", "lr", "state.0.step", "state.0.exp_avg", "state.0.exp_avg_sq",
                                              "state.0.max_exp_avg_sq"});
  CHECK(sd.at("step").dim() == 0);
  CHECK(sd.at("lr").item<double>() == 0.01);

  auto without = [&](const std::string& drop) {
    NamedTensors out;
    for (const auto& [k, t] : sd)
      if (k != drop) out.insert(k, t);
    return out;
  };
  Tensor p2 = make_param(initial_param());
  Adam b({p2}, 0.01, {.amsgrad = true});
  CHECK_THROWS_WITH_AS(b.load_state_dict(without("state.0.exp_avg_sq")), doctest::Contains("state.0.exp_avg_sq"), Error);
  CHECK_THROWS_WITH_AS(b.load_state_dict(without("step")), doctest::Contains("'step'"), Error);
  NamedTensors bad_shape = sd;
  bad_shape.insert("state.0.exp_avg", zeros({3, 2}, DType::Float64));
  CHECK_THROWS_WITH_AS(b.load_state_dict(bad_shape), doctest::Contains("state.0.exp_avg"), Error);
  NamedTensors extra = sd;
  extra.insert("state.1.exp_avg", zeros({2, 3}, DType::Float64));
  CHECK_THROWS_WITH_AS(b.load_state_dict(extra), doctest::Contains("state.1.exp_avg"), Error);
  // Options must agree: a non-amsgrad Adam does not know max_exp_avg_sq.
  Adam c({p2}, 0.01);
  CHECK_THROWS_WITH_AS(c.load_state_dict(sd), doctest::Contains("max_exp_avg_sq"), Error);
  // A failed load leaves the optimizer as it was.
  CHECK(b.state_dict().size() == 2);
  CHECK(b.step_count() == 0);
  // Loading restores the learning rate too.
  a.set_lr(0.5);
  b.load_state_dict(a.state_dict());
  CHECK(b.lr() == 0.5);
}

TEST_CASE("optimizer load_state_dict names the optimizer and changes nothing on error") {
  Tensor p = make_param(initial_param());
  Adam a({p}, 0.01);
  set_grad(p, grad_at(0));
  a.step();
  const NamedTensors sd = a.state_dict();
  Tensor p2 = make_param(initial_param());
  Adam b({p2}, 0.02);
  auto drop = [&](const std::string& key) {
    NamedTensors out;
    for (const auto& [k, t] : sd)
      if (k != key) out.insert(k, t);
    return out;
  };
  CHECK_THROWS_WITH_AS(b.load_state_dict(drop("lr")), "Adam.load_state_dict: missing entry 'lr'", Error);
  CHECK_THROWS_WITH_AS(b.load_state_dict(drop("state.0.exp_avg")),
                       "Adam.load_state_dict: missing entry 'state.0.exp_avg'", Error);
  NamedTensors inf_step = sd;
  inf_step.insert("step", full({}, INFINITY, DType::Float64));
  CHECK_THROWS_WITH_AS(b.load_state_dict(inf_step), doctest::Contains("'step' must hold a non-negative integer"),
                       Error);
  NamedTensors undefined = sd;
  undefined.insert("state.0.exp_avg_sq", Tensor());
  CHECK_THROWS_WITH_AS(b.load_state_dict(undefined), doctest::Contains("'state.0.exp_avg_sq' is an undefined"), Error);
  CHECK(b.step_count() == 0);
  CHECK(b.lr() == 0.02);
  CHECK(b.state_dict().size() == 2);
}

TEST_CASE("zero_grad in both modes") {
  Tensor p = make_param(initial_param());
  Tensor q = make_param(initial_param());
  SGD opt({p, q}, 0.1);
  set_grad(p, grad_at(0));
  Tensor g = p.grad();
  opt.zero_grad(/*set_to_none=*/false);
  CHECK(p.grad().defined());
  CHECK(p.grad().is_same(g));  // zeroed in place
  CHECK(vec(p.grad()) == Vec(kN, 0.0));
  CHECK_FALSE(q.grad().defined());
  opt.zero_grad();
  CHECK_FALSE(p.grad().defined());
  // Gradients from backward, then zeroed: the next backward accumulates from zero.
  (p * 2.0).sum().backward();
  opt.zero_grad(false);
  (p * 3.0).sum().backward();
  CHECK(vec(p.grad()) == Vec(kN, 3.0));
}

TEST_CASE("parameters without a gradient are skipped") {
  Tensor p = make_param(initial_param());
  Tensor q = make_param(initial_param());
  Adam opt({p, q}, 0.05);
  RefAdam rp{.lr = 0.05}, rq{.lr = 0.05};
  Vec wp = vec(p), wq = vec(q);
  for (int k = 0; k < 2; ++k) {  // only p has a gradient
    set_grad(p, grad_at(k));
    opt.step();
    rp.step(wp, grad_at(k));
  }
  CHECK(vec(q) == initial_param());
  NamedTensors sd = opt.state_dict();
  CHECK(sd.contains("state.0.exp_avg"));
  CHECK_FALSE(sd.contains("state.1.exp_avg"));
  // q's first update uses its own step count (bias correction for t = 1).
  set_grad(q, grad_at(5));
  opt.zero_grad();
  set_grad(q, grad_at(5));
  const Vec p_before = vec(p);
  opt.step();
  rq.step(wq, grad_at(5));
  check_close(vec(q), wq, 1e-12, "q");
  check_close(vec(p), wp, 1e-12, "p");
  CHECK(vec(p) == p_before);
  CHECK(opt.state_dict().at("state.1.step").item<int64_t>() == 1);
  CHECK(opt.state_dict().at("state.0.step").item<int64_t>() == 2);
  CHECK(opt.step_count() == 3);
  // Same for SGD momentum: no buffer for a parameter that never had a gradient.
  SGD sgd({p, q}, 0.1, {.momentum = 0.9});
  opt.zero_grad();
  set_grad(q, grad_at(1));
  sgd.step();
  CHECK(sgd.state_dict().contains("state.1.momentum_buffer"));
  CHECK_FALSE(sgd.state_dict().contains("state.0.momentum_buffer"));
}

TEST_CASE("bad hyperparameters and parameters throw") {
  Tensor p = make_param(initial_param());
  auto throws = [](auto fn, const char* needle) { CHECK_THROWS_WITH_AS(fn(), doctest::Contains(needle), Error); };
  throws([&] { SGD({p}, -0.1); }, "learning rate -0.1");
  throws([&] { SGD({p}, 0.1, {.momentum = -1}); }, "SGD: invalid momentum -1");
  throws([&] { SGD({p}, 0.1, {.weight_decay = -1}); }, "SGD: invalid weight_decay");
  throws([&] { SGD({p}, 0.1, {.nesterov = true}); }, "nesterov");
  throws([&] { SGD({p}, 0.1, {.momentum = 0.9, .dampening = 0.1, .nesterov = true}); }, "dampening 0.1");
  throws([&] { Adam({p}, 0.1, {.beta1 = 1.0}); }, "Adam: invalid beta1 1");
  throws([&] { Adam({p}, 0.1, {.beta2 = -0.5}); }, "Adam: invalid beta2 -0.5");
  throws([&] { Adam({p}, 0.1, {.eps = -1e-8}); }, "Adam: invalid eps");
  throws([&] { Adam({p}, 0.1, {.weight_decay = -0.1}); }, "Adam: invalid weight_decay");
  throws([&] { AdamW({p}, 0.1, {.beta1 = 1.5}); }, "AdamW: invalid beta1 1.5");
  throws([&] { AdamW({p}, -1); }, "AdamW: invalid learning rate");
  throws([&] { RMSprop({p}, 0.1, {.alpha = -0.1}); }, "RMSprop: invalid alpha");
  throws([&] { RMSprop({p}, 0.1, {.eps = -1}); }, "RMSprop: invalid eps");
  throws([&] { RMSprop({p}, 0.1, {.momentum = -1}); }, "RMSprop: invalid momentum");
  throws([&] { Adagrad({p}, 0.1, {.lr_decay = -1}); }, "Adagrad: invalid lr_decay");
  throws([&] { Adagrad({p}, 0.1, {.initial_accumulator_value = -1}); }, "initial_accumulator_value");
  throws([&] { Adagrad({p}, 0.1, {.eps = -1}); }, "Adagrad: invalid eps");
  SGD ok({p}, 0.1);
  throws([&] { ok.set_lr(-2); }, "learning rate -2");

  throws([&] { SGD({}, 0.1); }, "empty parameter list");
  throws([&] { SGD({zeros({2}, DType::Int64)}, 0.1); }, "floating-point");
  throws([&] { SGD({zeros({2}, DType::Float32)}, 0.1); }, "does not require grad");
  throws([&] { SGD({p * 2.0}, 0.1); }, "not a leaf");
  throws([&] { SGD({p, p}, 0.1); }, "same tensor");
  throws([&] { SGD({Tensor()}, 0.1); }, "undefined");
}

TEST_CASE("StepLR, CosineAnnealingLR, LinearLR follow PyTorch's formulas") {
  Tensor p = make_param(initial_param());
  auto check_seq = [](LRScheduler& s, Optimizer& opt, const Vec& want) {
    for (size_t e = 0; e < want.size(); ++e) {
      INFO("epoch ", e);
      if (e > 0) s.step();
      CHECK(s.last_epoch() == int64_t(e));
      CHECK(s.get_last_lr() == doctest::Approx(want[e]).epsilon(1e-12));
      CHECK(opt.lr() == s.get_last_lr());
    }
  };
  {
    SGD opt({p}, 0.1);
    StepLR s(opt, 3, 0.5);
    check_seq(s, opt, {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025});
  }
  {
    SGD opt({p}, 1.0);
    CosineAnnealingLR s(opt, 4, 0.0);
    const double c = std::cos(std::numbers::pi / 4);
    check_seq(s, opt, {1.0, (1 + c) / 2, 0.5, (1 - c) / 2, 0.0, (1 - c) / 2});
  }
  {
    SGD opt({p}, 0.2);
    CosineAnnealingLR s(opt, 10, 0.02);
    Vec want;
    for (int e = 0; e < 6; ++e) want.push_back(0.02 + 0.18 * (1 + std::cos(std::numbers::pi * e / 10)) / 2);
    check_seq(s, opt, want);
  }
  {
    SGD opt({p}, 0.3);
    LinearLR s(opt);  // start 1/3, end 1, 5 iterations
    check_seq(s, opt, {0.1, 0.14, 0.18, 0.22, 0.26, 0.3, 0.3, 0.3});
    CHECK(s.base_lr() == 0.3);
  }
  {
    SGD opt({p}, 1.0);
    LinearLR s(opt, 1.0, 0.5, 2);  // decay
    check_seq(s, opt, {1.0, 0.75, 0.5, 0.5});
  }
  SGD opt({p}, 0.1);
  CHECK_THROWS_WITH_AS(StepLR(opt, 0), doctest::Contains("step_size"), Error);
  CHECK_THROWS_WITH_AS(CosineAnnealingLR(opt, 0), doctest::Contains("T_max"), Error);
  CHECK_THROWS_WITH_AS(LinearLR(opt, 0.0), doctest::Contains("start_factor"), Error);
  CHECK_THROWS_WITH_AS(LinearLR(opt, 0.5, 1.5), doctest::Contains("end_factor"), Error);
}

TEST_CASE("OneCycleLR follows PyTorch's two-phase cosine schedule") {
  Tensor p = make_param(initial_param());
  SGD opt({p}, 123.0);  // ignored: the schedule starts at max_lr / div_factor
  OneCycleLR s(opt, 1.0, 10);  // pct_start 0.3: peak at step 2; final at step 9
  const double min_lr = 0.04 / 1e4;
  auto down = [&](double pct) { return min_lr + (1 - min_lr) / 2 * (1 + std::cos(std::numbers::pi * pct)); };
  Vec want = {0.04, 0.52, 1.0};
  for (int e = 3; e <= 10; ++e) want.push_back(down((e - 2) / 7.0));
  for (size_t e = 0; e < want.size(); ++e) {
    INFO("step ", e);
    if (e > 0) s.step();
    CHECK(s.get_last_lr() == doctest::Approx(want[e]).epsilon(1e-12));
    CHECK(opt.lr() == s.get_last_lr());
  }
  CHECK(want[9] == doctest::Approx(min_lr));
  CHECK(s.base_lr() == doctest::Approx(0.04));
  CHECK_THROWS_WITH_AS(s.step(), doctest::Contains("total_steps"), Error);
  CHECK_THROWS_WITH_AS(OneCycleLR(opt, 1.0, 10, 1.5), doctest::Contains("pct_start"), Error);
  CHECK_THROWS_WITH_AS(OneCycleLR(opt, 1.0, 0), doctest::Contains("total_steps"), Error);

  // The scheduled lr is the one the optimizer steps with.
  SGD opt2({p}, 0.5);
  LinearLR warm(opt2, 0.5, 1.0, 2);
  Vec before = vec(p);
  set_grad(p, Vec(kN, 1.0));
  opt2.step();
  for (int j = 0; j < kN; ++j) CHECK(vec(p)[j] == doctest::Approx(before[j] - 0.25));
}

TEST_CASE("clip_grad_norm_ and clip_grad_value_") {
  Tensor a = tensor<double>({3, -4}, {2}).requires_grad_();
  Tensor b = tensor<float>({12}, {1}).requires_grad_();
  Tensor none = tensor<double>({1, 2}).requires_grad_();  // no gradient: skipped
  auto reset = [&] {
    a.set_grad(tensor<double>({3, -4}, {2}));
    b.set_grad(tensor<float>({12}, {1}));
  };
  reset();
  CHECK(clip_grad_norm_({a, b, none}, 20.0).item<double>() == doctest::Approx(13.0).epsilon(1e-14));
  CHECK(vec(a.grad()) == Vec{3, -4});  // under the limit: untouched
  CHECK(vec(b.grad()) == Vec{12});

  const double coef = 6.5 / (13 + 1e-6);
  CHECK(clip_grad_norm_({a, b, none}, 6.5).item<double>() == doctest::Approx(13.0).epsilon(1e-14));
  check_close(vec(a.grad()), {3 * coef, -4 * coef}, 1e-15, "a clipped");
  check_close(vec(b.grad()), {12 * coef}, 1e-7, "b clipped");
  CHECK_FALSE(none.grad().defined());

  reset();
  CHECK(clip_grad_norm_({a, b}, 100.0, INFINITY).item<double>() == 12.0);
  CHECK(clip_grad_norm_({a, b}, 100.0, 1.0).item<double>() == doctest::Approx(19.0).epsilon(1e-14));
  const double n3 = std::cbrt(27.0 + 64.0 + 1728.0);
  CHECK(clip_grad_norm_({a, b}, 100.0, 3.0).item<double>() == doctest::Approx(n3).epsilon(1e-13));
  CHECK(clip_grad_norm_({a, b}, 6.0, INFINITY).item<double>() == 12.0);
  check_close(vec(a.grad()), {3 * 6 / (12 + 1e-6), -4 * 6 / (12 + 1e-6)}, 1e-15, "inf clipped");
  CHECK(clip_grad_norm_({none}, 1.0).item<double>() == 0.0);

  reset();
  a.set_grad(tensor<double>({NAN, 1}, {2}));
  CHECK(std::isnan(clip_grad_norm_({a, b}, 1.0).item<double>()));
  CHECK(std::isnan(vec(b.grad())[0]));  // scaled by NaN, as PyTorch does
  reset();
  a.set_grad(tensor<double>({INFINITY, 1}, {2}));
  CHECK_THROWS_WITH_AS(clip_grad_norm_({a, b}, 1.0, 2.0, true), doctest::Contains("inf"), Error);
  CHECK_THROWS_WITH_AS(clip_grad_norm_({a}, -1.0), doctest::Contains("max_norm"), Error);
  CHECK_THROWS_WITH_AS(clip_grad_norm_({a}, 1.0, 0.0), doctest::Contains("norm_type"), Error);

  reset();
  clip_grad_value_({a, b, none}, 3.5);
  CHECK(vec(a.grad()) == Vec{3, -3.5});
  CHECK(vec(b.grad()) == Vec{3.5});
  CHECK_THROWS_WITH_AS(clip_grad_value_({a}, -1), doctest::Contains("clip_value"), Error);
}

namespace {

// Fits y = 3x + 1 with a 1x1 weight and a bias; returns the final mean squared error.
double fit_line(const std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)>& make, int steps) {
  Tensor x = linspace(-1, 1, 16).reshape({16, 1});
  Tensor y = x * 3.0 + 1.0;
  Tensor w = zeros({1, 1}).requires_grad_();
  Tensor b = zeros({1}).requires_grad_();
  auto opt = make({w, b});
  double loss_value = 0;
  for (int i = 0; i < steps; ++i) {
    opt->zero_grad();
    Tensor d = matmul(x, w) + b - y;
    Tensor loss = (d * d).mean();
    loss.backward();
    opt->step();
    loss_value = loss.item<float>();
  }
  INFO("w ", w.item<float>(), " b ", b.item<float>());
  CHECK(w.item<float>() == doctest::Approx(3.0).epsilon(0.02));
  CHECK(b.item<float>() == doctest::Approx(1.0).epsilon(0.02));
  return loss_value;
}

}  // namespace

TEST_CASE("end to end: fit a line through autograd") {
  double sgd = fit_line([](auto ps) { return std::make_unique<SGD>(ps, 0.1, SGDOptions{.momentum = 0.9}); }, 150);
  CHECK(sgd < 1e-4);
  double adam = fit_line([](auto ps) { return std::make_unique<Adam>(ps, 0.1); }, 300);
  CHECK(adam < 1e-3);
  double adamw = fit_line([](auto ps) { return std::make_unique<AdamW>(ps, 0.1, AdamWOptions{.weight_decay = 0}); }, 300);
  CHECK(adamw < 1e-3);
}

TEST_CASE("AdamW parameter groups: each group's weight decay, the same bits as separate optimizers") {
  auto make = [] {
    Tensor w = tensor<double>({0.5, -1.5, 2.0, 0.25}, {2, 2}).requires_grad_();
    Tensor b = tensor<double>({0.75, -0.5}, {2}).requires_grad_();
    return std::pair{w, b};
  };
  auto grads = [](const Tensor& w, const Tensor& b, int step) {
    w.set_grad(tensor<double>({0.1 * step, -0.2, 0.3, 0.05}, {2, 2}));
    b.set_grad(tensor<double>({-0.4, 0.2 * step}, {2}));
  };
  auto [w1, b1] = make();
  auto [w2, b2] = make();
  AdamW grouped({{{w1}, 0.1}, {{b1}, 0.0}}, 1e-2, {.beta2 = 0.99});
  AdamW decayed({w2}, 1e-2, {.beta2 = 0.99, .weight_decay = 0.1}), plain({b2}, 1e-2, {.beta2 = 0.99, .weight_decay = 0.0});
  CHECK(grouped.weight_decay_of(0) == 0.1);
  CHECK(grouped.weight_decay_of(1) == 0.0);
  for (int s = 1; s <= 4; ++s) {
    grads(w1, b1, s);
    grads(w2, b2, s);
    grouped.step();
    decayed.step();
    plain.step();
  }
  CHECK(vec(w1) == vec(w2));
  CHECK(vec(b1) == vec(b2));
  // A group without a value takes the optimizer's; a bad one is named.
  AdamW defaulted({{{w1}, std::nullopt}, {{b1}, 0.0}}, 1e-2, {.weight_decay = 0.3});
  CHECK(defaulted.weight_decay_of(0) == 0.3);
  CHECK_THROWS_WITH_AS(AdamW({{{w1}, 0.1}, {{b1}, -1.0}}, 1e-2), doctest::Contains("parameter group 1"), Error);
}

TEST_CASE("WarmupCosineLR follows nanoGPT's get_lr") {
  Tensor w = tensor<double>({1.0}, {1}).requires_grad_();
  AdamW opt({w}, 1e-3);
  WarmupCosineLR sched(opt, /*warmup_iters=*/100, /*decay_iters=*/2000, /*min_lr=*/1e-4);
  auto nanogpt = [](int64_t it) {  // train.py's get_lr, transcribed
    const double lr = 1e-3, min_lr = 1e-4;
    if (it < 100) return lr * double(it + 1) / 101.0;
    if (it > 2000) return min_lr;
    const double r = double(it - 100) / 1900.0;
    return min_lr + 0.5 * (1.0 + std::cos(std::numbers::pi * r)) * (lr - min_lr);
  };
  for (int64_t it = 0; it <= 2100; ++it) {
    if (it > 0) sched.step();
    INFO("iteration ", it);
    CHECK(opt.lr() == doctest::Approx(nanogpt(it)).epsilon(1e-15));
  }
  CHECK(opt.lr() == 1e-4);
  CHECK_THROWS_WITH_AS(WarmupCosineLR(opt, 100, 100, 1e-4), doctest::Contains("warmup_iters"), Error);
  CHECK_THROWS_WITH_AS(WarmupCosineLR(opt, 10, 100, 1.0), doctest::Contains("min_lr"), Error);
}
