// Random programs for the differential fuzzer: making the world and the inputs, running
// the body, describing a program (see fuzz_program.h; generation: fuzz_generate.cpp).
#include "tests/fuzz/fuzz_program.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "autograd/autograd.h"
#include "core/dispatch.h"
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

}  // namespace

// ---- the interpreter

namespace {

// A tensor as an (N, C, H, W) image: 1-D to 3-D tensors gain leading dims of 1.
Tensor as_image(const Tensor& t) {
  DUET_CHECK(t.dim() >= 1 && t.dim() <= 4, "fuzz: no image view of a ", t.dim(), "-D tensor");
  Tensor r = t;
  while (r.dim() < 4) r = r.unsqueeze(0);
  return r;
}

Tensor conv_pool(const Instr& in, const std::vector<Tensor>& v) {
  const Tensor& a = v.at(size_t(in.a));
  const std::vector<int64_t>& k = in.ints;
  auto slot = [&](int i) { return i < 0 ? Tensor() : v.at(size_t(i)); };
  switch (in.sub) {
    case kConv: return conv2d(as_image(a), as_image(slot(in.b)), slot(in.c), {k[0]}, {k[1]});
    case kMaxPool: return max_pool2d(as_image(a), {k[0]}, {k[1]});
    case kAvgPool: return avg_pool2d(as_image(a), {k[0]}, {k[1]});
    case kGlobalPool: return adaptive_avg_pool2d(as_image(a), {1});
    case kLayerNorm: return nn::functional::layer_norm(a, Shape(a.sizes().end() - k[0], a.sizes().end()), slot(in.b),
                                                       slot(in.c));
    case kAttention: {
      const Tensor kv = in.b < 0 ? a : slot(in.b);
      const double scale = 1.0 / std::sqrt(double(std::max<int64_t>(1, a.size(-1))));
      // The op's flat output: the result (taken as F::scaled_dot_product_attention takes
      // it), then the rows' log-sum-exp.
      const Tensor flat = apply(OpKind::attention, {a, kv, kv}, Attrs().set("causal", in.flag).set("scale", scale));
      Shape shape = a.sizes();
      shape.back() = kv.size(-1);
      return flat.narrow(0, 0, numel_of(shape)).view(shape);
    }
    default: return nn::functional::batch_norm(a, slot(in.b), slot(in.c), {}, {}, in.flag);
  }
}

}  // namespace

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
        case OpKind::topk_indices: v.push_back(topk(x, k[1], k[0], in.flag).values); return;
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
    case Code::Dropout:
      v.push_back(in.sub == 1 ? w.dropout->forward(A()) : nn::functional::dropout(A(), in.x, in.flag));
      return;
    case Code::ConvPool: v.push_back(conv_pool(in, v)); return;
  }
}

namespace {

const char* code_name(Code c) {
  static const char* kNames[] = {"unary",   "binary",     "binary_scalar", "cast",          "reduce",  "softmax",
                                 "matmul",  "view",       "contiguous",    "clone",         "detach",  "inplace",
                                 "inplace_scalar", "inplace_unary", "copy_", "index_select", "cat",     "where",
                                 "factory", "backward",   "grad",          "opt_step",      "zero_grad", "read_grad",
                                 "set_grad", "item", "linear_relu", "dropout", "conv_pool"};
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
      case HostAction::ToggleTraining: w.dropout->train(!w.dropout->is_training()); break;
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


std::string describe(const Program& p) {
  std::ostringstream os;
  auto spec = [&](const char* what, size_t i, const TensorSpec& s) {
    os << "  " << what << i << ":";
    if (s.alias_input < 0 && s.from_closure < 0 && s.view_of < 0) os << " " << dtype_name(s.dtype) << shape_str(s.shape);
    if (s.view_of >= 0) os << " view kind " << s.view_kind << " of closure" << s.view_of;
    if (s.transposed) os << " (passed transposed)";
    if (s.alias_input >= 0) os << " view kind " << s.view_kind << " of input" << s.alias_input;
    if (s.from_closure >= 0) os << " is closure" << s.from_closure;
    if (s.requires_grad) os << " requires_grad";
    os << "\n";
  };
  os << "program " << p.seed << ": " << p.calls << " calls, warmup " << p.options.warmup_calls << ", optimize "
     << p.options.optimize << ", fuse " << p.options.fuse << ", side_stores " << p.options.side_stores << ", schedule "
     << p.options.schedule << ", rematerialize " << p.options.rematerialize << " (min gap " << p.options.remat_min_gap
     << ", convolutions " << int(p.options.recompute_convolutions) << ", activations " << p.options.recompute_activations
     << "), optimizer " << int(p.optim) << " lr " << p.lr << "\n";
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
