// Graph mode: every registered op compiled equals eager; a training step compiled equals
// eager step by step; compiled runs allocate only their outputs; signatures recapture; capture
// errors are clear; dumps are written.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "autograd/autograd.h"
#include "graph/graph.h"
#include "graph/unsupported.h"
#include "nn/nn.h"
#include "optim/adam.h"
#include "optim/sgd.h"
#include "tests/reference/op_cases.h"

using namespace duet;

namespace {

// Max relative difference (|a-b| / max(1, |b|)); exact equality for non-floating dtypes.
double max_rel_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.sizes() == b.sizes());
  REQUIRE(a.dtype() == b.dtype());
  auto x = a.to_vector<double>(), y = b.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i]) && std::isnan(y[i])) continue;
    if (x[i] == y[i]) continue;
    worst = std::max(worst, std::fabs(x[i] - y[i]) / std::max(1.0, std::fabs(y[i])));
  }
  return worst;
}

}  // namespace

TEST_CASE("every registered op: compiled equals eager") {
  int ops = 0, cases = 0;
  for (int k = 0; k < kNumOps; ++k) {
    OpKind op = OpKind(k);
    const OpDef& def = op_def(op);
    auto row = cases::op_case_table().find(def.name);
    REQUIRE_MESSAGE(row != cases::op_case_table().end(), def.name, " has no case generator");
    if (def.has(kRandom)) continue;  // random ops: see "random ops draw fresh values each run"
    int n = 0;
    row->second(op, [&](cases::Case c) {
      if (n >= 6) return;  // a sample of each op's cases keeps the test quick
      ++n;
      Tensor eager = apply(op, std::span<const Tensor>(c.inputs), c.attrs);
      auto compiled = graph::compile(
          [&](const std::vector<Tensor>& in) { return std::vector<Tensor>{apply(op, std::span<const Tensor>(in), c.attrs)}; },
          {.warmup_calls = 0});
      Tensor got = compiled(c.inputs)[0];
      double tol = is_floating(eager.dtype()) ? (eager.dtype() == DType::Float16 || eager.dtype() == DType::BFloat16 ? 1e-2 : 1e-5) : 0;
      CHECK_MESSAGE(max_rel_diff(got, eager) <= tol, def.name, " / ", c.desc);
      ++cases;
    });
    ++ops;
  }
  MESSAGE("compiled ", cases, " cases of ", ops, " ops");
}

TEST_CASE("random ops draw fresh values each run, from the default generator") {
  manual_seed(7);
  auto f = graph::compile([](const std::vector<Tensor>& in) { return std::vector<Tensor>{in[0] + rand({1000})}; },
                          {.warmup_calls = 0});
  Tensor zero = zeros({1000});
  std::vector<float> a = f({zero})[0].to_vector<float>(), b = f({zero})[0].to_vector<float>();
  CHECK(a != b);
  for (float v : a) CHECK((v >= 0 && v < 1));
}

namespace {

std::shared_ptr<nn::Sequential> small_mlp() {
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(20, 32), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(32, 16),
      std::make_shared<nn::Tanh>(), std::make_shared<nn::Linear>(16, 5)});
}

// Trains `steps` steps in eager or graph mode from seed 0; returns the losses. The step
// clears gradients first, or (zero_grad_last) after the update, leaving .grad empty.
std::vector<double> train(bool graph_mode, int steps, bool use_adam, bool zero_grad_last = false,
                          graph::CompileOptions options = {}) {
  manual_seed(0);
  auto model = small_mlp();
  std::unique_ptr<optim::Optimizer> opt;
  if (use_adam) opt = std::make_unique<optim::Adam>(model->parameters(), 1e-2);
  else opt = std::make_unique<optim::SGD>(model->parameters(), 0.05, optim::SGDOptions{.momentum = 0.9});
  auto step = [&](const std::vector<Tensor>& in) {
    if (!zero_grad_last) opt->zero_grad();
    Tensor loss = nn::functional::cross_entropy(model->forward(in[0]), in[1]);
    loss.backward();
    opt->step();
    if (zero_grad_last) opt->zero_grad();
    return std::vector<Tensor>{loss};
  };
  auto compiled = graph::compile(step, options);
  // A learnable task: the label is the argmax of the first five features. Two batch
  // sizes, so graph mode runs two compiled signatures over the same state.
  std::vector<Tensor> xs, ys;
  for (int b = 0; b < 4; ++b) {
    xs.push_back(randn({b % 2 ? 12 : 16, 20}));
    ys.push_back(argmax(xs.back().narrow(1, 0, 5), 1));
  }
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) {
    const Tensor& x = xs[size_t(s % 4)];
    const Tensor& y = ys[size_t(s % 4)];
    Tensor loss = graph_mode ? compiled({x, y})[0] : step({x, y})[0];
    losses.push_back(loss.item<double>());
  }
  return losses;
}

}  // namespace

TEST_CASE("a compiled training step matches eager step by step") {
  for (bool adam : {true, false}) {
    std::vector<double> eager = train(false, 50, adam), graph = train(true, 50, adam);
    for (size_t i = 0; i < eager.size(); ++i)
      CHECK_MESSAGE(std::fabs(eager[i] - graph[i]) <= 1e-4 * std::fabs(eager[i]), (adam ? "adam" : "sgd"), " step ",
                    i, ": eager ", eager[i], " graph ", graph[i]);
    CHECK(eager.back() < eager.front());
    // In fact bit for bit: the fused kernels run eager's arithmetic in eager's order (the
    // interpreter's exp/log/tanh/sigmoid take the vector form on every element, as eager
    // does, and each matmul's C elements sum over K the same way in both modes).
    CHECK_MESSAGE(eager == graph, (adam ? "adam" : "sgd"), ": compiled losses differ from eager's in the last bits");
  }
}

TEST_CASE("a step that clears its gradients trains the same, scheduled or not") {
  // Its gradients are arena values; the memory-aware schedule moves each update next to
  // its gradient. Neither changes a bit of the arithmetic.
  for (bool adam : {true, false}) {
    std::vector<double> eager = train(false, 30, adam, true);
    CHECK(eager == train(true, 30, adam, true));
    CHECK(eager == train(true, 30, adam, true, {.schedule = false}));
    CHECK(eager.back() < eager.front());
  }
}

TEST_CASE("gradients the step clears live in the arena, and the schedule shrinks it") {
  manual_seed(1);
  auto model = small_mlp();
  optim::Adam opt(model->parameters(), 1e-3);
  auto fn = [&](const std::vector<Tensor>& in) {
    Tensor loss = nn::functional::cross_entropy(model->forward(in[0]), in[1]);
    loss.backward();
    opt.step();
    opt.zero_grad();
    return std::vector<Tensor>{loss};
  };
  Tensor x = randn({64, 20}), y = randint(0, 5, {64});
  auto run_twice = [&](graph::CompiledFunction& step) {
    step({x, y});
    step({x, y});
    REQUIRE(step.captures() == 1);
    return step.report();
  };
  graph::CompiledFunction scheduled = graph::compile(fn), unscheduled = graph::compile(fn, {.schedule = false});
  graph::CompileReport on = run_twice(scheduled), off = run_twice(unscheduled);
  for (const Tensor& p : model->parameters()) CHECK_FALSE(p.grad().defined());
  // No .grad state: only parameters and Adam's moments (and its step count) are written.
  CHECK(off.writebacks == 3 * model->parameters().size() + 1);
  CHECK_FALSE(off.rescheduled);
  CHECK(off.capture_order_arena_bytes == off.arena_bytes);
  CHECK(on.rescheduled);
  CHECK(on.capture_order_arena_bytes == off.arena_bytes);
  // Capture order holds every weight gradient at once (20x32 + 32x16 + 16x5 floats and
  // the biases); the schedule frees each as soon as its update has read it.
  CHECK(on.arena_bytes < off.arena_bytes);
  CHECK(on.kernels == off.kernels);
  MESSAGE("arena: capture order ", off.arena_bytes, " B, memory-aware ", on.arena_bytes, " B");
}

TEST_CASE("a state read before its update and used after it keeps the old value") {
  // exp(m) is read before m's update and consumed after p's update, whose fused group
  // stores m' into m: fusing exp(m) into a later group (or into a reduction) must not
  // move that read past the store.
  for (bool reduce : {false, true})
    for (bool side_stores : {true, false}) {
      Tensor m = tensor<float>({1, 2, 3, 4}, {4}), p = tensor<float>({10, 20, 30, 40}, {4});
      auto fn = [&](const std::vector<Tensor>& in) {
        Tensor a = exp(m);
        m.mul_(0.5).add_(in[0]);
        p.sub_(m);
        return std::vector<Tensor>{reduce ? sum(a) : a + in[0]};
      };
      auto step = graph::compile(fn, {.warmup_calls = 0, .side_stores = side_stores});
      std::vector<float> out = step({ones({4})})[0].to_vector<float>();
      const float e1 = std::exp(1.f), e2 = std::exp(2.f), e3 = std::exp(3.f), e4 = std::exp(4.f);
      const std::vector<float> want = reduce ? std::vector<float>{e1 + e2 + e3 + e4}
                                             : std::vector<float>{e1 + 1, e2 + 1, e3 + 1, e4 + 1};
      REQUIRE(out.size() == want.size());
      for (size_t i = 0; i < want.size(); ++i)
        CHECK_MESSAGE(out[i] == doctest::Approx(want[i]), (reduce ? "sum" : "add"), ", side_stores ", side_stores);
      CHECK(m.to_vector<float>() == std::vector<float>{1.5f, 2, 2.5f, 3});
      CHECK(p.to_vector<float>() == std::vector<float>{8.5f, 18, 27.5f, 37});
    }
}

TEST_CASE("fused elementwise groups compute eager's bits, however a broadcast cuts their runs") {
  // log_softmax's backward, g - exp(out) * sum(g), and the same with log, tanh, sigmoid:
  // the [N, 1] operand makes the group's runs 10 elements long, so each run has a tail.
  manual_seed(9);
  Tensor x = randn({128, 10}) * 3.0, g = randn({128, 10});
  using Fn = Tensor (*)(const Tensor&);
  for (Fn f : {Fn(exp), Fn(tanh), Fn(sigmoid)}) {
    auto step = [f](const std::vector<Tensor>& in) {
      return std::vector<Tensor>{in[1] - f(in[0]) * sum(in[1], {1}, /*keepdim=*/true)};
    };
    auto compiled = graph::compile(step);
    compiled({x, g});
    Tensor want = step({x, g})[0], got = compiled({x, g})[0];
    REQUIRE(compiled.report().elementwise_groups >= 1);
    CHECK(want.to_vector<float>() == got.to_vector<float>());
  }
  auto with_log = [](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{log(abs(in[0]) + 1.0) * sum(in[1], {1}, /*keepdim=*/true)};
  };
  auto compiled = graph::compile(with_log);
  compiled({x, g});
  CHECK(with_log({x, g})[0].to_vector<float>() == compiled({x, g})[0].to_vector<float>());
}

TEST_CASE("fused IEEE ops give eager's bits on special values and every tail length") {
  // add, sub, mul, div, sqrt, gt and where may run at another vector width than eager's
  // kernels (Note [IEEE ops in zmm]); their results must not change: NaN, infinities,
  // signed zeros, subnormals, negatives under sqrt, and lengths that leave every tail size.
  manual_seed(4);
  const std::vector<float> special = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, -1.0f, 1e-40f, 3e38f};
  using Fn = std::vector<Tensor> (*)(const std::vector<Tensor>&);
  const Fn programs[] = {
      [](const std::vector<Tensor>& in) { return std::vector<Tensor>{sqrt(in[0]) / (in[1] + 1.0) - in[2] * in[0]}; },
      [](const std::vector<Tensor>& in) { return std::vector<Tensor>{where(gt(in[0], in[1]), in[0] - in[2], in[1] * in[2])}; },
      [](const std::vector<Tensor>& in) {
        return std::vector<Tensor>{where(ne(in[2], zeros_like(in[2])), in[0] / in[1], in[1] + in[2])};
      },
  };
  for (int64_t n : {1, 15, 16, 17, 511, 513, 1000 + 37}) {
    auto values = [&](int which) {
      std::vector<float> v = (randn({n}) * 10.0).to_vector<float>();
      for (int64_t i = 0; i < n; i += 3) v[size_t(i)] = special[size_t((i / 3 + which * 3) % special.size())];
      return tensor(v);
    };
    std::vector<Tensor> in = {values(0), values(1), values(2)};
    std::vector<float> y = in[1].to_vector<float>(), x = in[0].to_vector<float>();
    for (int64_t i = 1; i < n; i += 5) y[size_t(i)] = x[size_t(i)];  // ties for gt
    in[1] = tensor(y);
    for (size_t p = 0; p < std::size(programs); ++p) {
      auto compiled = graph::compile(programs[p], {.warmup_calls = 0});
      const std::vector<float> got = compiled(in)[0].to_vector<float>();
      REQUIRE(compiled.report().elementwise_groups == 1);
      const std::vector<float> want = programs[p](in)[0].to_vector<float>();
      REQUIRE(got.size() == want.size());
      for (size_t i = 0; i < want.size(); ++i) {
        const bool same = std::isnan(want[i]) ? std::isnan(got[i]) : std::memcmp(&want[i], &got[i], 4) == 0;
        CHECK_MESSAGE(same, "program ", p, ", n ", n, ", element ", i, ": eager ", want[i], ", compiled ", got[i]);
      }
    }
  }
}

TEST_CASE("short broadcast runs gathered into tiles give eager's results") {
  // An [R, 1] operand cuts the loop into runs of C elements; runs shorter than a quarter
  // tile are gathered (Note [Short runs] in fusion_kernel.cpp): full tiles, 64-run
  // batches, a transposed input, a bool result, and side stores into states.
  manual_seed(6);
  for (int64_t C : {3, 10, 100, 200})
    for (int64_t R : {1, 7, 300}) {
      CAPTURE(C);
      CAPTURE(R);
      const std::vector<Tensor> in = {randn({C, R}).t(), randn({R, C}), randn({R, 1})};
      using Fn = std::vector<Tensor> (*)(const std::vector<Tensor>&);
      const Fn programs[] = {
          [](const std::vector<Tensor>& v) { return std::vector<Tensor>{v[1] - exp(v[0]) * v[2]}; },
          [](const std::vector<Tensor>& v) { return std::vector<Tensor>{gt(v[0] * v[2], v[1])}; },
      };
      for (Fn f : programs) {
        auto compiled = graph::compile(f, {.warmup_calls = 0});
        const Tensor got = compiled(in)[0], want = f(in)[0];
        REQUIRE(compiled.report().elementwise_groups == 1);
        REQUIRE(got.dtype() == want.dtype());
        if (want.dtype() == DType::Bool) CHECK(got.to_vector<bool>() == want.to_vector<bool>());
        else CHECK(got.to_vector<float>() == want.to_vector<float>());
      }
      // m and p updated in place through a group with the [R, 1] operand: m's new value
      // is a side store of p's update.
      const Tensor m0 = randn({R, C}), p0 = randn({R, C});
      Tensor m = m0.clone(), p = p0.clone();
      auto update = [&](const std::vector<Tensor>& v) {
        m.mul_(0.5).add_(v[1] * v[2]);
        p.sub_(m * 0.1);
        return std::vector<Tensor>{p * 2.0};
      };
      auto compiled = graph::compile(update, {.warmup_calls = 0});
      const std::vector<float> out = compiled(in)[0].to_vector<float>();
      CHECK(compiled.report().side_stores >= 1);
      const std::vector<float> got_m = m.to_vector<float>(), got_p = p.to_vector<float>();
      m = m0.clone();
      p = p0.clone();
      CHECK(update(in)[0].to_vector<float>() == out);
      CHECK(m.to_vector<float>() == got_m);
      CHECK(p.to_vector<float>() == got_p);
    }
}

TEST_CASE("compiled runs allocate only their outputs, keep .grad real, and report their plan") {
  manual_seed(1);
  auto model = small_mlp();
  optim::Adam opt(model->parameters(), 1e-3);
  auto step = graph::compile([&](const std::vector<Tensor>& in) {
    opt.zero_grad();
    Tensor loss = nn::functional::cross_entropy(model->forward(in[0]), in[1]);
    loss.backward();
    opt.step();
    return std::vector<Tensor>{loss};
  });
  Tensor x = randn({8, 20});
  Tensor y = randint(0, 5, {8});
  step({x, y});  // eager warm-up
  step({x, y});  // capture + first run
  CHECK(step.captures() == 1);
  int64_t before = memory_stats().allocations;
  for (int i = 0; i < 5; ++i) step({x, y});
  // Each run allocates what it returns: the loss, and each parameter's new .grad (the
  // function empties the slots first, so eager mode makes new ones too).
  CHECK(memory_stats().allocations == before + 5 * int64_t(1 + model->parameters().size()));
  Tensor w = model->parameters()[0];
  REQUIRE(w.grad().defined());
  CHECK(!w.grad().is_symbolic());  // a real tensor, made by the run
  const graph::CompileReport& r = step.report();
  CHECK(r.kernels > 0);
  CHECK(r.kernels < r.captured_nodes);
  CHECK(r.arena_bytes >= r.lower_bound_bytes);
  CHECK(r.arena_bytes <= r.naive_bytes);
  CHECK(r.matmul_epilogues >= 2);
  CHECK(r.elementwise_groups >= 1);
  // Adam's m and v updates are stored by each parameter's update kernel.
  CHECK(r.side_stores == 2 * model->parameters().size());
  // A new batch shape is a new signature: warm-up and capture again.
  const std::shared_ptr<Storage> grad_buffer = w.grad().storage();
  step({randn({4, 20}), randint(0, 5, {4})});
  step({randn({4, 20}), randint(0, 5, {4})});
  CHECK(step.captures() == 2);
  CHECK(w.grad().storage() != grad_buffer);  // a new .grad each run, as in eager mode
}

TEST_CASE("capture errors are clear") {
  auto reads_value = graph::compile(
      [](const std::vector<Tensor>& in) {
        double v = in[0].sum().item<double>();
        return std::vector<Tensor>{in[0] * v};
      },
      {.warmup_calls = 0});
  CHECK_THROWS_WITH_AS(reads_value({ones({3})}), doctest::Contains("read on the host"), graph::Unsupported);
  auto ok = graph::compile([](const std::vector<Tensor>& in) { return std::vector<Tensor>{in[0] * 2.0}; },
                           {.warmup_calls = 0});
  CHECK(ok({ones({3})})[0].to_vector<float>() == std::vector<float>{2, 2, 2});
  auto undefined = graph::compile([](const std::vector<Tensor>&) { return std::vector<Tensor>{Tensor()}; },
                                  {.warmup_calls = 0});
  CHECK_THROWS_WITH_AS(undefined({ones({3})}), doctest::Contains("undefined tensor"), Error);
}

TEST_CASE("dumps: IR text and DOT after every pass") {
  auto dir = std::filesystem::temp_directory_path() / "duet_graph_dump_test";
  std::filesystem::remove_all(dir);
  auto f = graph::compile([](const std::vector<Tensor>& in) { return std::vector<Tensor>{relu(in[0] * 2.0 + 1.0)}; },
                          {.warmup_calls = 0, .dump_dir = dir.string()});
  Tensor out = f({tensor<float>({-1, 0, 1})})[0];
  CHECK(out.to_vector<float>() == std::vector<float>{0, 1, 3});
  CHECK(std::filesystem::exists(dir / "00-captured.txt"));
  CHECK(std::filesystem::exists(dir / "00-captured.dot"));
  CHECK(std::filesystem::exists(dir / "99-lowered.txt"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("random small graphs: compiled values and gradients equal eager") {
  std::mt19937 rng(11);
  const OpKind unary_ops[] = {OpKind::exp, OpKind::tanh, OpKind::sigmoid, OpKind::relu, OpKind::neg, OpKind::square,
                              OpKind::silu, OpKind::abs};
  const OpKind binary_ops[] = {OpKind::add, OpKind::sub, OpKind::mul, OpKind::maximum};
  for (int trial = 0; trial < 20; ++trial) {
    manual_seed(uint64_t(trial));
    Tensor w = (randn({4, 5}) * 0.5).detach().requires_grad_();
    Tensor bias = randn({5}).detach().requires_grad_();
    std::vector<int> plan;
    for (int k = 0; k < 6; ++k) plan.push_back(int(rng() % 16));
    auto fn = [&](const std::vector<Tensor>& in) {
      Tensor h = matmul(in[0], w) + bias;  // (3, 5)
      for (int code : plan) {
        if (code < 8) h = apply(unary_ops[code], {h});
        else if (code < 12) h = apply(binary_ops[code - 8], {h, in[1]});
        else if (code < 14) h = softmax(h, -1) + h;
        else h = h * sum(h, {1}, true) * 0.1;
      }
      Tensor loss = mean(h);
      auto grads = autograd::grad({loss}, {w, bias});
      return std::vector<Tensor>{loss, grads[0], grads[1]};
    };
    std::vector<Tensor> in{randn({3, 4}), randn({3, 5})};
    std::vector<Tensor> eager = fn(in);
    auto compiled = graph::compile(fn, {.warmup_calls = 0});
    std::vector<Tensor> got = compiled(in);
    for (size_t i = 0; i < eager.size(); ++i)
      CHECK_MESSAGE(max_rel_diff(got[i], eager[i]) <= 1e-5, "trial ", trial, " output ", i);
  }
}

TEST_CASE("reductions absorb the elementwise chain that feeds them") {
  manual_seed(3);
  Tensor x = randn({6, 5, 7}), y = randn({7});
  struct Row {
    const char* name;
    std::function<Tensor(const Tensor&, const Tensor&)> f;
  };
  std::vector<Row> rows = {
      {"sum of squares, last dim", [](const Tensor& a, const Tensor& b) { return sum(square(a - b), {-1}); }},
      {"mean of all", [](const Tensor& a, const Tensor&) { return mean(a * 2.0 + 1.0); }},
      {"amax of exp, trailing two, keepdim", [](const Tensor& a, const Tensor&) { return amax(exp(a), {1, 2}, true); }},
      {"amin of a single op", [](const Tensor& a, const Tensor&) { return amin(neg(a), {2}); }},
  };
  for (const Row& r : rows) {
    Tensor eager = r.f(x, y);
    auto compiled = graph::compile([&](const std::vector<Tensor>& in) { return std::vector<Tensor>{r.f(in[0], in[1])}; },
                                   {.warmup_calls = 0});
    Tensor got = compiled({x, y})[0];
    CHECK_MESSAGE(max_rel_diff(got, eager) <= 1e-5, r.name);
    CHECK_MESSAGE(compiled.report().reduction_prologues == 1, r.name);
  }
}

TEST_CASE("inputs: contiguous ones are read in place, others copied; outputs may show an input") {
  auto f = graph::compile(
      [](const std::vector<Tensor>& in) { return std::vector<Tensor>{in[0] * 2.0, in[0].reshape({-1})}; },
      {.warmup_calls = 0});
  Tensor a = arange(6, DType::Float32).reshape({2, 3});
  Tensor t = arange(6, DType::Float32).reshape({3, 2}).t();  // (2, 3), not contiguous
  auto r1 = f({a});
  CHECK(r1[0].to_vector<float>() == std::vector<float>{0, 2, 4, 6, 8, 10});
  CHECK(r1[1].to_vector<float>() == a.to_vector<float>());
  auto r2 = f({t});
  CHECK(r2[0].to_vector<float>() == (t * 2.0).to_vector<float>());
  CHECK(r2[1].to_vector<float>() == t.contiguous().to_vector<float>());
  auto r3 = f({a + 1.0});
  CHECK(r3[0].to_vector<float>() == std::vector<float>{2, 4, 6, 8, 10, 12});
}
