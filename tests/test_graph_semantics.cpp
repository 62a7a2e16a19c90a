// Graph mode computes what eager mode computes on programs with views, in-place writes,
// aliasing and host state, or refuses them: one case per defect found by differential
// fuzzing (tests/fuzz/), each run eagerly and compiled side by side. Every compiled
// function here captures on its first call (warmup_calls = 0) unless a case says so.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>

#include "autograd/autograd.h"
#include "graph/graph.h"
#include "nn/nn.h"
#include "optim/optim.h"
#include "tests/test_support.h"

using namespace duet;

namespace {

using Fn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;
using V = std::vector<Tensor>;

std::vector<double> vals(const Tensor& t) { return testing::values_of(t); }

graph::CompiledFunction compile_now(Fn fn) { return graph::compile(std::move(fn), {.warmup_calls = 0}); }

}  // namespace

TEST_CASE("a write through a view of an intermediate reaches its base") {
  Fn fn = [](const V& in) {
    Tensor a = in[0] * 2.0;
    a.slice(0, 0, 2).add_(1.0);
    return V{a};
  };
  auto f = compile_now(fn);
  CHECK(vals(f({ones({4})})[0]) == std::vector<double>{3, 3, 2, 2});
  CHECK(vals(f({ones({4})})[0]) == vals(fn({ones({4})})[0]));
  // With gradients recorded, eager mode refuses the write into a view; so does capture.
  auto g = compile_now(fn);
  CHECK_THROWS_WITH_AS(fn({ones({4}).requires_grad_()}), doctest::Contains("view"), Error);
  CHECK_THROWS_WITH_AS(g({ones({4}).requires_grad_()}), doctest::Contains("view"), Error);
}

TEST_CASE("a view taken before an in-place write sees the write") {
  Fn fn = [](const V& in) {
    Tensor a = in[0] * 2.0;
    Tensor v = a.t();
    a.add_(1.0);
    return V{v, a.select(0, 1)};
  };
  auto f = compile_now(fn);
  for (int call = 0; call < 2; ++call) {
    V got = f({ones({2, 3})}), want = fn({ones({2, 3})});
    CHECK(vals(got[0]) == std::vector<double>(6, 3.0));
    CHECK(got[0].strides() == want[0].strides());  // returned with eager's layout
    CHECK(vals(got[1]) == vals(want[1]));
  }
}

TEST_CASE("in-place writes into inputs and closure tensors are written back") {
  Tensor closure = ones({2});
  auto f = compile_now([&](const V& in) {
    in[0].mul_(2.0);
    closure.add_(in[0]);
    return V{in[0].sum()};
  });
  Tensor x = ones({2});
  f({x});
  CHECK(vals(x) == std::vector<double>{2, 2});
  CHECK(vals(closure) == std::vector<double>{3, 3});
  Tensor x2 = ones({3, 2}).t();  // a non-contiguous input is written through its own layout
  auto g = compile_now([](const V& in) {
    in[0].select(0, 1).fill_(5.0);
    return V{};
  });
  g({x2});
  CHECK(vals(x2) == std::vector<double>{1, 1, 1, 5, 5, 5});
}

TEST_CASE("an identity op on a view of a parameter keeps the value from before the update") {
  // x * 1, x + (-0), a same-dtype cast, neg(neg(x)) and copy_ all give x's values, and
  // graph mode may simplify them away; the returned value must still be the old one.
  std::vector<std::function<Tensor(const Tensor&)>> identities = {
      [](const Tensor& r) { return r * 1.0; },
      [](const Tensor& r) { return r + full({}, -0.0); },
      [](const Tensor& r) { return cast(r, DType::Float32); },
      [](const Tensor& r) { return neg(neg(r)); },
      [](const Tensor& r) {
        Tensor c = zeros({2});
        c.copy_(r);
        return c;
      },
      [](const Tensor& r) { return r; },
  };
  for (size_t k = 0; k < identities.size(); ++k) {
    std::vector<double> results[2];
    for (int mode = 0; mode < 2; ++mode) {
      Tensor w = full({2, 2}, 0.8).requires_grad_();
      optim::SGD sgd({w}, 0.1);
      Fn step = [&](const V& in) {
        Tensor before = identities[k](w.select(0, 0));
        (w * in[0]).sum().backward();
        sgd.step();
        sgd.zero_grad();
        return V{before};
      };
      auto compiled = compile_now(step);
      Tensor out = mode ? compiled({ones({2, 2})})[0] : step({ones({2, 2})})[0];
      results[mode] = vals(out);
    }
    CHECK_MESSAGE(results[1] == results[0], "identity ", k);
    const std::vector<double> old_row(2, double(0.8f));
    if (k + 1 < identities.size()) CHECK_MESSAGE((results[0] == old_row), "identity ", k);
  }
}

TEST_CASE("optimizer state made on the first step is not frozen into the graph") {
  // With warmup_calls = 0 the first call would capture SGD's momentum branch for a buffer
  // that does not exist yet; it runs eagerly instead and a later call captures.
  for (int which = 0; which < 3; ++which) {
    std::vector<double> results[2];
    for (int mode = 0; mode < 2; ++mode) {
      Tensor p = full({3}, 1.0).requires_grad_();
      std::unique_ptr<optim::Optimizer> opt;
      if (which == 0) opt = std::make_unique<optim::SGD>(std::vector<Tensor>{p}, 0.1, optim::SGDOptions{.momentum = 0.9});
      if (which == 1) opt = std::make_unique<optim::Adam>(std::vector<Tensor>{p}, 0.1);
      if (which == 2) opt = std::make_unique<optim::RMSprop>(std::vector<Tensor>{p}, 0.1);
      Fn step = [&](const V& in) {
        (p * in[0]).sum().backward();
        opt->step();
        opt->zero_grad();
        return V{};
      };
      auto compiled = compile_now(step);
      for (int i = 0; i < 3; ++i) mode ? compiled({full({3}, 1.0)}) : step({full({3}, 1.0)});
      results[mode] = vals(p);
      if (mode) CHECK(compiled.eager_calls() == 1);
    }
    CHECK_MESSAGE(results[1] == results[0], "optimizer ", which);
  }
}

TEST_CASE("Adam steps 0-dim parameters of every float dtype in a compiled step") {
  for (DType dt : {DType::Float32, DType::Float16, DType::BFloat16, DType::Float64}) {
    std::vector<double> results[2];
    for (int mode = 0; mode < 2; ++mode) {
      Tensor p = full({}, 0.5, dt).requires_grad_();
      optim::Adam opt({p}, 0.01);
      Fn step = [&](const V& in) {
        (p * in[0]).sum().backward();
        opt.step();
        opt.zero_grad();
        return V{};
      };
      auto compiled = graph::compile(step);  // one eager warm-up call makes Adam's state
      for (int i = 0; i < 4; ++i) mode ? compiled({full({}, 2.0, dt)}) : step({full({}, 2.0, dt)});
      results[mode] = vals(p);
    }
    CHECK_MESSAGE(results[1] == results[0], dtype_name(dt));
  }
}

TEST_CASE("a saved tensor changed in place is an error in graph mode too") {
  Tensor w = full({3}, 0.5).requires_grad_();
  Fn fn = [&](const V& in) {
    Tensor y = exp(w * in[0]);
    y.add_(1.0);
    return autograd::grad({y.sum()}, {w});
  };
  CHECK_THROWS_WITH_AS(fn({ones({3})}), doctest::Contains("modified by an in-place operation"), Error);
  auto f = compile_now(fn);
  CHECK_THROWS_WITH_AS(f({ones({3})}), doctest::Contains("modified by an in-place operation"), Error);
}

TEST_CASE("a failed capture leaves nothing behind") {
  Tensor p = full({2}, 1.0).requires_grad_(), p_eager = full({2}, 1.0).requires_grad_();
  optim::Adam opt({p}, 0.1), opt_eager({p_eager}, 0.1);
  auto step_of = [](Tensor& q, optim::Adam& o, bool read_loss) {
    return [&q, &o, read_loss](const V& in) {
      Tensor loss = (q * in[0]).sum();
      loss.backward();
      if (read_loss) (void)loss.item<double>();  // cannot be captured
      o.step();
      return V{loss};
    };
  };
  step_of(p, opt, false)({ones({2})});  // Adam's state exists
  step_of(p_eager, opt_eager, false)({ones({2})});
  auto bad = graph::compile(step_of(p, opt, true), {.warmup_calls = 0});
  CHECK_THROWS_WITH_AS(bad({ones({2})}), doctest::Contains("read on the host"), Error);
  CHECK(!p.grad().is_symbolic());         // the gradient slot holds what it held
  CHECK(vals(p.grad()) == vals(p_eager.grad()));
  CHECK(opt.step_count() == opt_eager.step_count());  // no step was counted
  // Training goes on as if the failed call never happened.
  auto good = compile_now(step_of(p, opt, false));
  for (int i = 0; i < 3; ++i) {
    good({ones({2})});
    step_of(p_eager, opt_eager, false)({ones({2})});
  }
  CHECK(vals(p) == vals(p_eager));
  CHECK(opt.state_dict().at("state.0.exp_avg").to_vector<float>() ==
        opt_eager.state_dict().at("state.0.exp_avg").to_vector<float>());

  // A parameter read through detach() while its .grad is empty still gets a real .grad.
  Tensor q = full({2}, 1.0).requires_grad_();
  auto f = compile_now([&](const V& in) {
    q.set_grad({});
    Tensor d = q.detach() * 1.0;
    (q * in[0]).sum().backward();
    return V{d};
  });
  f({ones({2})});
  REQUIRE(q.grad().defined());
  CHECK(!q.grad().is_symbolic());
  (q * 2.0).sum().backward();  // eager backward accumulates into it
  CHECK(vals(q.grad()) == std::vector<double>{3, 3});
}

TEST_CASE("new memory for a parameter between calls is seen by the next call") {
  for (int change = 0; change < 2; ++change) {
    std::vector<double> results[2];
    for (int mode = 0; mode < 2; ++mode) {
      nn::Linear lin(3, 2);
      { NoGradGuard g; lin.parameters()[0].fill_(0.5); lin.parameters()[1].fill_(0.0); }
      optim::SGD opt(lin.parameters(), 0.1);
      Fn step = [&](const V& in) {
        Tensor loss = lin.forward(in[0]).sum();
        loss.backward();
        opt.step();
        opt.zero_grad();
        return V{loss};
      };
      auto compiled = compile_now(step);
      std::vector<double> losses;
      for (int i = 0; i < 4; ++i) {
        if (i == 2) {
          if (change == 0) nn::set_data(lin.parameters()[0], full({2, 3}, -1.0));
          else lin.to(DType::Float64);
        }
        Tensor x = full({1, 3}, 1.0, lin.parameters()[0].dtype());
        losses.push_back((mode ? compiled({x}) : step({x}))[0].to(DType::Float64).item<double>());
      }
      results[mode] = losses;
    }
    CHECK_MESSAGE(results[1] == results[0], "change ", change);
  }
}

TEST_CASE("an input that requires grad gets its gradient") {
  Tensor w = full({2}, 3.0).requires_grad_();
  Fn fn = [&](const V& in) {
    Tensor loss = (in[0] * in[0] * w).sum();
    loss.backward();
    return V{loss};
  };
  Tensor xe = full({2}, 2.0).requires_grad_(), xg = full({2}, 2.0).requires_grad_();
  auto f = compile_now(fn);
  for (int i = 0; i < 3; ++i) {
    fn({xe});
    f({xg});
    REQUIRE(xg.grad().defined());
    CHECK(vals(xg.grad()) == vals(xe.grad()));  // accumulates across calls, as eager does
  }
  // Without parameters too.
  auto h = compile_now([](const V& in) {
    in[0].sum().backward();
    return V{};
  });
  Tensor x = zeros({3}).requires_grad_();
  h({x});
  CHECK(vals(x.grad()) == std::vector<double>{1, 1, 1});
}

TEST_CASE("with anomaly detection on, a compiled step with backward runs (eagerly)") {
  DetectAnomalyGuard anomaly;
  Tensor w = full({2}, 1.0).requires_grad_();
  auto f = compile_now([&](const V& in) {
    Tensor loss = (w * in[0]).sum();
    loss.backward();
    return V{loss};
  });
  CHECK(f({ones({2})})[0].item<float>() == 2.0f);
  CHECK(vals(w.grad()) == std::vector<double>{1, 1});
  CHECK(f.eager_calls() == 1);
}

TEST_CASE("random draws after manual_seed are eager's") {
  Fn fn = [](const V& in) { return V{in[0] + rand({5}), randn({3})}; };
  auto f = compile_now(fn);
  for (int call = 0; call < 3; ++call) {
    manual_seed(5);
    V want = fn({zeros({5})});
    manual_seed(5);
    V got = f({zeros({5})});
    CHECK(vals(got[0]) == vals(want[0]));
    CHECK(vals(got[1]) == vals(want[1]));
  }
  // Reseeding inside the function would be frozen at capture: refused.
  auto g = compile_now([](const V& in) {
    manual_seed(1);
    return V{in[0] + rand({5})};
  });
  CHECK_THROWS_WITH_AS(g({zeros({5})}), doctest::Contains("manual_seed"), Error);
}

TEST_CASE("outputs are the caller's to keep, and may be fed back") {
  auto f = compile_now([](const V& in) { return V{in[0] * 2.0}; });
  Tensor a = f({ones({3})})[0];
  Tensor b = f({a})[0];  // an output passed back in
  Tensor c = f({b})[0];
  CHECK(vals(a) == std::vector<double>{2, 2, 2});
  CHECK(vals(b) == std::vector<double>{4, 4, 4});
  CHECK(vals(c) == std::vector<double>{8, 8, 8});
}

TEST_CASE("a tensor copied into a transposed view of itself, through a cast") {
  // b.t().copy_(a) with b = a cast to int64 captures as scatter(b, b) at b's transpose
  // (the copy's cast is b's own): it must not be run in b's buffer (fuzz seed 2996189).
  Fn fn = [](const V& in) {
    Tensor a = in[0] * in[0];
    Tensor b = a.to(DType::Int64);
    Tensor v = b.t();
    v.copy_(a);
    Tensor c = b.contiguous();  // b itself
    v.add_(1.0);
    return V{c};
  };
  auto f = compile_now(fn);
  Tensor x = arange(0, 4, 1, DType::Float32).reshape({2, 2});
  CHECK(vals(fn({x})[0]) == std::vector<double>{1, 5, 2, 10});
  CHECK(vals(f({x})[0]) == std::vector<double>{1, 5, 2, 10});
}

TEST_CASE("a changed training mode captures again") {
  std::vector<double> results[2];
  for (int mode = 0; mode < 2; ++mode) {
    Tensor p = full({2}, 1.0).requires_grad_();
    optim::SGD opt({p}, 0.1);
    nn::Dropout drop(0.5);
    Fn step = [&](const V& in) {
      (drop.forward(p) * in[0]).sum().backward();
      opt.step();
      opt.zero_grad();
      return V{};
    };
    auto compiled = graph::compile(step);
    for (int i = 0; i < 6; ++i) {
      if (i == 4) drop.eval();
      manual_seed(uint64_t(i));
      mode ? compiled({ones({2})}) : step({ones({2})});
    }
    results[mode] = vals(p);
    if (mode) CHECK(compiled.captures() == 2);
  }
  CHECK(results[1] == results[0]);
}

TEST_CASE("the learning rate is a runtime value of the compiled step") {
  // Every optimizer, a new rate before each call: the update follows it, nothing captures
  // again, and the bits are eager's (float32 and a 16-bit dtype, where the rate rounds).
  using Make = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;
  std::vector<std::pair<const char*, Make>> makers = {
      {"SGD", [](auto ps) { return std::make_unique<optim::SGD>(ps, 0.1, optim::SGDOptions{.momentum = 0.9}); }},
      {"Adam", [](auto ps) { return std::make_unique<optim::Adam>(ps, 0.1); }},
      {"AdamW", [](auto ps) { return std::make_unique<optim::AdamW>(ps, 0.1, optim::AdamWOptions{.weight_decay = 0.1}); }},
      {"RMSprop", [](auto ps) { return std::make_unique<optim::RMSprop>(ps, 0.1, optim::RMSpropOptions{.momentum = 0.5}); }},
      {"Adagrad", [](auto ps) { return std::make_unique<optim::Adagrad>(ps, 0.1); }},
      {"Adagrad decay", [](auto ps) { return std::make_unique<optim::Adagrad>(ps, 0.1, optim::AdagradOptions{.lr_decay = 0.1}); }},
  };
  for (DType dt : {DType::Float32, DType::BFloat16})
    for (auto& [name, make] : makers) {
      std::vector<double> results[2];
      for (int mode = 0; mode < 2; ++mode) {
        Tensor p = full({3}, 0.7, dt).requires_grad_();
        auto opt = make({p});
        Fn step = [&](const V& in) {
          (p * in[0]).sum().backward();
          opt->step();
          opt->zero_grad();
          return V{};
        };
        auto compiled = graph::compile(step);  // one eager warm-up call makes the state
        for (int i = 0; i < 6; ++i) {
          opt->set_lr(0.3 / (1 + i));
          mode ? compiled({full({3}, 2.0, dt)}) : step({full({3}, 2.0, dt)});
        }
        results[mode] = vals(p);
        if (mode) CHECK_MESSAGE(compiled.captures() == 1, name);
      }
      CHECK_MESSAGE(results[1] == results[0], name, " ", dtype_name(dt));
    }
}

TEST_CASE("set_lr inside a compiled function sets the rate on every call") {
  std::vector<double> results[2];
  double lr_after[2];
  for (int mode = 0; mode < 2; ++mode) {
    Tensor p = full({2}, 1.0).requires_grad_();
    optim::Adam opt({p}, 0.1);
    Fn step = [&](const V& in) {
      (p * in[0]).sum().backward();
      opt.step();  // at the rate set before the call
      opt.set_lr(0.05);
      opt.step();  // at 0.05
      opt.zero_grad();
      return V{};
    };
    auto compiled = graph::compile(step);
    for (int i = 0; i < 4; ++i) {
      opt.set_lr(0.2);
      mode ? compiled({ones({2})}) : step({ones({2})});
    }
    results[mode] = vals(p);
    lr_after[mode] = opt.lr();
    if (mode) CHECK(compiled.captures() == 1);
  }
  CHECK(results[1] == results[0]);
  CHECK(lr_after[1] == 0.05);
  CHECK(lr_after[0] == 0.05);
}

TEST_CASE("inputs that share memory stay aliased; a parameter passed as an input is that parameter") {
  Tensor buf = zeros({4});
  auto f = compile_now([](const V& in) {
    in[0].add_(1.0);
    return V{in[1] * 1.0};  // in[1] views the same memory: it sees the write
  });
  Tensor out = f({buf.slice(0, 0, 2), buf.slice(0, 1, 3)})[0];
  CHECK(vals(out) == std::vector<double>{1, 0});
  CHECK(vals(buf) == std::vector<double>{1, 1, 0, 0});

  Tensor w = full({2}, 1.0);
  Fn fn = [&](const V& in) {
    w.mul_(2.0);
    return V{in[0] + 0.0};
  };
  auto g = compile_now(fn);
  CHECK(vals(g({w})[0]) == std::vector<double>{2, 2});
  CHECK(vals(g({w})[0]) == std::vector<double>{4, 4});
}

TEST_CASE("an LR scheduler stepped inside a compiled function is refused") {
  Tensor p = full({2}, 1.0).requires_grad_();
  optim::SGD opt({p}, 0.1);
  optim::StepLR sched(opt, 1, 0.5);
  auto f = compile_now([&](const V& in) {
    (p * in[0]).sum().backward();
    opt.step();
    sched.step();
    return V{};
  });
  CHECK_THROWS_WITH_AS(f({ones({2})}), doctest::Contains("scheduler"), Error);
  CHECK(opt.lr() == 0.1);  // the failed capture changed nothing
}

TEST_CASE("an optimizer's host arithmetic rounds as the captured tensor ops do") {
  // Adagrad's decayed rate lr / (1 + (t-1) * decay) is host arithmetic in eager mode and a
  // chain of tensor ops in a captured step. Host code once fused the multiply-add into one
  // rounding (Note [No implicit FMA]), and two steps per call drifted by an ulp (seed 5234747).
  int differing = 0;
  for (int k = 0; k < 40; ++k) {
    double results[2];
    for (int mode = 0; mode < 2; ++mode) {
      Tensor p = full({1}, 0.2 + 0.0137 * k, DType::Float64).requires_grad_();
      optim::Adagrad opt({p}, 0.1, {.lr_decay = 0.1});
      Fn step = [&](const V&) {
        p.sum().backward();
        opt.step();
        opt.step();
        return V{};
      };
      auto compiled = graph::compile(step);
      for (int i = 0; i < 4; ++i) mode ? compiled({}) : step({});
      results[mode] = p.item<double>();
    }
    differing += results[0] != results[1];
  }
  CHECK(differing == 0);
}
