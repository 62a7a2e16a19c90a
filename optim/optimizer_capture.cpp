// The optimizer's side of graph capture: undo, guards, replays and count tensors (Note
// [Optimizers under capture] in optimizer.h).
#include "autograd/grad_mode.h"
#include "core/capture_hooks.h"
#include "core/dispatch.h"
#include "core/functions.h"
#include "optim/optimizer.h"

namespace duet::optim {

void Optimizer::guard(const std::string& what, std::function<bool()> holds) {
  CaptureHooks* h = capture_hooks();
  if (!h) return;
  h->guard(name_ + " " + what,
           [alive = std::weak_ptr<int>(alive_), holds = std::move(holds)] { return alive.expired() || holds(); });
}

void Optimizer::begin_step() {
  CaptureHooks* h = capture_hooks();
  if (!h) return;
  std::weak_ptr<int> alive = alive_;
  h->on_abort([alive, self = this, lr = lr_, count = step_count_, state = state_] {
    if (alive.expired()) return;
    self->lr_ = lr;
    self->step_count_ = count;
    self->state_ = state;
  });
  // The learning rate reaches the compiled step as a tensor it reads (lr_tensor()); the
  // state tensors are its state: state loaded from a dict captures again.
  guard("state (load_state_dict)", [self = this, epoch = state_epoch_] { return self->state_epoch_ == epoch; });
  if (!buffer_names().empty())
    for (size_t i = 0; i < params_.size(); ++i)
      if (!state_[i].initialized && params_[i].grad().defined())
        h->needs_eager_call(name_ + " makes its state for parameter " + std::to_string(i) + " on its first step()");
  counts_at_begin_.step_count = step_count_;
  counts_at_begin_.steps.clear();
  for (const ParamState& s : state_) counts_at_begin_.steps.push_back(s.step);
}

void Optimizer::count_step() {
  ++step_count_;
  if (step_count_tensor_.defined()) {
    NoGradGuard no_grad;
    if (is_capturing()) step_count_tensor_.add_(1.0);
    else step_count_tensor_.fill_(double(step_count_));
  }
  CaptureHooks* h = capture_hooks();
  if (!h) return;
  // Each replay advances the host counts as this captured step did.
  std::vector<int64_t> deltas;
  for (size_t i = 0; i < state_.size(); ++i) deltas.push_back(state_[i].step - counts_at_begin_.steps.at(i));
  h->on_replay([alive = std::weak_ptr<int>(alive_), self = this, total = step_count_ - counts_at_begin_.step_count,
                deltas] {
    if (alive.expired()) return;
    self->step_count_ += total;
    for (size_t i = 0; i < deltas.size(); ++i) self->state_[i].step += deltas[i];
  });
}

int64_t Optimizer::count_param_step(size_t i) {
  ParamState& s = state_[i];
  ++s.step;
  if (s.step_tensor.defined()) {
    NoGradGuard no_grad;
    if (is_capturing()) s.step_tensor.add_(1.0);
    else s.step_tensor.fill_(double(s.step));
  }
  return s.step;
}

const Tensor& Optimizer::param_step_tensor(size_t i) {
  ParamState& s = state_[i];
  if (!s.step_tensor.defined()) {
    CaptureSuspendGuard real;  // persistent state, not a value of the graph
    s.step_tensor = full({}, double(s.step), {DType::Float64, params_[i].device()});
  }
  return s.step_tensor;
}

const Tensor& Optimizer::step_count_tensor() {
  if (!step_count_tensor_.defined()) {
    CaptureSuspendGuard real;
    step_count_tensor_ = full({}, double(step_count_), {DType::Float64, params_[0].device()});
  }
  return step_count_tensor_;
}

const Tensor& Optimizer::lr_tensor(const Device& device) {
  for (const Tensor& t : lr_tensors_)
    if (t.device() == device) return t;
  CaptureSuspendGuard real;
  lr_tensors_.push_back(full({}, lr_, {DType::Float64, device}));
  return lr_tensors_.back();
}

Tensor Optimizer::times_lr(const Tensor& x) {
  if (!is_capturing()) return x * lr_;
  return x * lr_tensor(x.device()).to(x.dtype());
}

void Optimizer::sync_step_tensors() {
  NoGradGuard no_grad;
  if (step_count_tensor_.defined()) step_count_tensor_.fill_(double(step_count_));
  for (ParamState& s : state_)
    if (s.step_tensor.defined()) s.step_tensor.fill_(double(s.step));
  for (const Tensor& t : lr_tensors_) t.fill_(lr_);
}

}  // namespace duet::optim
