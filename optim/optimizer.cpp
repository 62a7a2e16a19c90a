// Optimizer base: parameter validation, zero_grad, and the state dict (see optimizer.h).
#include "optim/optimizer.h"

#include <cmath>
#include <set>

#include "autograd/grad_mode.h"
#include "core/capture_hooks.h"
#include "core/error.h"
#include "core/functions.h"

namespace duet::optim {

std::vector<Tensor> params_of(const std::vector<ParamGroup>& groups) {
  std::vector<Tensor> all;
  for (const ParamGroup& g : groups) all.insert(all.end(), g.params.begin(), g.params.end());
  return all;
}
namespace {

std::string state_key(size_t i, const std::string& what) {
  return "state." + std::to_string(i) + "." + what;
}

Tensor int_scalar(int64_t v) { return full({}, double(v), DType::Int64); }

const Tensor& entry(const NamedTensors& dict, const std::string& key, const std::string& who) {
  const Tensor* t = dict.find(key);
  DUET_CHECK(t != nullptr, who, ".load_state_dict: missing entry '", key, "'");
  DUET_CHECK(t->defined(), who, ".load_state_dict: entry '", key, "' is an undefined tensor");
  return *t;
}

int64_t read_count(const NamedTensors& dict, const std::string& key, const std::string& who) {
  const Tensor& t = entry(dict, key, who);
  DUET_CHECK(t.dim() == 0, who, ".load_state_dict: entry '", key, "' must be a 0-dim tensor, got shape ",
             t.sizes());
  double v = t.to(DType::Float64).item<double>();
  DUET_CHECK(v >= 0 && v < 0x1p63 && v == std::floor(v), who, ".load_state_dict: entry '", key,
             "' must hold a non-negative integer, got ", v);
  return int64_t(v);
}

}  // namespace

Optimizer::Optimizer(std::vector<Tensor> params, double lr, std::string name)
    : params_(std::move(params)), lr_(lr), name_(std::move(name)) {
  DUET_CHECK(!params_.empty(), name_, ": got an empty parameter list");
  DUET_CHECK(lr >= 0, name_, ": invalid learning rate ", lr, " (expected lr >= 0)");
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    DUET_CHECK(p.defined(), name_, ": parameter ", i, " is an undefined tensor");
    DUET_CHECK(p.is_floating_point(), name_, ": parameter ", i, " has dtype ", p.dtype(),
               "; only floating-point tensors can be optimized");
    DUET_CHECK(p.is_leaf(), name_, ": parameter ", i, " is not a leaf (it has grad_fn ", p.grad_fn_name(),
               "); can't optimize a non-leaf tensor");
    DUET_CHECK(p.requires_grad(), name_, ": parameter ", i,
               " does not require grad; call requires_grad_() on it or leave it out");
    for (size_t j = 0; j < i; ++j)
      DUET_CHECK(!params_[j].is_same(p), name_, ": parameter ", i, " is the same tensor as parameter ", j,
                 "; each parameter may appear once");
  }
  state_.resize(params_.size());
}

void Optimizer::set_lr(double lr) {
  DUET_CHECK(lr >= 0, name_, ": invalid learning rate ", lr, " (expected lr >= 0)");
  NoGradGuard no_grad;
  if (CaptureHooks* h = capture_hooks()) {
    // Inside a compiled function the new rate is part of the step: the graph writes it
    // into the lr tensors (made first, so that every later read in the step sees the
    // write) and each replay sets the host number as this call did.
    for (const Tensor& p : params_) lr_tensor(p.device());
    h->on_abort([alive = std::weak_ptr<int>(alive_), self = this, old = lr_] {
      if (!alive.expired()) self->lr_ = old;
    });
    h->on_replay([alive = std::weak_ptr<int>(alive_), self = this, lr] {
      if (!alive.expired()) self->lr_ = lr;
    });
  }
  lr_ = lr;
  for (const Tensor& t : lr_tensors_) t.fill_(lr);
}

void Optimizer::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  for (const Tensor& p : params_) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (set_to_none)
      p.set_grad(Tensor());
    else if (g.requires_grad())  // a grad made with create_graph: cut it from its history
      p.set_grad(zeros_like(g));
    else
      g.zero_();
  }
}

NamedTensors Optimizer::state_dict() const {
  NoGradGuard no_grad;
  NamedTensors out;
  out.insert("step", int_scalar(step_count_));
  out.insert("lr", full({}, lr_, DType::Float64));
  for (size_t i = 0; i < state_.size(); ++i) {
    const ParamState& s = state_[i];
    if (!s.initialized) continue;
    out.insert(state_key(i, "step"), int_scalar(s.step));
    for (const auto& [name, buf] : s.buffers) out.insert(state_key(i, name), buf.clone());
  }
  return out;
}

// All or nothing: the new state is built aside and only swapped in once every entry has
// been checked (and converted), so a bad dict leaves the optimizer as it was.
void Optimizer::load_state_dict(const NamedTensors& dict) {
  NoGradGuard no_grad;
  const std::string who = name_;
  const std::vector<std::string> names = buffer_names();

  // Every key must be one this optimizer knows, so typos and mismatched options surface.
  std::set<std::string> expected = {"step", "lr"};
  for (size_t i = 0; i < params_.size(); ++i) {
    expected.insert(state_key(i, "step"));
    for (const auto& n : names) expected.insert(state_key(i, n));
  }
  for (const auto& key : dict.keys())
    DUET_CHECK(expected.count(key), who, ".load_state_dict: unexpected entry '", key,
               "' (saved from an optimizer with other parameters or options?)");

  int64_t step_count = read_count(dict, "step", who);
  const Tensor& lr_t = entry(dict, "lr", who);
  DUET_CHECK(lr_t.dim() == 0, who, ".load_state_dict: entry 'lr' must be a 0-dim tensor, got shape ",
             lr_t.sizes());
  double lr = lr_t.to(DType::Float64).item<double>();
  DUET_CHECK(lr >= 0, who, ".load_state_dict: entry 'lr' holds an invalid learning rate ", lr);

  std::vector<ParamState> state(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    bool any = dict.contains(state_key(i, "step"));
    for (const auto& n : names) any = any || dict.contains(state_key(i, n));
    if (!any) continue;  // this parameter had not been updated yet
    ParamState& s = state[i];
    s.initialized = true;
    s.step = read_count(dict, state_key(i, "step"), who);
    for (const auto& n : names) {
      const std::string key = state_key(i, n);
      const Tensor& t = entry(dict, key, who);
      DUET_CHECK(t.sizes() == p.sizes(), who, ".load_state_dict: entry '", key, "' has shape ", t.sizes(),
                 " but parameter ", i, " has shape ", p.sizes());
      DUET_CHECK(t.is_floating_point(), who, ".load_state_dict: entry '", key, "' has dtype ", t.dtype(),
                 "; expected a floating-point tensor");
      s.buffers.insert(n, t.to(p.dtype()).to(p.device()).clone());
    }
  }
  state_ = std::move(state);
  step_count_ = step_count;
  lr_ = lr;
  ++state_epoch_;       // a compiled step holding the old state tensors captures again
  sync_step_tensors();  // count tensors a compiled step reads follow the loaded counts
}

Optimizer::ParamState& Optimizer::state_with_zero_buffers(size_t i) {
  ParamState& s = state_[i];
  if (!s.initialized) {
    s.initialized = true;
    for (const auto& n : buffer_names()) s.buffers.insert(n, zeros_like(params_[i]));
  }
  return s;
}

}  // namespace duet::optim
