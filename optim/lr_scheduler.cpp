// Learning-rate schedulers (see lr_scheduler.h for the formulas).
#include "optim/lr_scheduler.h"

#include <cmath>
#include <numbers>

#include "core/capture_hooks.h"
#include "core/error.h"

namespace duet::optim {
namespace {

double cosine_anneal(double start, double end, double pct) {
  return end + (start - end) / 2.0 * (1 + std::cos(std::numbers::pi * pct));
}

// Position within a phase; a phase of zero length counts as finished (PyTorch would
// divide by zero there).
double phase_pct(double done, double length) { return length > 0 ? done / length : 1.0; }

}  // namespace

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer), base_lr_(optimizer.lr()) {}

void LRScheduler::step() {
  // Under graph capture the schedule would advance once, at capture, and never on replays.
  if (CaptureHooks* h = capture_hooks())
    h->refuse("an LR scheduler stepped inside a compiled function; a compiled step reads the optimizer's "
              "learning rate when it runs: call scheduler.step() outside the compiled function");
  const double lr = lr_at(last_epoch_ + 1);
  optimizer_.set_lr(lr);
  ++last_epoch_;
  last_lr_ = lr;
}

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  DUET_CHECK(step_size > 0, "StepLR: invalid step_size ", step_size, " (expected > 0)");
  DUET_CHECK(gamma >= 0, "StepLR: invalid gamma ", gamma, " (expected >= 0)");
  init();
}

double StepLR::lr_at(int64_t epoch) const {
  return base_lr_ * std::pow(gamma_, double(epoch / step_size_));
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min)
    : LRScheduler(optimizer), t_max_(T_max), eta_min_(eta_min) {
  DUET_CHECK(T_max > 0, "CosineAnnealingLR: invalid T_max ", T_max, " (expected > 0)");
  DUET_CHECK(eta_min >= 0, "CosineAnnealingLR: invalid eta_min ", eta_min, " (expected >= 0)");
  init();
}

double CosineAnnealingLR::lr_at(int64_t epoch) const {
  return eta_min_ + (base_lr_ - eta_min_) * (1 + std::cos(std::numbers::pi * double(epoch) / double(t_max_))) / 2;
}

WarmupCosineLR::WarmupCosineLR(Optimizer& optimizer, int64_t warmup_iters, int64_t decay_iters, double min_lr)
    : LRScheduler(optimizer), warmup_(warmup_iters), decay_(decay_iters), min_lr_(min_lr) {
  DUET_CHECK(warmup_iters >= 0 && decay_iters > warmup_iters, "WarmupCosineLR: invalid warmup_iters ", warmup_iters,
             " and decay_iters ", decay_iters, " (expected 0 <= warmup_iters < decay_iters)");
  DUET_CHECK(min_lr >= 0 && min_lr <= base_lr_, "WarmupCosineLR: invalid min_lr ", min_lr, " (expected 0 <= min_lr <= ",
             "the optimizer's lr ", base_lr_, ")");
  init();
}

double WarmupCosineLR::lr_at(int64_t it) const {
  if (it < warmup_) return base_lr_ * double(it + 1) / double(warmup_ + 1);
  if (it > decay_) return min_lr_;
  const double r = double(it - warmup_) / double(decay_ - warmup_);
  return min_lr_ + (base_lr_ - min_lr_) * (1 + std::cos(std::numbers::pi * r)) / 2;
}

LinearLR::LinearLR(Optimizer& optimizer, double start_factor, double end_factor, int64_t total_iters)
    : LRScheduler(optimizer), start_factor_(start_factor), end_factor_(end_factor), total_iters_(total_iters) {
  DUET_CHECK(start_factor > 0 && start_factor <= 1, "LinearLR: invalid start_factor ", start_factor,
             " (expected 0 < start_factor <= 1)");
  DUET_CHECK(end_factor >= 0 && end_factor <= 1, "LinearLR: invalid end_factor ", end_factor,
             " (expected 0 <= end_factor <= 1)");
  DUET_CHECK(total_iters > 0, "LinearLR: invalid total_iters ", total_iters, " (expected > 0)");
  init();
}

double LinearLR::lr_at(int64_t epoch) const {
  const double frac = double(std::min(epoch, total_iters_)) / double(total_iters_);
  return base_lr_ * (start_factor_ + (end_factor_ - start_factor_) * frac);
}

OneCycleLR::OneCycleLR(Optimizer& optimizer, double max_lr, int64_t total_steps, double pct_start,
                       double div_factor, double final_div_factor)
    : LRScheduler(optimizer), max_lr_(max_lr), total_steps_(total_steps) {
  DUET_CHECK(max_lr >= 0, "OneCycleLR: invalid max_lr ", max_lr, " (expected >= 0)");
  DUET_CHECK(total_steps > 0, "OneCycleLR: invalid total_steps ", total_steps, " (expected > 0)");
  DUET_CHECK(pct_start >= 0 && pct_start <= 1, "OneCycleLR: invalid pct_start ", pct_start,
             " (expected 0 <= pct_start <= 1)");
  DUET_CHECK(div_factor > 0, "OneCycleLR: invalid div_factor ", div_factor, " (expected > 0)");
  DUET_CHECK(final_div_factor > 0, "OneCycleLR: invalid final_div_factor ", final_div_factor,
             " (expected > 0)");
  initial_lr_ = max_lr / div_factor;
  min_lr_ = initial_lr_ / final_div_factor;
  phase1_end_ = pct_start * double(total_steps) - 1;
  base_lr_ = initial_lr_;
  init();
}

double OneCycleLR::lr_at(int64_t epoch) const {
  DUET_CHECK(epoch <= total_steps_, "OneCycleLR: tried to step ", epoch, " times; the specified number of "
             "total_steps is ", total_steps_);
  const double e = double(epoch);
  const double phase2_end = double(total_steps_) - 1;
  if (e <= phase1_end_) return cosine_anneal(initial_lr_, max_lr_, phase_pct(e, phase1_end_));
  return cosine_anneal(max_lr_, min_lr_, phase_pct(e - phase1_end_, phase2_end - phase1_end_));
}

}  // namespace duet::optim
