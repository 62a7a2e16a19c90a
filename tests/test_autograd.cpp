// Autograd semantics: accumulation, retain_graph, no-grad, hooks, autograd::grad,
// version-counter errors for in-place ops, anomaly mode, detach, and gradients routed
// through broadcasting and views.
#include <doctest/doctest.h>

#include "autograd/autograd.h"

using namespace duet;

namespace {
std::vector<double> vec(const Tensor& t) { return t.to_vector<double>(); }
}  // namespace

TEST_CASE("backward accumulates into leaves and frees the graph") {
  Tensor x = tensor<double>({1, 2, 3}).requires_grad_();
  Tensor w = tensor<double>({4, 5, 6}).requires_grad_();
  Tensor loss = (x * w).sum();
  CHECK(loss.grad_fn_name() == "SumBackward");
  CHECK_FALSE(loss.is_leaf());
  CHECK(x.is_leaf());
  loss.backward(Tensor(), /*retain_graph=*/true);
  CHECK(vec(x.grad()) == std::vector<double>{4, 5, 6});
  CHECK(vec(w.grad()) == std::vector<double>{1, 2, 3});
  loss.backward();  // accumulates
  CHECK(vec(x.grad()) == std::vector<double>{8, 10, 12});
  CHECK_THROWS_WITH_AS(loss.backward(), doctest::Contains("second time"), Error);
}

TEST_CASE("non-scalar backward needs a gradient of the output's shape") {
  Tensor x = tensor<double>({1, 2}).requires_grad_();
  Tensor y = x * 3.0;
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("scalar"), Error);
  CHECK_THROWS_WITH_AS(y.backward(ones({3}, DType::Float64)), doctest::Contains("shape"), Error);
  y.backward(tensor<double>({1, 10}));
  CHECK(vec(x.grad()) == std::vector<double>{3, 30});
}

TEST_CASE("no-grad and enable-grad guards") {
  Tensor x = ones({2}, DType::Float64).requires_grad_();
  {
    NoGradGuard g;
    Tensor y = x * 2.0;
    CHECK_FALSE(y.requires_grad());
    {
      EnableGradGuard e;
      CHECK((x * 2.0).requires_grad());
    }
  }
  CHECK((x * 2.0).requires_grad());
  CHECK_FALSE(x.detach().requires_grad());
  CHECK(x.detach().storage() == x.storage());
  Tensor z = (x.detach() * x).sum();
  z.backward();
  CHECK(vec(x.grad()) == std::vector<double>{1, 1});
  CHECK_THROWS_AS(zeros({2}, DType::Int64).requires_grad_(), Error);
}

TEST_CASE("hooks and retain_grad") {
  Tensor x = tensor<double>({1, 2}).requires_grad_();
  x.register_hook([](const Tensor& g) { return g * 10.0; });
  Tensor h = x * 2.0;
  h.retain_grad();
  std::vector<double> seen;
  h.register_hook([&](const Tensor& g) {
    seen = g.to_vector<double>();
    return Tensor();
  });
  (h * h).sum().backward();
  CHECK(seen == std::vector<double>{4, 8});
  CHECK(vec(h.grad()) == std::vector<double>{4, 8});
  CHECK(vec(x.grad()) == std::vector<double>{80, 160});
}

TEST_CASE("autograd::grad returns gradients without touching .grad") {
  Tensor x = tensor<double>({1, 2, 3}).requires_grad_();
  Tensor mid = x * x;
  Tensor y = mid.sum();
  auto g = autograd::grad({y}, {x, mid}, {}, /*retain_graph=*/true);
  CHECK(vec(g[0]) == std::vector<double>{2, 4, 6});
  CHECK(vec(g[1]) == std::vector<double>{1, 1, 1});
  CHECK_FALSE(x.grad().defined());
  Tensor unused = tensor<double>({1}).requires_grad_();
  CHECK_THROWS_WITH_AS(autograd::grad({y}, {unused}, {}, true), doctest::Contains("not used"), Error);
  auto g2 = autograd::grad({y}, {unused}, {}, true, /*allow_unused=*/true);
  CHECK_FALSE(g2[0].defined());
}

TEST_CASE("in-place ops: correct gradients, version-counter errors, leaf protection") {
  Tensor x = tensor<double>({1, 2}).requires_grad_();
  Tensor y = tensor<double>({3, 4}).requires_grad_();
  CHECK_THROWS_WITH_AS(x.add_(1.0), doctest::Contains("leaf"), Error);
  {
    NoGradGuard g;
    x.add_(0.0);  // fine outside grad mode, as optimizers do
  }
  Tensor a = x * 1.0;
  uint64_t v0 = a.version();
  a.mul_(y);  // a = x * y, in place
  CHECK(a.version() == v0 + 1);
  CHECK(a.grad_fn_name() == "MulBackward");
  a.sum().backward();
  CHECK(vec(x.grad()) == std::vector<double>{3, 4});
  CHECK(vec(y.grad()) == std::vector<double>{1, 2});

  // exp saves its output; changing it in place makes backward refuse.
  Tensor e = (x * 1.0).exp();
  Tensor loss = (e * 2.0).sum();
  {
    NoGradGuard g;
    e.add_(1.0);
  }
  CHECK_THROWS_WITH_AS(loss.backward(), doctest::Contains("modified by an in-place operation"), Error);

  // Writing into a view while recording is refused rather than silently wrong.
  Tensor base = x * 1.0;
  CHECK_THROWS_WITH_AS(base.slice(0, 0, 1).mul_(2.0), doctest::Contains("view"), Error);
}

TEST_CASE("in-place writes that read no input requiring grad: copy_, fill_, zero_") {
  Tensor w = tensor<double>({1, 2}).requires_grad_();
  // A leaf that requires grad is protected whatever the op reads, as add_ is.
  CHECK_THROWS_WITH_AS(w.copy_(zeros({2}, DType::Float64)), doctest::Contains("copy_: a leaf tensor that requires grad"),
                       Error);
  CHECK_THROWS_WITH_AS(w.fill_(0.0), doctest::Contains("leaf"), Error);
  CHECK_THROWS_WITH_AS(w.zero_(), doctest::Contains("leaf"), Error);
  CHECK(vec(w) == std::vector<double>{1, 2});
  {
    NoGradGuard g;
    w.copy_(tensor<double>({1, 1}));  // fine outside grad mode (init, load_state_dict)
  }

  // Overwriting a non-leaf rebases its history: the new value does not depend on the old,
  // whose inputs get a zero gradient (PyTorch: CopyBackwards, fill_'s zeros_like rule).
  Tensor y = w * 2.0;
  y.copy_(zeros({2}, DType::Float64));
  CHECK(y.grad_fn_name() == "CopyBackward");
  y.sum().backward();
  REQUIRE(w.grad().defined());
  CHECK(vec(w.grad()) == std::vector<double>{0, 0});

  w.set_grad(Tensor());
  Tensor f = w * 2.0;
  f.fill_(3.0);
  (f * w).sum().backward();  // d/dw (3 * w): the old f = 2w no longer counts
  CHECK(vec(w.grad()) == std::vector<double>{3, 3});

  w.set_grad(Tensor());
  Tensor z = w * 2.0;
  z.zero_();
  (z + w).sum().backward();
  CHECK(vec(w.grad()) == std::vector<double>{1, 1});

  // The source's gradient still flows when it requires grad (broadcast: summed back).
  w.set_grad(Tensor());
  Tensor v = tensor<double>({5, 6, 7}).requires_grad_();
  Tensor m = (w.unsqueeze(1) * ones({2, 3}, DType::Float64));
  m.copy_(v);
  (m * 2.0).sum().backward();
  CHECK(vec(v.grad()) == std::vector<double>{4, 4, 4});
  CHECK(vec(w.grad()) == std::vector<double>{0, 0});

  // A view of a tensor that requires grad is still refused (no CopySlices).
  Tensor b = w * 1.0;
  CHECK_THROWS_WITH_AS(b.slice(0, 0, 1).fill_(0.0), doctest::Contains("view"), Error);
}

TEST_CASE("anomaly mode names the op that produced a NaN") {
  Tensor x = zeros({2}, DType::Float64).requires_grad_();
  Tensor y = (sqrt(x) * 0.0).sum();  // d sqrt(x)/dx at 0 is inf; inf * 0 = nan
  DetectAnomalyGuard anomaly;
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("SqrtBackward"), Error);
}

TEST_CASE("gradients undo broadcasting and flow through views to their base") {
  Tensor a = ones({3, 1}, DType::Float64).requires_grad_();
  Tensor b = ones({4}, DType::Float64).requires_grad_();
  (a + b).sum().backward();
  CHECK(a.grad().sizes() == Shape{3, 1});
  CHECK(vec(a.grad()) == std::vector<double>{4, 4, 4});
  CHECK(vec(b.grad()) == std::vector<double>{3, 3, 3, 3});

  Tensor m = arange(6, DType::Float64).reshape({2, 3}).detach().requires_grad_();
  Tensor picked = m.t().select(0, 1) * tensor<double>({10, 20});  // column 1 of m
  Tensor stepped = m.slice(1, 0, 3, 2).sum();                      // columns 0 and 2
  (picked.sum() + stepped).backward();
  CHECK(vec(m.grad()) == std::vector<double>{1, 10, 1, 1, 20, 1});
}

TEST_CASE("a shared subexpression gets the sum of its gradients") {
  Tensor x = tensor<double>({2}).requires_grad_();
  Tensor s = x * x;      // used twice below
  Tensor y = s * s + s;  // x^4 + x^2 -> dy/dx = 4x^3 + 2x = 36
  y.sum().backward();
  CHECK(x.grad().item<double>() == doctest::Approx(36));
}

TEST_CASE("a view of a tensor written in place with gradient tracking must be taken again") {
  // PyTorch rebuilds such a view's history on its base's new one (x.grad = 6, 6, 0 here);
  // duet refuses the stale view instead of using its old history (Note [Stale views]).
  Tensor x = ones({3}, DType::Float64).requires_grad_();
  Tensor a = x * 2.0;
  Tensor v = a.slice(0, 0, 2);
  a.mul_(3.0);
  CHECK_THROWS_WITH_AS(v.sum(), doctest::Contains("take the view again"), Error);
  a.slice(0, 0, 2).sum().backward();  // the view taken again has the new history
  CHECK(vec(x.grad()) == std::vector<double>{6, 6, 0});
  // A base written without gradient tracking keeps its history, and its views stay usable.
  Tensor w = ones({3}, DType::Float64).requires_grad_();
  Tensor b = w * 2.0;
  Tensor u = b.slice(0, 1, 3);
  {
    NoGradGuard no_grad;
    b.add_(1.0);
  }
  u.sum().backward();
  CHECK(vec(w.grad()) == std::vector<double>{0, 2, 2});
}
