// Graph mode keeps eager mode's autograd state where a compiled step meets the code around
// it: the .grad tensors it makes, the histories it leaves on tensors outside it, and the
// links of views to their bases (Note [Stale views] in autograd/autograd_layer.cpp). Each
// case is a defect differential fuzzing found (tests/fuzz/, the seed in the comment), run
// eagerly and compiled against fresh state; graph mode must agree, or refuse.
#include <doctest/doctest.h>

#include <functional>

#include "autograd/autograd.h"
#include "graph/graph.h"
#include "graph/unsupported.h"
#include "optim/optim.h"
#include "tests/test_support.h"

using namespace duet;

namespace {

using V = std::vector<Tensor>;
using Fn = std::function<V(const V&)>;

std::vector<double> vals(const Tensor& t) { return testing::values_of(t); }

// Runs `fn` eagerly (mode 0) or compiled on its first call (mode 1).
struct Runner {
  Fn fn;
  graph::CompiledFunction compiled;
  bool graph_mode;
  Runner(Fn f, bool graph) : fn(f), compiled(graph::compile(f, {.warmup_calls = 0})), graph_mode(graph) {}
  V operator()(const V& in) { return graph_mode ? compiled(in) : fn(in); }
};

const char* mode_name(int mode) { return mode ? "graph" : "eager"; }

}  // namespace

TEST_CASE("gradients made by separate backward calls are separate tensors") {  // seed 579099
  for (int mode = 0; mode < 2; ++mode) {
    CAPTURE(mode_name(mode));
    Tensor p = full({}, 0.5).requires_grad_();
    Tensor q = full({1}, 0.5).requires_grad_();
    Runner step([&](const V&) {
      p.sum().backward();
      q.sum().backward();  // the same ones: CSE merges the two, and they must not come back as one
      return V{};
    }, mode);
    step({});
    CHECK(p.grad().data_ptr() != q.grad().data_ptr());
    step({});
    CHECK(vals(p.grad()) == std::vector<double>{2});
    CHECK(vals(q.grad()) == std::vector<double>{2});
  }
}

TEST_CASE("two returned tensors with equal contents are two tensors") {
  for (int mode = 0; mode < 2; ++mode) {
    CAPTURE(mode_name(mode));
    Runner f([](const V& in) { return V{in[0] * 2.0, in[0] * 2.0, (in[0] * 2.0).t()}; }, mode);
    V out = f({ones({2, 2})});
    CHECK(out[0].data_ptr() != out[1].data_ptr());
    CHECK(out[0].data_ptr() != out[2].data_ptr());
    out[0].add_(1.0);
    CHECK(vals(out[1]) == std::vector<double>(4, 2.0));
  }
}

TEST_CASE("a .grad written with gradient tracking keeps a history") {  // seed 95179
  std::vector<double> first_call[2];
  for (int mode = 0; mode < 2; ++mode) {
    CAPTURE(mode_name(mode));
    Tensor p = full({}, 0.75).requires_grad_();
    Runner step([&](const V&) {
      p.sum().backward({}, /*retain_graph=*/true);
      Tensor g = p.grad();
      g.add_(p);  // the .grad now has a history leading to p
      g.sum().backward();
      return V{};
    }, mode);
    step({});
    first_call[mode] = vals(p.grad());
    CHECK(p.grad().requires_grad());
    CHECK_FALSE(p.grad().is_leaf());
    // The next call's backward walks that history: eager mode goes back into the first
    // call's graph; a compiled step cannot, and says so.
    if (mode) CHECK_THROWS_AS(step({}), graph::Unsupported);
    else CHECK_NOTHROW(step({}));
  }
  CHECK(first_call[1] == first_call[0]);
}

TEST_CASE("a returned view whose base the step then wrote in place is stale") {  // seed 92978
  for (int mode = 0; mode < 2; ++mode) {
    CAPTURE(mode_name(mode));
    Runner f([](const V& in) {
      Tensor a = in[0] * 2.0;
      Tensor v = a.slice(0, 0, 1);
      a.mul_(in[0]);
      return V{v, a.slice(0, 1, 2)};
    }, mode);
    V out = f({ones({2}).requires_grad_()});
    CHECK_THROWS_WITH_AS((out[0] * 1.0), doctest::Contains("take the view again"), Error);
    CHECK_NOTHROW(out[1] * 1.0);  // taken after the write: fine
  }
}

TEST_CASE("views among outputs go stale together, as in eager mode") {
  for (int mode = 0; mode < 2; ++mode) {
    CAPTURE(mode_name(mode));
    Runner f([](const V& in) {
      Tensor a = in[0] * 2.0;
      return V{a, a.select(0, 0)};
    }, mode);
    V out = f({ones({2}).requires_grad_()});
    CHECK_NOTHROW(out[1] * 1.0);
    out[0].mul_(Tensor(full({2}, 3.0)).requires_grad_());
    CHECK_THROWS_WITH_AS((out[1] * 1.0), doctest::Contains("take the view again"), Error);
  }
}

TEST_CASE("a view of a closure tensor the step writes with tracking is new each call") {  // seeds 396014, 243740
  for (int mode = 0; mode < 2; ++mode) {
    CAPTURE(mode_name(mode));
    Tensor c = zeros({3});
    Runner f([&](const V& in) {
      c.copy_(in[0]);  // c gets a history each call
      return V{c.slice(0, 0, 2)};
    }, mode);
    Tensor x = full({3}, 2.0).requires_grad_();
    V first = f({x});
    CHECK_NOTHROW(first[0] * 1.0);  // taken after the write: not stale
    Tensor between = c.select(0, 2);  // taken with tracking between two calls
    V second = f({x});
    CHECK(first[0].unsafe_impl() != second[0].unsafe_impl());
    CHECK_NOTHROW(second[0] * 1.0);
    // The second call wrote c again: views taken before it are stale.
    CHECK_THROWS_WITH_AS((first[0] * 1.0), doctest::Contains("take the view again"), Error);
    CHECK_THROWS_WITH_AS((between * 1.0), doctest::Contains("take the view again"), Error);
  }
}

TEST_CASE("a capture that starts over keeps the caller's views linked to their bases") {  // seed 87292
  for (int mode = 0; mode < 2; ++mode) {
    CAPTURE(mode_name(mode));
    Tensor c = full({4}, 1.0);
    Tensor w = full({4}, 2.0).requires_grad_();
    // The function writes c itself, which the caller also passes (with a view of it): the
    // capture starts over once it sees that; the view must still follow c.
    Runner f([&](const V& in) {
      c.copy_(w);
      return V{in[1] * 1.0};
    }, mode);
    CHECK_NOTHROW(f({c, c.select(0, 0)}));
    // c now has a history: a view taken with tracking goes stale when the call writes c.
    CHECK_THROWS_WITH_AS(f({c, c.select(0, 0)}), doctest::Contains("take the view again"), Error);
  }
}

TEST_CASE("autograd::grad of a closure tensor that is also passed as an input") {  // seed 593158
  for (int mode = 0; mode < 2; ++mode) {
    CAPTURE(mode_name(mode));
    Tensor c = full({}, 1.0);
    Tensor p = full({}, 3.0).requires_grad_();
    Runner f([&](const V& in) {
      in[0].copy_(p);  // in[0] is c: c now requires grad (no op reads c itself)
      V g = autograd::grad({(p * 2.0).sum()}, {c}, {}, false, /*allow_unused=*/true);
      return V{full({}, g[0].defined() ? 1.0 : 0.0)};
    }, mode);
    V out = f({c});
    CHECK(vals(out[0]) == std::vector<double>{0});
  }
}

TEST_CASE("an input view taken with tracking goes stale when the step writes its base") {
  for (int mode = 0; mode < 2; ++mode) {
    CAPTURE(mode_name(mode));
    Runner f([](const V& in) {
      in[0].mul_(in[2]);
      return V{in[1] * 1.0};
    }, mode);
    Tensor base = ones({3}) * full({3}, 1.0).requires_grad_();  // not a leaf: writable with tracking
    Tensor w = full({3}, 2.0).requires_grad_();
    CHECK_THROWS_WITH_AS(f({base, base.slice(0, 0, 2), w}), doctest::Contains("take the view again"), Error);
  }
}

TEST_CASE("a tensor returned twice comes back as one tensor") {  // seed 1290832
  for (int mode = 0; mode < 2; ++mode) {
    CAPTURE(mode_name(mode));
    Runner f([](const V& in) {
      Tensor y = in[0] * 2.0;
      return V{y, y};
    }, mode);
    for (int call = 0; call < 2; ++call) {
      V out = f({ones({2})});
      CHECK(out[0].is_same(out[1]));
    }
  }
}

TEST_CASE("a parameter passed as an input in a later call is that parameter") {  // seed 1228130
  std::vector<double> grads[2];
  for (int mode = 0; mode < 2; ++mode) {
    CAPTURE(mode_name(mode));
    Tensor p = full({2}, 3.0).requires_grad_();
    Runner f([&](const V& in) {
      (in[0] * p).sum().backward();  // with in[0] = p: d/dp of p * p
      return V{};
    }, mode);
    Tensor x = full({2}, 1.0).requires_grad_();
    f({x});  // captured with an input that is not p
    p.set_grad({});
    f({p});  // the same signature, but now the input is p itself
    grads[mode] = vals(p.grad());
    // The .grad slot alone names it too (an optimizer looking for q's gradient).
    Tensor q = full({2}, 1.0).requires_grad_();
    optim::SGD opt({q}, 0.1);
    Runner g([&](const V& in) {
      opt.step();  // no gradient yet: nothing to do
      in[0].sum().backward();
      return V{};
    }, mode);
    g({full({2}, 1.0).requires_grad_()});  // no .grad yet, as q
    g({q});
    CHECK(vals(q.grad()) == std::vector<double>{1, 1});
  }
  CHECK(grads[0] == std::vector<double>{6, 6});
  CHECK(grads[1] == grads[0]);
}
