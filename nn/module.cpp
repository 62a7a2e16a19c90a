// Module: registration, recursive traversal, train/eval, device moves, state dicts, printing.
#include "nn/module.h"

#include "core/capture_hooks.h"

#include <ostream>

#include "autograd/grad_mode.h"
#include "core/functions.h"

namespace duet::nn {

Tensor Module::forward(const Tensor&) {
  DUET_FAIL(type_name_, ": this module has no single-tensor forward(); call its own forward method");
}

void Module::check_new_name(const std::string& name) const {
  DUET_CHECK(!name.empty() && name.find('.') == std::string::npos, type_name_, ": invalid name '", name,
             "' (names must be non-empty and contain no '.')");
  auto taken = [&](const auto& list) {
    for (const auto& [k, v] : list)
      if (k == name) return true;
    return false;
  };
  DUET_CHECK(!taken(parameters_) && !taken(buffers_) && !taken(children_), type_name_, ": the name '", name,
             "' is already registered");
}

Tensor Module::register_parameter(const std::string& name, Tensor value, bool requires_grad) {
  check_new_name(name);
  DUET_CHECK(value.defined(), type_name_, ": parameter '", name, "' is undefined");
  value = value.detach();
  if (requires_grad) value.requires_grad_(true);
  parameters_.emplace_back(name, value);
  return value;
}

Tensor Module::register_buffer(const std::string& name, Tensor value) {
  check_new_name(name);
  buffers_.emplace_back(name, value);
  return value;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name);
  DUET_CHECK(module != nullptr, type_name_, ": submodule '", name, "' is null");
  children_.emplace_back(name, std::move(module));
}

void Module::collect(NamedTensors& out, const std::string& prefix, bool params, bool recurse) const {
  for (const auto& [k, v] : params ? parameters_ : buffers_) out.insert(prefix + k, v);
  if (!recurse) return;
  for (const auto& [k, child] : children_) child->collect(out, prefix + k + ".", params, recurse);
}

NamedTensors Module::named_parameters(bool recurse) const {
  NamedTensors out;
  collect(out, "", true, recurse);
  return out;
}

NamedTensors Module::named_buffers(bool recurse) const {
  NamedTensors out;
  collect(out, "", false, recurse);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (const auto& [k, v] : named_parameters(recurse)) out.push_back(v);
  return out;
}

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (const auto& [k, c] : children_) out.push_back(c);
  return out;
}

bool Module::is_training() const {
  if (CaptureHooks* h = capture_hooks())
    h->guard("a module's training mode", [mode = std::weak_ptr<bool>(mode_), was = training_] {
      auto m = mode.lock();
      return !m || *m == was;
    });
  return training_;
}

void Module::train(bool on) {
  training_ = on;
  *mode_ = on;
  for (auto& [k, c] : children_) c->train(on);
}

void Module::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  for (const Tensor& p : parameters()) {
    if (set_to_none || !p.grad().defined()) p.set_grad(Tensor());
    else p.grad().zero_();
  }
}

void set_data(const Tensor& target, const Tensor& value) {
  TensorImpl& t = *target.unsafe_impl();
  const TensorImpl& v = *value.unsafe_impl();
  t.storage_ = v.storage_;
  t.sizes_ = v.sizes_;
  t.strides_ = v.strides_;
  t.offset_ = v.offset_;
  t.dtype_ = v.dtype_;
  t.device_ = v.device_;
}

void Module::to(Device device) {
  NoGradGuard no_grad;
  for (const auto& list : {named_parameters(), named_buffers()})
    for (const auto& [k, v] : list) set_data(v, v.to(device));
}

void Module::to(DType dtype) {
  NoGradGuard no_grad;
  for (const auto& [k, v] : named_parameters()) {
    DUET_CHECK(is_floating(dtype), type_name_, ".to: parameters must stay floating-point, got ", dtype_name(dtype));
    set_data(v, v.to(dtype).contiguous());
  }
  for (const auto& [k, v] : named_buffers())
    if (v.is_floating_point()) set_data(v, v.to(dtype).contiguous());
}

NamedTensors Module::state_dict() const {
  NamedTensors out;
  collect(out, "", true, true);
  collect(out, "", false, true);
  return out;
}

// All or nothing: every key is checked (and moved to its parameter's device) before the
// first parameter is overwritten, so a bad state dict leaves the module as it was.
void Module::load_state_dict(const NamedTensors& state, bool strict) {
  NamedTensors mine = state_dict();
  NoGradGuard no_grad;
  if (strict)
    for (const auto& [name, t] : state)
      DUET_CHECK(mine.contains(name), type_name_, ".load_state_dict: unexpected key '", name, "'");
  std::vector<std::pair<Tensor, Tensor>> copies;  // (target, source on the target's device)
  for (const auto& [name, target] : mine) {
    const Tensor* src = state.find(name);
    if (!src) {
      DUET_CHECK(!strict, type_name_, ".load_state_dict: missing key '", name, "'");
      continue;
    }
    DUET_CHECK(src->defined(), type_name_, ".load_state_dict: '", name, "' is an undefined tensor");
    DUET_CHECK(src->sizes() == target.sizes(), type_name_, ".load_state_dict: '", name, "' has shape ",
               src->sizes(), " in the state dict but ", target.sizes(), " in the module");
    copies.emplace_back(target, src->to(target.device()));
  }
  for (const auto& [target, src] : copies) target.copy_(src);
}

void Module::str_into(std::string& out, int indent) const {
  out += type_name_ + "(";
  std::string extra = extra_repr();
  if (children_.empty()) {
    out += extra + ")";
    return;
  }
  out += extra + "\n";
  std::string pad(size_t(indent + 2), ' ');
  for (const auto& [k, c] : children_) {
    out += pad + "(" + k + "): ";
    c->str_into(out, indent + 2);
    out += "\n";
  }
  out += std::string(size_t(indent), ' ') + ")";
}

std::string Module::str() const {
  std::string out;
  str_into(out, 0);
  return out;
}

std::ostream& operator<<(std::ostream& os, const Module& m) { return os << m.str(); }

}  // namespace duet::nn
