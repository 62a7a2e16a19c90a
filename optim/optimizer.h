// Optimizer: the base of duet's optimizers (libtorch's torch::optim feel). It holds the
// parameters, the learning rate, a count of step() calls and per-parameter state, and
// turns that state into a flat state dict:
//
//   "step"               0-dim int64: step() calls so far
//   "lr"                 0-dim float64: the current learning rate (schedulers change it)
//   "state.<i>.step"     0-dim int64: updates parameter i received (present once it has state)
//   "state.<i>.<buffer>" the optimizer's buffers for parameter i (exp_avg, momentum_buffer, ...)
//
//   auto opt = optim::Adam(model.parameters(), 1e-3);
//   for (...) { opt.zero_grad(); loss(...).backward(); opt.step(); }
//
// Parameters must be distinct floating-point leaves that require grad. A parameter whose
// grad() is undefined is skipped by step() and its state is left untouched, as in PyTorch.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/named_tensors.h"
#include "core/tensor.h"

namespace duet::optim {

// A set of parameters with option values of its own, as torch.optim's param_groups (the
// nanoGPT recipe decays matrices and not biases, norms or embeddings). Today a group sets
// its weight decay (Adam, AdamW); the learning rate is the optimizer's for every group.
struct ParamGroup {
  std::vector<Tensor> params;
  std::optional<double> weight_decay;  // unset: the optimizer's option
};
// Every group's parameters, in group order.
std::vector<Tensor> params_of(const std::vector<ParamGroup>& groups);

class Optimizer {
 public:
  // `name` prefixes error messages ("Adam: ...").
  Optimizer(std::vector<Tensor> params, double lr, std::string name = "Optimizer");
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual void step() = 0;
  // set_to_none: drop the gradients (the next backward allocates fresh ones); else zero them.
  void zero_grad(bool set_to_none = true);

  double lr() const { return lr_; }
  void set_lr(double lr);
  const std::vector<Tensor>& params() const { return params_; }
  int64_t step_count() const { return step_count_; }
  const std::string& name() const { return name_; }

  // Copies of the state (later steps do not change a saved dict).
  virtual NamedTensors state_dict() const;
  // Restores what state_dict() saved, into an optimizer over parameters of the same shapes
  // (and the same options). Throws duet::Error naming the key of a missing, unexpected or
  // mis-shaped entry; on error this optimizer is left unchanged.
  virtual void load_state_dict(const NamedTensors& dict);

 protected:
  struct ParamState {
    bool initialized = false;
    int64_t step = 0;      // updates this parameter received
    NamedTensors buffers;  // each shaped and typed like the parameter
    // The step count as a 0-dim float64 tensor, made when a step that needs it is captured
    // into a graph (a host integer would be baked into the graph as a constant); kept equal
    // to `step` from then on (Note [Optimizers under capture]).
    Tensor step_tensor;

  };

  // The buffer names an initialized parameter's state holds under the current options.
  virtual std::vector<std::string> buffer_names() const = 0;

  ParamState& state(size_t i) { return state_[i]; }
  const ParamState& state(size_t i) const { return state_[i]; }
  // Parameter i's state, its buffer_names() made as zeros on first use.
  ParamState& state_with_zero_buffers(size_t i);

  // Note [Optimizers under capture]: step() is ordinary eager code, captured like any
  // other, but an optimizer also keeps host state (step counts, its learning rate, state
  // made on the first step) that a replayed graph cannot see. Every step() starts with
  // begin_step(), which, while a graph is captured, (a) lets a failed capture restore the
  // host state, (b) makes the state epoch and the step-count relations the captured
  // code branched on guards of the compiled step, and (c) asks for an eager call when a
  // parameter's state does not exist yet. The counts advance through count_step() and
  // count_param_step(), which register the same advance for every replay and keep each
  // count's tensor (made on demand for the graph by param_step_tensor() and
  // step_count_tensor()) equal to the host count in eager steps too.
  void begin_step();
  void count_step();
  int64_t count_param_step(size_t i);                  // ++state(i).step; returns it
  const Tensor& param_step_tensor(size_t i);           // capture only: state(i).step as a tensor
  const Tensor& step_count_tensor();                   // capture only: step_count() as a tensor
  // The learning rate as a 0-dim float64 tensor on `device`, made on demand while a step is
  // captured and kept equal to lr() by set_lr(): the compiled step reads it when it runs,
  // so a new learning rate changes the update without capturing again.
  const Tensor& lr_tensor(const Device& device);
  // x * lr(): a host multiply in eager steps, the lr tensor in captured ones (same bits:
  // the rate is rounded to x's dtype either way).
  Tensor times_lr(const Tensor& x);
  // Registers, while capturing, that the compiled step assumed `holds()` (see begin_step).
  void guard(const std::string& what, std::function<bool()> holds);
  // Sets every count tensor to its host count (after load_state_dict).
  void sync_step_tensors();

 private:
  std::vector<Tensor> params_;
  double lr_;
  std::string name_;
  int64_t step_count_ = 0;
  std::vector<ParamState> state_;
  Tensor step_count_tensor_;
  std::vector<Tensor> lr_tensors_;  // lr_tensor(), one per device asked for
  uint64_t state_epoch_ = 0;  // bumped when load_state_dict replaces the state tensors
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // lets capture hooks outlive this safely
  struct Counts {
    int64_t step_count;
    std::vector<int64_t> steps;
  };
  Counts counts_at_begin_;
};

}  // namespace duet::optim
