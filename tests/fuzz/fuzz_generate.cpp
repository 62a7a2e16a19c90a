// Random programs for the differential fuzzer: the generator (see fuzz_program.h). Each
// candidate instruction is run eagerly on a scratch world and kept when it succeeds.
#include <algorithm>
#include <cmath>
#include <functional>

#include "core/functions.h"
#include "tests/fuzz/fuzz_program.h"

namespace duet::fuzz {
namespace {

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
                                        OpKind::var, OpKind::std,  OpKind::argmax, OpKind::argmin,
                                        OpKind::topk_indices};

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
    p_.options.rematerialize = r_.chance(0.8);
    p_.options.remat_min_gap = r_.chance(0.5) ? int(r_.uniform(1, 3)) : 0;  // small gaps: copies in short programs
    p_.options.recompute_convolutions = graph::ConvRecompute(r_.uniform(0, 2));  // Always: copies that buy nothing run too
    p_.options.recompute_activations = r_.chance(0.5);
    for (int c = 1; c < p_.calls; ++c) {
      if (!r_.chance(0.3)) continue;
      HostAction a;
      a.call = c;
      a.kind = HostAction::Kind(r_.uniform(0, 5));
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

  // Convolution, pooling, batch norm or layer norm on slot a (Code::ConvPool); a candidate the ops
  // refuse (a shape or dtype they do not take) is dropped by try_add like any other.
  Instr conv_pool_instr(int a) {
    const Tensor& x = T(a);
    Instr in{.code = Code::ConvPool, .a = a};
    in.sub = int(r_.uniform(0, kNumConvPoolSubs - 1));
    const int64_t channels = x.dim() >= 3 ? x.size(-3) : 1;
    if (in.sub == kConv) {
      in.b = pick_slot([&](const Tensor& t) {
        return t.dtype() == x.dtype() && t.dim() >= 2 && t.dim() <= 4 && (t.dim() < 3 ? 1 : t.size(-3)) == channels;
      });
      if (in.b < 0) return view_instr(a);
      const int64_t out_channels = T(in.b).dim() == 4 ? T(in.b).size(0) : 1;
      in.c = r_.chance(0.5) ? pick_slot([&](const Tensor& t) {
        return t.dtype() == x.dtype() && t.dim() == 1 && t.size(0) == out_channels;
      }) : -1;
      in.ints = {r_.uniform(1, 2), r_.uniform(0, 1)};
    } else if (in.sub == kMaxPool || in.sub == kAvgPool) {
      in.ints = {r_.uniform(1, 3), r_.uniform(1, 2)};
    } else if (in.sub == kBatchNorm) {
      if (x.dim() < 2) return view_instr(a);
      auto stat = [&] {
        return r_.chance(0.7) ? pick_slot([&](const Tensor& t) {
          return t.dtype() == x.dtype() && t.dim() == 1 && t.size(0) == x.size(1);
        }) : -1;
      };
      in.b = stat();
      in.c = stat();
      in.flag = r_.chance(0.7);
    } else if (in.sub == kLayerNorm) {
      if (x.dim() < 1) return view_instr(a);
      const int64_t k = r_.uniform(1, std::min<int64_t>(2, x.dim()));
      const Shape rows(x.sizes().end() - k, x.sizes().end());
      auto affine = [&](double p) {
        return r_.chance(p) ? pick_slot([&](const Tensor& t) { return t.dtype() == x.dtype() && t.sizes() == rows; })
                            : -1;
      };
      in.ints = {k};
      in.b = affine(0.7);
      in.c = affine(0.5);
    } else if (in.sub == kAttention) {
      if (x.dim() < 2) return view_instr(a);
      const Shape batch(x.sizes().begin(), x.sizes().end() - 2);
      in.b = r_.chance(0.5) ? pick_slot([&](const Tensor& t) {
        return t.dtype() == x.dtype() && t.dim() == x.dim() && t.size(-1) == x.size(-1) &&
               Shape(t.sizes().begin(), t.sizes().end() - 2) == batch;
      }) : -1;
      in.flag = r_.chance(0.5);
    }
    return in;
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
      } else if (in.kind == OpKind::topk_indices) {  // ints: dim, k; flag: largest
        const int64_t dim = x.dim() > 0 ? r_.uniform(-1, x.dim() - 1) : 0;
        in.ints = {dim, x.dim() > 0 ? r_.uniform(0, x.size(dim)) : 1};
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
    } else if (u < 57) {
      return view_instr(a);
    } else if (u < 63) {
      return conv_pool_instr(a);
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
      in.sub = r_.chance(0.5) ? 1 : 0;
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

}  // namespace

Program generate(uint64_t seed) { return Generator(seed).run(); }

}  // namespace duet::fuzz
