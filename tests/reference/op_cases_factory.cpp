// Op-table cases for the factories (full, arange, linspace, eye), the random factories
// (range, moments, determinism, thread independence) and the view ops (values, and that
// the result shares the input's storage).
#include <cmath>
#include <sstream>

#include "core/dispatch.h"
#include "core/functions.h"
#include "core/generator.h"
#include "core/parallel.h"
#include "tests/reference/op_cases.h"

namespace duet::cases {
namespace {

constexpr int64_t kBig = 70000;  // above the factories' parallel grain

Attrs factory_attrs(const Shape& shape, DType dt) {
  return Attrs().set("shape", shape).set("dtype", dt).set("device", Device::cpu());
}

RefTensor filled(const Shape& shape, DType dt, const std::function<double(int64_t)>& f) {
  RefTensor r;
  r.shape = shape;
  r.dtype = dt;
  r.v.resize(size_t(ref::numel(shape)));
  for (size_t i = 0; i < r.v.size(); ++i) r.v[i] = f(int64_t(i));
  return r;
}

}  // namespace

void full_cases(OpKind op, const CaseSink& sink) {
  for (DType dt : kAllDTypes)
    for (const Shape& shape : std::vector<Shape>{{}, {0}, {3, 4}, {1, 1, 5}, {2, 0, 3}})
      for (double value : {0.0, 1.0, -1.75, 3.0}) {
        double want = ref::stored_value(dt, value);
        sink({describe(dt, shape) + " value=" + std::to_string(value), {},
              factory_attrs(shape, dt).set("value", value), filled(shape, dt, [&](int64_t) { return want; }),
              ref::default_tol(dt)});
      }
  sink({"float32 large", {}, factory_attrs({kBig}, DType::Float32).set("value", 2.5),
        filled({kBig}, DType::Float32, [](int64_t) { return 2.5; }), {}, false, true});
}

void arange_cases(OpKind op, const CaseSink& sink) {
  struct A {
    double start, end, step;
    DType dt;
    bool threads = false;
  };
  const std::vector<A> cases = {
      {0, 5, 1, DType::Int64},       {2, 11, 3, DType::Int64},      {10, 0, -2, DType::Int32},
      {0, 1, 0.1, DType::Float32},   {-1.5, 2.5, 0.5, DType::Float64}, {0, 0, 1, DType::Int64},
      {5, 6, 1, DType::Float32},     {3, -3, -0.75, DType::Float64}, {0, 5, 1, DType::Float16},
      {-2, 2, 1, DType::BFloat16},   {0, double(kBig), 1, DType::Float32, true},                   {0, double(kBig), 1, DType::Int64, true},
  };
  for (const A& a : cases) {
    int64_t n = int64_t(std::ceil((a.end - a.start) / a.step));
    std::ostringstream desc;
    desc << dtype_name(a.dt) << " start=" << a.start << " end=" << a.end << " step=" << a.step;
    Attrs attrs = Attrs().set("start", a.start).set("end", a.end).set("step", a.step).set("dtype", a.dt);
    attrs.set("device", Device::cpu());
    RefTensor want = filled({n}, a.dt, [&](int64_t i) { return ref::stored_value(a.dt, a.start + double(i) * a.step); });
    sink({desc.str(), {}, attrs, want, ref::default_tol(a.dt), false, a.threads});
  }
}

void linspace_cases(OpKind op, const CaseSink& sink) {
  struct L {
    double start, end;
    int64_t steps;
    DType dt;
    bool threads = false;
  };
  const std::vector<L> cases = {
      {0, 1, 5, DType::Float32},  {-2, 3, 7, DType::Float64}, {1, 1, 1, DType::Float32},
      {3, -3, 0, DType::Float32}, {0, 10, 2, DType::Float64}, {5, -1, 4, DType::Float32},
      {0, 1, 6, DType::Float16},  {0, 1, 1000, DType::BFloat16}, {-1, 1, kBig, DType::Float32, true},
  };
  for (const L& l : cases) {
    std::ostringstream desc;
    desc << dtype_name(l.dt) << " start=" << l.start << " end=" << l.end << " steps=" << l.steps;
    Attrs attrs = Attrs().set("start", l.start).set("end", l.end).set("steps", l.steps).set("dtype", l.dt);
    attrs.set("device", Device::cpu());
    RefTensor want = filled({l.steps}, l.dt, [&](int64_t i) {
      return l.steps == 1 ? l.start : l.start + (l.end - l.start) * double(i) / double(l.steps - 1);
    });
    want.scale.assign(want.v.size(), std::max(std::fabs(l.start), std::fabs(l.end)));
    sink({desc.str(), {}, attrs, want, ref::scaled(ref::default_tol(l.dt), 2), false, l.threads});
  }
}

void eye_cases(OpKind op, const CaseSink& sink) {
  struct E {
    int64_t n, m;
    bool threads = false;
  };
  for (DType dt : kAllDTypes)
    for (E e : std::vector<E>{{3, 3}, {3, 5}, {5, 2}, {0, 0}, {4, 0}, {1, 1}, {300, 300, true}}) {
      if (e.threads && dt != DType::Float32) continue;
      Attrs attrs = Attrs().set("n", e.n).set("m", e.m).set("dtype", dt).set("device", Device::cpu());
      RefTensor want = filled({e.n, e.m}, dt, [&](int64_t i) { return i / e.m == i % e.m ? 1.0 : 0.0; });
      sink({describe(dt, {e.n, e.m}), {}, attrs, want, {}, false, e.threads});
    }
}

// ---- random factories: properties instead of values

namespace {

std::string check(bool ok, const std::string& what) { return ok ? "" : what; }

Tensor draw(OpKind op, const Shape& shape, DType dt, int64_t seed, int64_t offset, double p, double q) {
  Attrs a = factory_attrs(shape, dt).set("seed", seed).set("offset", offset);
  if (op == OpKind::rand_uniform) a.set("low", p).set("high", q);
  else if (op == OpKind::rand_normal) a.set("mean", p).set("std", q);
  else a.set("low", int64_t(p)).set("high", int64_t(q));
  return apply(op, {}, a);
}

// Range and the first two moments of `n` draws, within 6 standard errors.
std::string check_distribution(OpKind op, DType dt, double p, double q) {
  const int64_t n = 40000;
  Tensor t = draw(op, {200, 200}, dt, 1234, 99, p, q);
  if (t.sizes() != Shape{200, 200} || t.dtype() != dt) return "wrong shape or dtype " + describe(t);
  RefTensor r = ref::read(t);
  double mean = 0, m2 = 0, lo = INFINITY, hi = -INFINITY;
  for (double v : r.v) mean += v, lo = std::min(lo, v), hi = std::max(hi, v);
  mean /= double(n);
  for (double v : r.v) m2 += (v - mean) * (v - mean);
  double var = m2 / double(n - 1);
  double want_mean, want_var;
  std::ostringstream os;
  os << "mean " << mean << " var " << var << " range [" << lo << ", " << hi << "]";
  if (op == OpKind::rand_uniform) {
    want_mean = (p + q) / 2, want_var = (q - p) * (q - p) / 12;
    if (lo < p || hi > q || (hi >= q && !ref::is_float(dt))) return "values outside [low, high): " + os.str();
    // 16-bit floats may round up to `high`; float32/64 must stay below it.
    if ((dt == DType::Float32 || dt == DType::Float64) && hi >= q) return "a value equals high: " + os.str();
  } else if (op == OpKind::rand_normal) {
    want_mean = p, want_var = q * q;
  } else {
    int64_t k = int64_t(q) - int64_t(p);
    want_mean = (p + q - 1) / 2, want_var = (double(k) * double(k) - 1) / 12;
    if (lo < p || hi > q - 1) return "values outside [low, high): " + os.str();
    for (double v : r.v)
      if (v != std::floor(v)) return "randint drew a non-integer: " + os.str();
    std::vector<int> seen(size_t(k), 0);
    for (double v : r.v) seen[size_t(v - p)] = 1;
    for (int s : seen)
      if (!s) return "randint never drew some value in [low, high): " + os.str();
  }
  double se_mean = std::sqrt(want_var / double(n)), se_var = want_var * std::sqrt(2.0 / double(n)) * 1.5;
  // 16-bit storage rounds each draw; allow for it in the variance.
  double slack = (dt == DType::Float16 || dt == DType::BFloat16) ? 0.02 * want_var + 0.01 : 0.0;
  if (std::fabs(mean - want_mean) > 6 * se_mean + slack)
    return "mean " + std::to_string(mean) + " far from " + std::to_string(want_mean) + " (" + os.str() + ")";
  if (std::fabs(var - want_var) > 6 * se_var + slack)
    return "variance " + std::to_string(var) + " far from " + std::to_string(want_var) + " (" + os.str() + ")";
  return "";
}

std::string check_determinism(OpKind op, DType dt, double p, double q) {
  // Same (seed, offset): bitwise the same, whatever the thread count.
  Tensor a = draw(op, {kBig}, dt, 7, 0, p, q);
  int saved = get_num_threads();
  set_num_threads(1);
  Tensor b = draw(op, {kBig}, dt, 7, 0, p, q);
  set_num_threads(saved);
  if (!ref::bitwise_equal(a, b)) return "1 and " + std::to_string(saved) + " threads draw different values";
  // Element i depends on (seed, offset + i) alone: offset 5 is the same stream moved by 5.
  Tensor c = draw(op, {kBig - 5}, dt, 7, 5, p, q);
  if (!ref::bitwise_equal(a.slice(0, 5, kBig), c)) return "offset does not shift the stream";
  Tensor d = draw(op, {kBig}, dt, 8, 0, p, q);
  if (ref::bitwise_equal(a, d)) return "seeds 7 and 8 draw the same values";
  // The public functions: manual_seed restarts the stream; the next draw continues it.
  auto pub = [&](const Shape& s) {
    if (op == OpKind::rand_uniform) return uniform(s, p, q, dt);
    if (op == OpKind::rand_normal) return normal(s, p, q, dt);
    return randint(int64_t(p), int64_t(q), s, dt);
  };
  manual_seed(42);
  Tensor e = pub({3, 100});
  Tensor f = pub({3, 100});
  manual_seed(42);
  Tensor g = pub({3, 100});
  if (!ref::bitwise_equal(e, g)) return "manual_seed(42) twice gives different values";
  if (ref::bitwise_equal(e, f)) return "two draws after one manual_seed are identical";
  return "";
}

}  // namespace

void random_cases(OpKind op, const CaseSink& sink) {
  std::vector<DType> dtypes = {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16};
  double p = -2, q = 3;  // low/high, or mean/std
  if (op == OpKind::rand_normal) p = 1.5, q = 2;
  if (op == OpKind::randint) dtypes = {DType::Int64, DType::Int32, DType::Float32};
  for (DType dt : dtypes) {
    std::string d = dtype_name(dt);
    sink({d + " distribution", {}, {}, {}, {}, false, false, [=] { return check_distribution(op, dt, p, q); }});
    sink({d + " determinism", {}, {}, {}, {}, false, false, [=] { return check_determinism(op, dt, p, q); }});
    sink({d + " 0-dim and size-0 shapes", {}, {}, {}, {}, false, false, [=] {
            Tensor s = draw(op, {}, dt, 3, 0, p, q), z = draw(op, {4, 0}, dt, 3, 0, p, q);
            return check(s.sizes().empty() && s.dtype() == dt && z.sizes() == Shape{4, 0} && z.dtype() == dt,
                         "got " + describe(s) + " and " + describe(z));
          }});
  }
  if (op == OpKind::rand_uniform)  // low == high is allowed: every value is low
    sink({"low == high", {}, factory_attrs({5}, DType::Float32).set("seed", 1).set("offset", 0).set("low", 2.0).set("high", 2.0),
          filled({5}, DType::Float32, [](int64_t) { return 2.0; }), {}});
  if (op == OpKind::rand_normal)  // std 0: every value is the mean
    sink({"std == 0", {}, factory_attrs({5}, DType::Float64).set("seed", 1).set("offset", 0).set("mean", -1.0).set("std", 0.0),
          filled({5}, DType::Float64, [](int64_t) { return -1.0; }), {}});
  if (op == OpKind::randint)  // a range of one value
    sink({"high == low + 1", {}, factory_attrs({5}, DType::Int64).set("seed", 1).set("offset", 0).set("low", int64_t(-4)).set("high", int64_t(-3)),
          filled({5}, DType::Int64, [](int64_t) { return -4.0; }), {}});
}

// ---- views

void view_cases(OpKind op, const CaseSink& sink) {
  Inputs in(606);
  const Layout C = Layout::Contiguous, T = Layout::Transposed, S = Layout::Strided, E = Layout::Expanded;
  auto emit = [&](DType dt, const Shape& shape, Layout layout, Attrs attrs, bool must_view,
                  const std::function<RefTensor(const RefTensor&)>& f) {
    Tensor x = in.make(dt, shape, layout);
    sink({describe(dt, shape, layout) + " " + attrs.str(), {x}, attrs, f(ref::read(x)), {}, must_view});
  };
  for (DType dt : {DType::Float32, DType::Int64, DType::Bool, DType::Float16}) {
    switch (op) {
      case OpKind::reshape: {
        // {shape in, layout, shape out, the strides allow a view}
        struct R {
          Shape from;
          Layout layout;
          Shape to;
          bool view;
        };
        for (const R& r : std::vector<R>{{{3, 4, 5}, C, {12, 5}, true},  {{3, 4, 5}, C, {-1}, true},
                                         {{3, 4, 5}, C, {5, -1, 2}, true}, {{}, C, {1, 1}, true},
                                         {{1}, C, {}, true},             {{0, 3}, C, {3, 0, 2}, true},
                                         {{4, 3}, T, {12}, false},       {{4, 6}, T, {2, 2, 6}, true},
                                         {{6, 5}, S, {2, 3, 5}, true},   {{6, 5}, S, {30}, false},
                                         {{4, 3, 6}, E, {4, 18}, true}, {{4, 3, 6}, E, {2, 2, 3, 6}, true}}) {
          Shape resolved = r.to;
          int64_t known = 1, n = ref::numel(r.from);
          for (int64_t s : r.to) known *= s == -1 ? 1 : s;
          for (int64_t& s : resolved)
            if (s == -1) s = n / known;
          auto f = [resolved](const RefTensor& x) { return ref::reshape(x, resolved); };
          emit(dt, r.from, r.layout, Attrs().set("shape", r.to), r.view, f);
          if (r.view) emit(dt, r.from, r.layout, Attrs().set("shape", r.to).set("view_only", true), true, f);
        }
        break;
      }
      case OpKind::permute:
        for (auto [shape, layout, dims] : std::vector<std::tuple<Shape, Layout, std::vector<int64_t>>>{
                 {{2, 3, 4}, C, {2, 0, 1}}, {{2, 3, 4}, T, {-1, 0, 1}}, {{2, 3, 4}, S, {0, 1, 2}},
                 {Shape{}, C, std::vector<int64_t>{}}, {{0, 3}, C, {1, 0}}, {{1, 1, 7}, C, {2, 1, 0}},
                 {{4, 3, 6}, E, {1, 2, 0}}}) {
          std::vector<int64_t> d = dims;
          emit(dt, shape, layout, Attrs().set("dims", d), true, [d](const RefTensor& x) { return ref::permute(x, d); });
        }
        break;
      case OpKind::expand:
        for (auto [shape, layout, target] : std::vector<std::tuple<Shape, Layout, Shape>>{
                 {{3, 1}, C, {3, 4}}, {{1}, C, {2, 3, 5}}, {{}, C, {2, 2}}, {{3, 1}, C, {-1, 4}},
                 {{1, 4}, C, {0, 4}}, {{3, 1}, S, {2, 3, 5}}, {{2, 3}, T, {4, 2, 3}}, {{2, 3}, C, {2, 3}}}) {
          Shape resolved = target;
          for (size_t i = 0; i < resolved.size(); ++i)
            if (resolved[i] == -1) resolved[i] = shape[i - (resolved.size() - shape.size())];
          emit(dt, shape, layout, Attrs().set("shape", target), true,
               [resolved](const RefTensor& x) { return ref::expand(x, resolved); });
        }
        break;
      case OpKind::slice:
        for (auto [shape, layout, dim, start, end, step] :
             std::vector<std::tuple<Shape, Layout, int64_t, int64_t, int64_t, int64_t>>{
                 {{10, 4}, C, 0, 2, 8, 1},    {{10, 4}, C, 0, 1, 10, 3},  {{10, 4}, C, 0, -3, 10, 1},
                 {{10, 4}, C, 0, 0, 100, 2},  {{10, 4}, C, 0, 5, 2, 1},   {{10, 4}, C, -1, 1, 3, 2},
                 {{10, 4}, C, 1, -100, -1, 1}, {{6, 5}, T, 1, 1, 5, 2},   {{6, 5}, S, 1, 0, 5, 2},
                 {{0, 3}, C, 0, 0, 2, 1},     {{1, 1, 7}, C, 2, 3, 4, 1}, {{4, 3, 6}, E, 0, 1, 4, 2}}) {
          Attrs a = Attrs().set("dim", dim).set("start", start).set("end", end).set("step", step);
          int64_t d = dim, s = start, e = end, st = step;
          emit(dt, shape, layout, a, true, [=](const RefTensor& x) { return ref::slice(x, d, s, e, st); });
        }
        break;
      default: throw std::logic_error("view_cases: not a view op");
    }
  }
}

}  // namespace duet::cases
