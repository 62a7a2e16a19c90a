// The programs' console output: header, progress line, summary.
#include "examples/common/console_output.h"

#include <unistd.h>

#include <cstdio>
#include <string>

namespace duet::workloads {

void print_run_header(const WorkloadSpec& spec, const TrainConfig& c) {
  std::printf("%s: mode %s, device %s, %d epochs, batch %lld, lr %g, seed %llu\n", spec.name.c_str(), c.mode.c_str(),
              c.device.c_str(), c.epochs, (long long)c.batch, c.lr, (unsigned long long)c.seed);
}

ProgressLine::ProgressLine(int epochs) : epochs_(epochs), tty_(isatty(fileno(stdout))) {}

void ProgressLine::operator()(int epoch, int64_t step, int64_t steps, double loss, double samples_per_second) const {
  bool last = step == steps;
  if (!tty_ && !last && step % 100 != 0) return;
  if (tty_ && !last && step % 5 != 0) return;
  constexpr int kWidth = 30;
  int filled = steps ? int(kWidth * step / steps) : kWidth;
  std::string bar(size_t(filled), '=');
  if (filled < kWidth) bar += '>' + std::string(size_t(kWidth - filled - 1), ' ');
  std::printf("%sepoch %d/%d [%s] %lld/%lld loss %.4f %.0f samples/s%s", tty_ ? "\r" : "", epoch + 1, epochs_,
              bar.c_str(), (long long)step, (long long)steps, loss, samples_per_second, tty_ && !last ? "" : "\n");
  std::fflush(stdout);
}

std::string quality(const TrainResult& r) {
  char text[96] = "";
  if (r.test_accuracy) std::snprintf(text, sizeof text, "test accuracy %.4f", *r.test_accuracy);
  if (r.val_loss)
    std::snprintf(text, sizeof text, "val loss %.4f | %.0f tokens/s", *r.val_loss, r.tokens_per_second);
  return text;
}

void print_summary(const TrainResult& r) {
  std::printf("threads %d | epoch time %.2f s (last) | step %.2f ms median, %.2f ms p90 | %.0f samples/s\n", r.threads,
              r.epoch_seconds.back(), r.step_ms_median, r.step_ms_p90, r.samples_per_second);
  std::printf("final train loss %.4f | %s | peak RSS %.1f MB | peak allocator %.1f MB, %lld allocations\n",
              r.final_train_loss, quality(r).c_str(), double(r.peak_rss_bytes) / 1e6,
              double(r.peak_allocator_bytes) / 1e6, (long long)r.allocations);
  if (!r.compile_report.empty()) std::printf("%s", r.compile_report.c_str());
}

}  // namespace duet::workloads
