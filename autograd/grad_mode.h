// Thread-local switches of autograd: whether ops record a graph (grad mode) and whether
// backward checks each result for NaN/Inf (anomaly mode).
//
//   { NoGradGuard g;  w.sub_(lr * w.grad()); }      // not recorded
//   { DetectAnomalyGuard a;  loss.backward(); }      // throws naming the op that made a NaN
#pragma once

namespace duet {

class GradMode {
 public:
  static bool is_enabled();
  static void set_enabled(bool enabled);
};

class AnomalyMode {
 public:
  static bool is_enabled();
  static void set_enabled(bool enabled);
};

// RAII: grad mode off (or on) for this scope, restored after.
class NoGradGuard {
 public:
  NoGradGuard() : prev_(GradMode::is_enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

class EnableGradGuard {
 public:
  EnableGradGuard() : prev_(GradMode::is_enabled()) { GradMode::set_enabled(true); }
  ~EnableGradGuard() { GradMode::set_enabled(prev_); }
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool prev_;
};

class DetectAnomalyGuard {
 public:
  DetectAnomalyGuard() : prev_(AnomalyMode::is_enabled()) { AnomalyMode::set_enabled(true); }
  ~DetectAnomalyGuard() { AnomalyMode::set_enabled(prev_); }
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace duet
