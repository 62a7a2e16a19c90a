// fashion_mlp: trains the fashion-mlp workload (MLP 784-256-128-10, Adam, cross-entropy)
// on Fashion-MNIST and reports speed, memory and accuracy.
//
//   fashion_mlp [--mode eager|graph] [--device cpu|cuda] [--epochs N] [--steps N] [--batch B]
//               [--lr X] [--threads T] [--data DIR] [--limit N] [--seed S] [--json PATH]
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "core/error.h"
#include "examples/fashion_mlp/workload.h"

using duet::workloads::FashionMlpConfig;

namespace {

std::string usage() {
  return std::string("usage: fashion_mlp ") + duet::workloads::kConfigFlagsUsage + " [--json PATH]\n";
}

struct Args {
  FashionMlpConfig config;
  std::string json_path;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      std::cout << usage();
      std::exit(0);
    }
    DUET_CHECK(i + 1 < argc, "fashion_mlp: ", flag, " needs a value\n", usage());
    std::string v = argv[++i];
    if (flag == "--json") a.json_path = v;
    else if (!duet::workloads::apply_config_flag(a.config, flag, v))
      DUET_FAIL("fashion_mlp: unknown option ", flag, "\n", usage());
  }
  return a;
}

// Fails now, not after the whole run, when `path` cannot be written: opened for append
// (an existing file is left as it is), and removed again if this made it.
void check_writable(const std::string& path) {
  std::error_code ec;
  const bool existed = std::filesystem::exists(path, ec);
  {
    std::ofstream probe(path, std::ios::app);
    DUET_CHECK(probe.good(), "fashion_mlp: --json ", path, " cannot be written: ", std::strerror(errno));
  }
  if (!existed) std::filesystem::remove(path, ec);
}

// A progress line per epoch: redrawn in place on a terminal, printed every 100 steps and
// at the end of the epoch otherwise.
void progress(int epoch, int epochs, int64_t step, int64_t steps, double loss, double samples_per_s, bool tty) {
  bool last = step == steps;
  if (!tty && !last && step % 100 != 0) return;
  if (tty && !last && step % 5 != 0) return;
  constexpr int kWidth = 30;
  int filled = steps ? int(kWidth * step / steps) : kWidth;
  std::string bar(size_t(filled), '=');
  if (filled < kWidth) bar += '>' + std::string(size_t(kWidth - filled - 1), ' ');
  std::printf("%sepoch %d/%d [%s] %lld/%lld loss %.4f %.0f samples/s%s", tty ? "\r" : "", epoch + 1, epochs,
              bar.c_str(), (long long)step, (long long)steps, loss, samples_per_s, tty && !last ? "" : "\n");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Args args = parse(argc, argv);
    if (!args.json_path.empty()) check_writable(args.json_path);
    const FashionMlpConfig& c = args.config;
    bool tty = isatty(fileno(stdout));
    std::printf("fashion-mlp: mode %s, device %s, %d epochs, batch %lld, lr %g, seed %llu\n", c.mode.c_str(),
                c.device.c_str(), c.epochs, (long long)c.batch, c.lr, (unsigned long long)c.seed);
    auto result = duet::workloads::run_fashion_mlp(
        c, [&](int epoch, int64_t step, int64_t steps, double loss, double sps) {
          progress(epoch, c.epochs, step, steps, loss, sps, tty);
        });
    std::printf("threads %d | epoch time %.2f s (last) | step %.2f ms median, %.2f ms p90 | %.0f samples/s\n",
                result.threads, result.epoch_seconds.back(), result.step_ms_median, result.step_ms_p90,
                result.samples_per_second);
    std::printf("final train loss %.4f | test accuracy %.4f | peak RSS %.1f MB | peak allocator %.1f MB, %lld allocations\n",
                result.final_train_loss, result.test_accuracy, double(result.peak_rss_bytes) / 1e6,
                double(result.peak_allocator_bytes) / 1e6, (long long)result.allocations);
    if (!result.compile_report.empty()) std::printf("%s", result.compile_report.c_str());
    if (!args.json_path.empty()) {
      std::ofstream out(args.json_path);
      DUET_CHECK(out.good(), "fashion_mlp: cannot write ", args.json_path);
      out << duet::workloads::to_json(result) << "\n";
      std::printf("wrote %s\n", args.json_path.c_str());
    }
    return 0;
  } catch (const duet::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
