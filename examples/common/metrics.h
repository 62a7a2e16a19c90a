// Small measuring helpers for the training loop: a steady clock, percentiles over step
// times, and the process's peak resident set size.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace duet::workloads {

using Clock = std::chrono::steady_clock;

inline double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Linear interpolation between order statistics (NumPy's default, which the peers use);
// 0 for no values.
double percentile(std::vector<double> values, double q);

// The process's peak RSS in bytes (getrusage).
int64_t peak_rss_bytes();

}  // namespace duet::workloads
