// Random programs for the differential fuzzer: making the world, running the body, and
// generating programs (see fuzz_program.h).
#include "tests/fuzz/fuzz_program.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "autograd/autograd.h"
#include "core/functions.h"
#include "nn/functional.h"
#include "nn/module.h"
#include "optim/adagrad.h"
#include "optim/adam.h"
#include "optim/adamw.h"
#include "optim/rmsprop.h"
#include "optim/sgd.h"

namespace duet::fuzz {
namespace {

// splitmix64: the stream every random choice of the harness comes from.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull) {}
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  int64_t uniform(int64_t lo, int64_t hi) { return lo + int64_t(next() % uint64_t(hi - lo + 1)); }  // [lo, hi]
  double real() { return double(next() >> 11) * 0x1.0p-53; }
  bool chance(double p) { return real() < p; }
  template <typename T>
  const T& pick(const std::vector<T>& v) { return v[size_t(uniform(0, int64_t(v.size()) - 1))]; }
};

// ---- tensors the harness makes

Tensor values_tensor(const Shape& shape, DType dtype, uint64_t seed) {
  Rng r(seed);
  const int64_t n = numel_of(shape);
  std::vector<double> v(static_cast<size_t>(n));
  const bool specials = r.chance(0.15);
  for (double& x : v) {
    if (dtype == DType::Bool) x = double(r.uniform(0, 1));
    else if (is_integral(dtype)) x = double(r.uniform(-3, 3));
    else x = std::round((r.real() * 4 - 2) * 64) / 64;  // exact in every float type
    if (specials && is_floating(dtype) && r.chance(0.3)) {
      static const double kSpecial[] = {0.0, -0.0, 1.0, -1.0, 0.5, 1e4, -1e-3};
      x = kSpecial[r.uniform(0, 6)];
    }
  }
  return tensor<double>(v, shape).to(dtype);
}

Tensor make_view(const Tensor& base, int kind) {
  switch (kind) {
    case 1: return base.dim() >= 2 ? base.transpose(0, base.dim() - 1) : base;
    case 2: return base.dim() >= 1 ? base.slice(0, 0, std::max<int64_t>(1, base.size(0) - 1)) : base;
    case 3: return base.dim() >= 1 && base.size(0) > 0 ? base.select(0, 0) : base;
    default: return base;
  }
}

Tensor make_tensor(const TensorSpec& s) {
  if (!s.transposed || s.shape.size() < 2) return values_tensor(s.shape, s.dtype, s.seed);
  Shape rev(s.shape.rbegin(), s.shape.rend());
  std::vector<int64_t> perm(s.shape.size());
  for (size_t i = 0; i < perm.size(); ++i) perm[i] = int64_t(perm.size() - 1 - i);
  return values_tensor(rev, s.dtype, s.seed).permute(perm);
}

std::unique_ptr<optim::Optimizer> make_optimizer(OptimKind k, const std::vector<Tensor>& params, double lr) {
  using namespace optim;
  switch (k) {
    case OptimKind::None: return nullptr;
    case OptimKind::SGD: return std::make_unique<SGD>(params, lr, SGDOptions{.weight_decay = 0.01});
    case OptimKind::SGDMomentum: return std::make_unique<SGD>(params, lr, SGDOptions{.momentum = 0.9, .dampening = 0.1});
    case OptimKind::SGDNesterov: return std::make_unique<SGD>(params, lr, SGDOptions{.momentum = 0.9, .nesterov = true});
    case OptimKind::Adam: return std::make_unique<Adam>(params, lr);
    case OptimKind::AdamW: return std::make_unique<AdamW>(params, lr);
    case OptimKind::AdamAmsgrad: return std::make_unique<Adam>(params, lr, AdamOptions{.weight_decay = 0.01, .amsgrad = true});
    case OptimKind::RMSprop: return std::make_unique<RMSprop>(params, lr, RMSpropOptions{.momentum = 0.5, .centered = true});
    case OptimKind::Adagrad: return std::make_unique<Adagrad>(params, lr, AdagradOptions{.lr_decay = 0.1});
  }
  return nullptr;
}

Tensor defined_or_empty(const Tensor& t) { return t.defined() ? t : zeros({0}); }

// ---- the interpreter

void exec(const Instr& in, std::vector<Tensor>& v, World& w) {
  std::optional<NoGradGuard> no_grad;
  if (in.no_grad) no_grad.emplace();
  auto A = [&]() -> const Tensor& { return v.at(size_t(in.a)); };
  auto B = [&]() -> const Tensor& { return v.at(size_t(in.b)); };
  const std::vector<int64_t>& k = in.ints;
  switch (in.code) {
    case Code::Unary:
      if (in.kind == OpKind::clamp) v.push_back(clamp(A(), in.x, in.y));
      else if (in.kind == OpKind::gelu) v.push_back(gelu(A(), in.flag ? "tanh" : "none"));
      else v.push_back(apply(in.kind, {A()}));
      return;
    case Code::Binary: v.push_back(apply(in.kind, {A(), B()})); return;
    case Code::BinaryScalar: {
      Tensor s = scalar_like(in.x, A());
      v.push_back(in.flag ? apply(in.kind, {s, A()}) : apply(in.kind, {A(), s}));
      return;
    }
    case Code::Cast: v.push_back(A().to(in.dtype)); return;
    case Code::Reduce: {
      const Tensor& x = A();
      switch (in.kind) {
        case OpKind::argmax: v.push_back(k.empty() ? argmax(x) : argmax(x, k[0], in.flag)); return;
        case OpKind::argmin: v.push_back(k.empty() ? argmin(x) : argmin(x, k[0], in.flag)); return;
        case OpKind::var: v.push_back(var(x, k, in.flag, in.x)); return;
        case OpKind::std: v.push_back(std(x, k, in.flag, in.x)); return;
        default: v.push_back(apply(in.kind, {x}, Attrs().set("dims", k).set("keepdim", in.flag))); return;
      }
    }
    case Code::Softmax: v.push_back(in.flag ? log_softmax(A(), k[0]) : softmax(A(), k[0])); return;
    case Code::Matmul: v.push_back(matmul(A(), B())); return;
    case Code::View: {
      const Tensor& x = A();
      switch (in.sub) {
        case kTranspose: v.push_back(x.transpose(k[0], k[1])); return;
        case kPermute: v.push_back(x.permute(k)); return;
        case kSlice: v.push_back(x.slice(k[0], k[1], k[2], k[3])); return;
        case kSelect: v.push_back(x.select(k[0], k[1])); return;
        case kReshape: v.push_back(x.reshape(k)); return;
        case kViewOnly: v.push_back(x.view(k)); return;
        case kExpand: v.push_back(x.expand(k)); return;
        case kUnsqueeze: v.push_back(x.unsqueeze(k[0])); return;
        case kSqueeze: v.push_back(k.empty() ? x.squeeze() : x.squeeze(k[0])); return;
        case kFlatten: v.push_back(x.flatten(k[0], k[1])); return;
      }
      return;
    }
    case Code::Contiguous: v.push_back(A().contiguous()); return;
    case Code::Clone: v.push_back(A().clone()); return;
    case Code::Detach: v.push_back(A().detach()); return;
    case Code::InPlace: {
      Tensor b = in.flag ? B().to(A().dtype()) : B();
      switch (in.kind) {
        case OpKind::add: A().add_(b); return;
        case OpKind::sub: A().sub_(b); return;
        case OpKind::mul: A().mul_(b); return;
        default: A().div_(b); return;
      }
    }
    case Code::InPlaceScalar:
      switch (in.kind) {
        case OpKind::add: A().add_(in.x); return;
        case OpKind::sub: A().sub_(in.x); return;
        case OpKind::mul: A().mul_(in.x); return;
        default: A().div_(in.x); return;
      }
    case Code::InPlaceUnary:
      switch (in.sub) {
        case kNeg_: A().neg_(); return;
        case kRelu_: A().relu_(); return;
        case kClamp_: A().clamp_(in.x, in.y); return;
        case kZero_: A().zero_(); return;
        default: A().fill_(in.x); return;
      }
    case Code::Copy: A().copy_(B()); return;
    case Code::IndexSelect: {
      std::vector<int64_t> idx(k.begin() + 1, k.end());
      v.push_back(index_select(A(), k[0], tensor<int64_t>(idx)));
      return;
    }
    case Code::Cat: v.push_back(cat({A(), B()}, k[0])); return;
    case Code::Where: {
      const Tensor& c = A();
      Tensor cond = c.dtype() == DType::Bool ? c : gt(c, scalar_like(0, c));
      v.push_back(where(cond, B(), v.at(size_t(in.c))));
      return;
    }
    case Code::Factory:
      switch (in.sub) {
        case kFull: v.push_back(full(k, in.x, in.dtype)); return;
        case kArange: v.push_back(arange(double(k[0]), in.dtype)); return;
        case kRand: v.push_back(rand(k, in.dtype)); return;
        default: v.push_back(randn(k, in.dtype)); return;
      }
    case Code::Backward: sum(A()).backward({}, in.flag); return;
    case Code::Grad: {
      auto g = autograd::grad({sum(A())}, {B()}, {}, in.flag, /*allow_unused=*/true);
      v.push_back(g[0]);
      return;
    }
    case Code::OptStep: w.opt->step(); return;
    case Code::ZeroGrad: w.opt->zero_grad(in.flag); return;
    case Code::ReadGrad: v.push_back(w.params.at(size_t(k[0])).grad()); return;
    case Code::SetGrad: w.params.at(size_t(k[0])).set_grad(A().detach().clone()); return;
    case Code::Item: v.push_back(full({}, sum(A()).to(DType::Float64).item<double>())); return;
    case Code::LinearRelu: {
      Tensor y = matmul(A(), B()) + v.at(size_t(in.c));
      v.push_back(in.flag ? relu(y) : y);
      return;
    }
    case Code::Dropout: v.push_back(nn::functional::dropout(A(), in.x, in.flag)); return;
  }
}

// ---- generation

const std::vector<OpKind> kUnaryOps = {OpKind::neg,  OpKind::abs,   OpKind::sign,  OpKind::square,  OpKind::floor,
                                       OpKind::ceil, OpKind::round, OpKind::relu,  OpKind::exp,     OpKind::expm1,
                                       OpKind::log,  OpKind::log1p, OpKind::sqrt,  OpKind::rsqrt,   OpKind::reciprocal,
                                       OpKind::sin,  OpKind::cos,   OpKind::tanh,  OpKind::sigmoid, OpKind::erf,
                                       OpKind::gelu, OpKind::silu,  OpKind::clamp, OpKind::logical_not};
const std::vector<OpKind> kBinaryOps = {OpKind::add, OpKind::sub, OpKind::mul, OpKind::div, OpKind::pow,
                                        OpKind::maximum, OpKind::minimum, OpKind::eq, OpKind::ne, OpKind::lt,
                                        OpKind::le, OpKind::gt, OpKind::ge, OpKind::logical_and, OpKind::logical_or};
const std::vector<OpKind> kArith = {OpKind::add, OpKind::sub, OpKind::mul, OpKind::div};
const std::vector<OpKind> kReduceOps = {OpKind::sum, OpKind::mean, OpKind::prod, OpKind::amax, OpKind::amin,
                                        OpKind::var, OpKind::std,  OpKind::argmax, OpKind::argmin};

DType random_dtype(Rng& r, bool floating_only = false) {
  double u = r.real();
  if (floating_only) return u < 0.75 ? DType::Float32 : u < 0.9 ? DType::Float64 : u < 0.95 ? DType::Float16 : DType::BFloat16;
  if (u < 0.6) return DType::Float32;
  if (u < 0.72) return DType::Float64;
  if (u < 0.77) return DType::Float16;
  if (u < 0.8) return DType::BFloat16;
  if (u < 0.9) return DType::Int64;
  if (u < 0.95) return DType::Int32;
  return DType::Bool;
}

// Small shapes; `big` ones (up to 40 per dim) reach the fused kernels' tails and tiles.
Shape random_shape(Rng& r, int max_dim = 3, bool big = false) {
  Shape s(size_t(r.uniform(0, big ? std::min(max_dim, 2) : max_dim)));
  for (int64_t& d : s) d = r.chance(0.04) ? 0 : r.uniform(1, big ? 40 : 4);
  return s;
}

bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  for (size_t i = 0; i < from.size(); ++i) {
    int64_t f = from[from.size() - 1 - i], t = to[to.size() - 1 - i];
    if (f != t && f != 1) return false;
  }
  return true;
}

bool broadcastable(const Shape& a, const Shape& b) {
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    int64_t x = a[a.size() - 1 - i], y = b[b.size() - 1 - i];
    if (x != y && x != 1 && y != 1) return false;
  }
  return true;
}

class Generator {
 public:
  explicit Generator(uint64_t seed) : r_(seed) { p_.seed = seed; }

  Program run() {
    setup();
    for (const Tensor& t : make_inputs(p_, 0, w_)) v_.push_back(t);
    for (const Tensor& t : w_.closure) v_.push_back(t);
    for (const Tensor& t : w_.params) v_.push_back(t);
    const int64_t length = r_.uniform(3, 28);
    for (int64_t i = 0; i < length * 3 && int64_t(p_.body.size()) < length && !stopped_; ++i) try_add(candidate());
    choose_outputs();
    return std::move(p_);
  }

 private:
  Shape shape() { return random_shape(r_, 3, big_); }

  void setup() {
    big_ = r_.chance(0.15);
    const int n_in = int(r_.uniform(1, 3)), n_closure = int(r_.uniform(0, 3)), n_params = int(r_.uniform(0, 3));
    for (int i = 0; i < n_closure; ++i) {
      TensorSpec s{shape(), random_dtype(r_), r_.next()};
      if (i > 0 && r_.chance(0.4)) {
        s.view_of = int(r_.uniform(0, i - 1));
        s.view_kind = int(r_.uniform(1, 3));
      }
      p_.closure.push_back(s);
    }
    for (int i = 0; i < n_params; ++i)
      p_.params.push_back({random_shape(r_, 2, big_), random_dtype(r_, true), r_.next()});
    if (n_params > 0 && r_.chance(0.7)) p_.optim = OptimKind(r_.uniform(1, 8));
    p_.lr = r_.pick(std::vector<double>{0.1, 0.01, 0.5});
    w_ = make_world(p_);
    for (int i = 0; i < n_in; ++i) {
      TensorSpec s{shape(), random_dtype(r_), r_.next()};
      s.transposed = s.shape.size() >= 2 && r_.chance(0.2);
      s.requires_grad = is_floating(s.dtype) && r_.chance(0.08);
      const double u = r_.real();
      if (i > 0 && u < 0.08) {  // a view of an earlier input: the two share memory
        s.alias_input = int(r_.uniform(0, i - 1));
        s.view_kind = int(r_.uniform(0, 3));
        s.requires_grad = false;
      } else if (!w_.closure.empty() && u < 0.14) {  // a closure tensor passed as an input too
        s.from_closure = int(r_.uniform(0, int64_t(w_.closure.size()) - 1));
        s.requires_grad = false;
      }
      p_.inputs.push_back(s);
    }
    p_.calls = int(r_.uniform(2, 4));
    p_.options.warmup_calls = int(r_.uniform(0, 1));
    p_.options.optimize = r_.chance(0.9);
    p_.options.fuse = r_.chance(0.8);
    p_.options.side_stores = r_.chance(0.8);
    p_.options.schedule = r_.chance(0.7);
    for (int c = 1; c < p_.calls; ++c) {
      if (!r_.chance(0.3)) continue;
      HostAction a;
      a.call = c;
      a.kind = HostAction::Kind(r_.uniform(0, 4));
      a.index = int(r_.uniform(0, 2));
      a.value = r_.pick(std::vector<double>{0.05, 0.2, 3.0});
      p_.actions.push_back(a);
    }
  }

  // Slots whose tensors are defined (at generation time).
  std::vector<int> defined(const std::function<bool(const Tensor&)>& ok = nullptr) const {
    std::vector<int> out;
    for (size_t i = 0; i < v_.size(); ++i)
      if (v_[i].defined() && (!ok || ok(v_[i]))) out.push_back(int(i));
    return out;
  }
  const Tensor& T(int i) const { return v_[size_t(i)]; }

  int pick_slot(const std::function<bool(const Tensor&)>& ok = nullptr) {
    auto s = defined(ok);
    // Recent values are likelier: programs chain instead of scattering.
    if (s.empty()) return -1;
    if (r_.chance(0.5)) return s[size_t(std::max<int64_t>(0, int64_t(s.size()) - r_.uniform(1, 3)))];
    return r_.pick(s);
  }

  std::vector<int64_t> random_dims(const Tensor& x) {
    std::vector<int64_t> dims;
    for (int64_t d = 0; d < x.dim(); ++d)
      if (r_.chance(0.5)) dims.push_back(r_.chance(0.3) ? d - x.dim() : d);
    return dims;
  }

  Shape reshape_target(const Tensor& x) {
    const int64_t n = x.numel();
    std::vector<Shape> options = {{n}, {1, n}, {n, 1}};
    for (int64_t f = 2; f <= n; ++f)
      if (n % f == 0) options.push_back({f, n / f});
    if (n > 0 && r_.chance(0.2)) options.push_back({-1});
    if (x.dim() >= 2 && r_.chance(0.5)) return x.sizes().size() == 2 ? Shape{x.size(1), x.size(0)} : Shape{n};
    return r_.pick(options);
  }

  Instr view_instr(int a) {
    const Tensor& x = T(a);
    Instr in{.code = Code::View, .a = a};
    const int64_t d = x.dim();
    in.sub = int(r_.uniform(0, kNumViewSubs - 1));
    switch (in.sub) {
      case kTranspose: in.ints = {r_.uniform(0, std::max<int64_t>(0, d - 1)), r_.uniform(0, std::max<int64_t>(0, d - 1))}; break;
      case kPermute: {
        std::vector<int64_t> p(static_cast<size_t>(d));
        for (int64_t i = 0; i < d; ++i) p[size_t(i)] = i;
        for (int64_t i = d - 1; i > 0; --i) std::swap(p[size_t(i)], p[size_t(r_.uniform(0, i))]);
        in.ints = p;
        break;
      }
      case kSlice: {
        int64_t dim = r_.uniform(0, std::max<int64_t>(0, d - 1));
        int64_t n = d > 0 ? x.size(dim) : 1;
        in.ints = {dim, r_.uniform(-1, n), r_.uniform(0, n + 1), r_.uniform(1, 2)};
        break;
      }
      case kSelect: {
        int64_t dim = r_.uniform(0, std::max<int64_t>(0, d - 1));
        int64_t n = d > 0 ? x.size(dim) : 1;
        in.ints = {dim, r_.uniform(-n, std::max<int64_t>(0, n - 1))};
        break;
      }
      case kReshape:
      case kViewOnly: in.ints = reshape_target(x); break;
      case kExpand: {
        Shape s = x.sizes();
        for (int64_t& e : s)
          if (e == 1 && r_.chance(0.6)) e = r_.uniform(2, 3);
        if (r_.chance(0.3)) s.insert(s.begin(), r_.uniform(1, 3));
        in.ints = s;
        break;
      }
      case kUnsqueeze: in.ints = {r_.uniform(0, d)}; break;
      case kSqueeze:
        if (d > 0 && r_.chance(0.5)) in.ints = {r_.uniform(0, d - 1)};
        break;
      case kFlatten: in.ints = {r_.uniform(0, std::max<int64_t>(0, d - 1)), -1}; break;
    }
    return in;
  }

  // An operand for a binary op with `x`: a slot that broadcasts with it, or -1.
  int partner(const Tensor& x, bool must_fit_into_x) {
    return pick_slot([&](const Tensor& t) {
      return must_fit_into_x ? broadcasts_to(t.sizes(), x.sizes()) : broadcastable(t.sizes(), x.sizes());
    });
  }

  Instr candidate() {
    const int a = pick_slot();
    const Tensor& x = T(a);
    const double u = r_.real() * 100;
    Instr in{.a = a};
    in.no_grad = r_.chance(0.2);
    if (u < 12) {
      in.code = Code::Unary;
      in.kind = r_.pick(kUnaryOps);
      in.x = -1 + r_.real();
      in.y = in.x + r_.real() * 2;
      in.flag = r_.chance(0.5);
    } else if (u < 26) {
      in.code = Code::Binary;
      in.kind = r_.pick(kBinaryOps);
      in.b = partner(x, false);
      if (in.b < 0) in.b = a;
    } else if (u < 32) {
      in.code = Code::BinaryScalar;
      in.kind = r_.pick(kArith);
      in.x = r_.pick(std::vector<double>{0.0, 1.0, 2.0, -0.5, 0.25, 3.0});
      in.flag = r_.chance(0.3);
    } else if (u < 35) {
      in.code = Code::Cast;
      in.dtype = random_dtype(r_);
    } else if (u < 42) {
      in.code = Code::Reduce;
      in.kind = r_.pick(kReduceOps);
      in.flag = r_.chance(0.4);
      in.x = double(r_.uniform(0, 1));
      if (in.kind == OpKind::argmax || in.kind == OpKind::argmin) {
        if (x.dim() > 0 && r_.chance(0.7)) in.ints = {r_.uniform(0, x.dim() - 1)};
      } else {
        in.ints = random_dims(x);
      }
    } else if (u < 44) {
      in.code = Code::Softmax;
      in.ints = {x.dim() > 0 ? r_.uniform(-1, x.dim() - 1) : 0};
      in.flag = r_.chance(0.5);
    } else if (u < 48) {
      in.code = Code::Matmul;
      in.b = pick_slot([&](const Tensor& t) {
        if (x.dim() == 0 || t.dim() == 0) return false;
        int64_t k = x.size(-1), kb = t.dim() == 1 ? t.size(0) : t.size(-2);
        return k == kb;
      });
      if (in.b < 0) return view_instr(a);
    } else if (u < 63) {
      return view_instr(a);
    } else if (u < 65) {
      in.code = Code::Contiguous;
    } else if (u < 67) {
      in.code = Code::Clone;
    } else if (u < 68) {
      in.code = Code::Detach;
    } else if (u < 76) {
      in.code = Code::InPlace;
      in.kind = r_.pick(kArith);
      in.b = partner(x, true);
      if (in.b < 0) in.b = a;
      in.flag = T(in.b).dtype() != x.dtype() && r_.chance(0.9);
    } else if (u < 80) {
      in.code = Code::InPlaceScalar;
      in.kind = r_.pick(kArith);
      in.x = r_.pick(std::vector<double>{1.0, 2.0, -0.5, 0.25, 3.0});
    } else if (u < 84) {
      in.code = Code::InPlaceUnary;
      in.sub = int(r_.uniform(0, kNumUnaryInPlaceSubs - 1));
      in.x = -0.5;
      in.y = 0.75;
    } else if (u < 88) {
      in.code = Code::Copy;
      in.b = partner(x, true);
      if (in.b < 0) return view_instr(a);
    } else if (u < 89) {
      if (x.dim() == 0) return view_instr(a);
      in.code = Code::IndexSelect;
      int64_t dim = r_.uniform(0, x.dim() - 1), n = x.size(dim);
      in.ints = {dim};
      for (int64_t i = r_.uniform(0, 4); i > 0 && n > 0; --i) in.ints.push_back(r_.uniform(0, n - 1));
    } else if (u < 90) {
      if (x.dim() == 0) return view_instr(a);
      in.code = Code::Cat;
      int64_t dim = r_.uniform(0, x.dim() - 1);
      in.ints = {dim};
      in.b = pick_slot([&](const Tensor& t) {
        if (t.dim() != x.dim() || t.dtype() != x.dtype()) return false;
        for (int64_t i = 0; i < t.dim(); ++i)
          if (i != dim && t.size(i) != x.size(i)) return false;
        return true;
      });
    } else if (u < 91) {
      in.code = Code::Where;
      in.b = partner(x, false);
      in.c = partner(x, false);
      if (in.b < 0 || in.c < 0) return view_instr(a);
    } else if (u < 93) {
      in.code = Code::Factory;
      in.sub = int(r_.uniform(0, kNumFactorySubs - 1));
      in.dtype = in.sub >= kRand ? random_dtype(r_, true) : random_dtype(r_);
      in.ints = in.sub == kArange ? std::vector<int64_t>{r_.uniform(0, 5)} : shape();
      in.x = r_.pick(std::vector<double>{0.0, 1.0, -2.5});
    } else if (u < 96) {
      in.code = Code::Backward;
      in.a = pick_slot([](const Tensor& t) { return t.requires_grad(); });
      in.flag = r_.chance(0.3);
      if (in.a < 0) return view_instr(a);
    } else if (u < 97) {
      in.code = Code::Grad;
      in.a = pick_slot([](const Tensor& t) { return t.requires_grad(); });
      in.b = pick_slot([](const Tensor& t) { return t.requires_grad(); });
      in.flag = r_.chance(0.3);
      if (in.a < 0) return view_instr(a);
    } else if (u < 98) {
      if (!w_.opt && w_.params.empty()) return view_instr(a);
      double k = r_.real();
      if (w_.opt && k < 0.6) in.code = Code::OptStep;
      else if (w_.opt && k < 0.75) {
        in.code = Code::ZeroGrad;
        in.flag = r_.chance(0.5);
      } else if (!w_.params.empty() && k < 0.95) {
        in.code = Code::ReadGrad;
        in.ints = {r_.uniform(0, int64_t(w_.params.size()) - 1)};
      } else if (!w_.params.empty()) {
        in.code = Code::SetGrad;
        int64_t i = r_.uniform(0, int64_t(w_.params.size()) - 1);
        in.ints = {i};
        const Tensor& p = w_.params[size_t(i)];
        in.a = pick_slot([&](const Tensor& t) { return t.sizes() == p.sizes() && t.dtype() == p.dtype(); });
        if (in.a < 0) return view_instr(a);
      } else {
        return view_instr(a);
      }
    } else if (u < 99.3) {
      in.code = Code::LinearRelu;
      in.flag = r_.chance(0.7);
      in.b = pick_slot([&](const Tensor& t) { return x.dim() == 2 && t.dim() == 2 && t.size(0) == x.size(1); });
      if (in.b < 0) return view_instr(a);
      const Shape out{x.size(0), T(in.b).size(1)};
      in.c = pick_slot([&](const Tensor& t) { return broadcasts_to(t.sizes(), out) && t.dim() <= 1; });
      if (in.c < 0) return view_instr(a);
    } else if (u < 99.97) {
      in.code = Code::Dropout;
      in.x = r_.pick(std::vector<double>{0.0, 0.25, 0.5});
      in.flag = r_.chance(0.8);
    } else {
      in.code = Code::Item;
    }
    if (in.code == Code::Cat && in.b < 0) return view_instr(a);
    return in;
  }

  void try_add(const Instr& in) {
    const size_t before = v_.size();
    try {
      exec(in, v_, w_);
    } catch (const Error&) {
      v_.resize(before);
      if (r_.chance(0.03)) {  // kept: both modes must raise here
        p_.body.push_back(in);
        stopped_ = true;
      }
      return;
    }
    p_.body.push_back(in);
  }

  void choose_outputs() {
    auto s = defined();
    const int64_t n = r_.uniform(1, 3);
    for (int64_t i = 0; i < n && !s.empty(); ++i)
      p_.outputs.push_back(r_.chance(0.6) ? s.back() - int(r_.uniform(0, std::min<int64_t>(2, int64_t(s.size()) - 1)))
                                          : r_.pick(s));
    for (int& o : p_.outputs) o = std::max(o, 0);
    // Sometimes an output of one call is an input of the next.
    for (size_t i = 0; i < p_.inputs.size(); ++i)
      for (size_t o = 0; o < p_.outputs.size(); ++o) {
        const Tensor& out = v_[size_t(p_.outputs[o])];
        const Tensor& in = v_[i];
        if (out.defined() && out.sizes() == in.sizes() && out.dtype() == in.dtype() && r_.chance(0.3))
          p_.feedback.emplace_back(int(i), int(o));
      }
  }

  Rng r_;
  Program p_;
  World w_;
  std::vector<Tensor> v_;
  bool stopped_ = false;
  bool big_ = false;
};

const char* code_name(Code c) {
  static const char* kNames[] = {"unary",   "binary",     "binary_scalar", "cast",          "reduce",  "softmax",
                                 "matmul",  "view",       "contiguous",    "clone",         "detach",  "inplace",
                                 "inplace_scalar", "inplace_unary", "copy_", "index_select", "cat",     "where",
                                 "factory", "backward",   "grad",          "opt_step",      "zero_grad", "read_grad",
                                 "set_grad", "item", "linear_relu", "dropout"};
  return kNames[int(c)];
}

}  // namespace

World make_world(const Program& p) {
  World w;
  for (const TensorSpec& s : p.closure) {
    if (s.view_of >= 0) w.closure.push_back(make_view(w.closure[size_t(s.view_of)], s.view_kind));
    else w.closure.push_back(make_tensor(s));
  }
  for (const TensorSpec& s : p.params) w.params.push_back(make_tensor(s).requires_grad_());
  if (!w.params.empty()) w.opt = make_optimizer(p.optim, w.params, p.lr);
  return w;
}

std::vector<Tensor> make_inputs(const Program& p, int call, const World& w, const std::vector<Tensor>& previous_outputs) {
  std::vector<Tensor> out;
  for (size_t i = 0; i < p.inputs.size(); ++i) {
    const TensorSpec& s = p.inputs[i];
    if (s.alias_input >= 0) {
      out.push_back(make_view(out[size_t(s.alias_input)], s.view_kind));
      continue;
    }
    if (s.from_closure >= 0 && size_t(s.from_closure) < w.closure.size()) {
      out.push_back(w.closure[size_t(s.from_closure)]);
      continue;
    }
    TensorSpec c = s;
    c.seed = s.seed + uint64_t(call) * 0x51ed27ull;
    Tensor t = make_tensor(c);
    if (s.requires_grad) t.requires_grad_();
    out.push_back(t);
  }
  if (call > 0)
    for (auto [input, output] : p.feedback)
      if (size_t(output) < previous_outputs.size()) {
        const Tensor& o = previous_outputs[size_t(output)];
        if (o.defined() && o.sizes() == out[size_t(input)].sizes() && o.dtype() == out[size_t(input)].dtype())
          out[size_t(input)] = o;
      }
  return out;
}

void run_host_actions(const Program& p, World& w, int call) {
  NoGradGuard no_grad;
  for (const HostAction& a : p.actions) {
    if (a.call != call) continue;
    switch (a.kind) {
      case HostAction::ManualSeed: manual_seed(uint64_t(a.value * 100)); break;
      case HostAction::SetLr:
        if (w.opt) w.opt->set_lr(a.value);
        break;
      case HostAction::MutateClosure:
        if (!w.closure.empty()) {
          const Tensor& t = w.closure[size_t(a.index) % w.closure.size()];
          if (t.dtype() != DType::Bool) t.add_(1.0);
        }
        break;
      case HostAction::ZeroGradOutside:
        if (w.opt) w.opt->zero_grad(a.value > 1);
        break;
      case HostAction::SetData:  // new memory for a parameter, as Module::to and loading do
        if (!w.params.empty()) {
          const Tensor& t = w.params[size_t(a.index) % w.params.size()];
          nn::set_data(t, (t.detach() * 0.5).contiguous());
        }
        break;
    }
  }
}

std::vector<Tensor> run_body(const Program& p, World& w, const std::vector<Tensor>& inputs) {
  std::vector<Tensor> v(inputs);
  v.insert(v.end(), w.closure.begin(), w.closure.end());
  v.insert(v.end(), w.params.begin(), w.params.end());
  for (const Instr& in : p.body) exec(in, v, w);
  std::vector<Tensor> outs;
  for (int o : p.outputs) outs.push_back(defined_or_empty(v.at(size_t(o))));
  return outs;
}

Program generate(uint64_t seed) { return Generator(seed).run(); }

std::string describe(const Program& p) {
  std::ostringstream os;
  auto spec = [&](const char* what, size_t i, const TensorSpec& s) {
    os << "  " << what << i << ": " << dtype_name(s.dtype) << shape_str(s.shape);
    if (s.view_of >= 0) os << " view kind " << s.view_kind << " of closure" << s.view_of;
    if (s.transposed) os << " (passed transposed)";
    if (s.alias_input >= 0) os << " view kind " << s.view_kind << " of input" << s.alias_input;
    if (s.from_closure >= 0) os << " is closure" << s.from_closure;
    if (s.requires_grad) os << " requires_grad";
    os << "\n";
  };
  os << "program " << p.seed << ": " << p.calls << " calls, warmup " << p.options.warmup_calls << ", optimize "
     << p.options.optimize << ", fuse " << p.options.fuse << ", side_stores " << p.options.side_stores << ", schedule "
     << p.options.schedule << ", optimizer " << int(p.optim) << " lr " << p.lr << "\n";
  for (size_t i = 0; i < p.inputs.size(); ++i) spec("input", i, p.inputs[i]);
  for (size_t i = 0; i < p.closure.size(); ++i) spec("closure", i, p.closure[i]);
  for (size_t i = 0; i < p.params.size(); ++i) spec("param", i, p.params[i]);
  for (const HostAction& a : p.actions)
    os << "  before call " << a.call << ": host action " << int(a.kind) << " index " << a.index << " value " << a.value
       << "\n";
  size_t slot = p.slots_at_start();
  for (const Instr& in : p.body) {
    os << "  " << code_name(in.code);
    if (in.code == Code::Unary || in.code == Code::Binary || in.code == Code::BinaryScalar || in.code == Code::Reduce ||
        in.code == Code::InPlace || in.code == Code::InPlaceScalar)
      os << " " << op_name(in.kind);
    os << " a=" << in.a;
    if (in.b >= 0) os << " b=" << in.b;
    if (in.c >= 0) os << " c=" << in.c;
    os << " sub=" << in.sub << " ints=" << shape_str(in.ints) << " x=" << in.x << " y=" << in.y
       << " dtype=" << dtype_name(in.dtype) << " flag=" << in.flag << (in.no_grad ? " no_grad" : "");
    bool pushes = !(in.code == Code::InPlace || in.code == Code::InPlaceScalar || in.code == Code::InPlaceUnary ||
                    in.code == Code::Copy || in.code == Code::Backward || in.code == Code::OptStep ||
                    in.code == Code::ZeroGrad || in.code == Code::SetGrad);
    if (pushes) os << "  -> %" << slot++;
    os << "\n";
  }
  os << "  outputs";
  for (int o : p.outputs) os << " %" << o;
  os << "\n";
  for (auto [input, output] : p.feedback) os << "  from call 1 on, input" << input << " is the previous output " << output << "\n";
  return os.str();
}

}  // namespace duet::fuzz
