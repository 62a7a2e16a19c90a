// Learning-rate schedulers, following torch.optim.lr_scheduler. Construction captures the
// optimizer's lr as the base lr and, as in PyTorch, performs the initial step: it sets
// the lr for epoch 0 (e.g. LinearLR starts at base_lr * start_factor). Each later step()
// advances one epoch (or one batch, for per-batch schedules such as OneCycleLR) and writes
// the new lr into the optimizer. Every schedule is computed in closed form from the epoch
// count, so a manual set_lr() between steps is overwritten by the next step().
//
//   optim::SGD opt(params, 0.1);
//   optim::CosineAnnealingLR sched(opt, /*T_max=*/100);
//   for (int epoch = 0; epoch < 100; ++epoch) { train(opt); sched.step(); }
#pragma once

#include <cstdint>

#include "optim/optimizer.h"

namespace duet::optim {

class LRScheduler {
 public:
  explicit LRScheduler(Optimizer& optimizer);
  virtual ~LRScheduler() = default;

  void step();
  double get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  double base_lr() const { return base_lr_; }

 protected:
  // The lr at `epoch` (0 for the value set at construction). Derived constructors must
  // call init() once their fields are set.
  virtual double lr_at(int64_t epoch) const = 0;
  void init() { step(); }
  Optimizer& optimizer_;
  double base_lr_;

 private:
  int64_t last_epoch_ = -1;
  double last_lr_ = 0;
};

// lr = base_lr * gamma^floor(epoch / step_size)
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);

 protected:
  double lr_at(int64_t epoch) const override;

 private:
  int64_t step_size_;
  double gamma_;
};

// lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2
// (PyTorch's closed form; past T_max it rises again along the cosine.)
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min = 0);

 protected:
  double lr_at(int64_t epoch) const override;

 private:
  int64_t t_max_;
  double eta_min_;
};

// nanoGPT's schedule (get_lr in its train.py), per iteration it:
//   it < warmup:            base_lr * (it + 1) / (warmup + 1)
//   it > decay_iters:       min_lr
//   otherwise:              min_lr + (base_lr - min_lr) * (1 + cos(pi * r)) / 2,
//                           r = (it - warmup) / (decay_iters - warmup)
// (the char-gpt recipe: warmup 100, cosine to 1e-4 at 2000). The same as PyTorch's
// SequentialLR of a linear warmup and CosineAnnealingLR, up to where the warmup starts.
class WarmupCosineLR : public LRScheduler {
 public:
  WarmupCosineLR(Optimizer& optimizer, int64_t warmup_iters, int64_t decay_iters, double min_lr);

 protected:
  double lr_at(int64_t epoch) const override;

 private:
  int64_t warmup_, decay_;
  double min_lr_;
};

// Linear warmup: lr = base_lr * (start + (end - start) * min(epoch, total_iters) / total_iters)
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0,
           int64_t total_iters = 5);

 protected:
  double lr_at(int64_t epoch) const override;

 private:
  double start_factor_;
  double end_factor_;
  int64_t total_iters_;
};

// The 1cycle policy (Smith & Topin), two phases with cosine annealing as PyTorch's default
// (three_phase=false, anneal_strategy="cos"): from max_lr / div_factor up to max_lr over the
// first pct_start * total_steps - 1 steps, then down to max_lr / (div_factor *
// final_div_factor) at step total_steps - 1. Step once per batch; stepping more than
// total_steps times throws. The optimizer's own lr is ignored (base_lr() is the initial lr).
// Only the learning rate is scheduled: PyTorch's momentum / beta1 cycling is NOT done.
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, double max_lr, int64_t total_steps, double pct_start = 0.3,
             double div_factor = 25, double final_div_factor = 1e4);

 protected:
  double lr_at(int64_t epoch) const override;

 private:
  double max_lr_;
  int64_t total_steps_;
  double initial_lr_;
  double min_lr_;
  double phase1_end_;  // step at which max_lr is reached (may be fractional, as in PyTorch)
};

}  // namespace duet::optim
