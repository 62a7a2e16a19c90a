// The --json record, written with nlohmann::json (fields in a fixed order, so records
// diff line by line).
#include "examples/common/json_record.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace duet::workloads {

std::string to_json(const TrainResult& r) {
  nlohmann::ordered_json j;
  j["workload"] = r.workload;
  j["framework"] = "duet";
  j["mode"] = r.config.mode;
  j["device"] = r.config.device;
  j["threads"] = r.threads;
  j["batch"] = r.config.batch;
  j["epochs"] = r.config.epochs;
  j["lr"] = r.config.lr;
  j["steps"] = r.step_ms.size();
  j["epoch_seconds"] = r.epoch_seconds;
  j["step_ms_median"] = r.step_ms_median;
  j["step_ms_p90"] = r.step_ms_p90;
  j["samples_per_second"] = r.samples_per_second;
  if (r.test_accuracy) j["test_accuracy"] = *r.test_accuracy;
  j["final_train_loss"] = r.final_train_loss;
  j["peak_rss_bytes"] = r.peak_rss_bytes;
  j["peak_allocator_bytes"] = r.peak_allocator_bytes;
  j["allocations"] = r.allocations;
  j["compile_ms"] = r.compile_ms;
  j["arena_bytes"] = r.arena_bytes;
  j["lower_bound_bytes"] = r.lower_bound_bytes;
  j["compile_seconds"] = r.compile_ms / 1e3;
  j["kernel_launches"] = r.kernel_launches_per_step;  // per step, from step 3 on
  j["seed"] = r.config.seed;
  j["recompute_convs"] = r.config.recompute_convs;
  j["recompute_activations"] = r.config.recompute_activations;
  nlohmann::ordered_json curve = nlohmann::ordered_json::array();
  for (const auto& [seconds, loss] : r.loss_curve) curve.push_back({seconds, loss});
  j["loss_curve"] = std::move(curve);
  if (r.val_loss) {
    j["tokens_per_second"] = r.tokens_per_second;
    j["val_loss"] = *r.val_loss;
    nlohmann::ordered_json evals = nlohmann::ordered_json::array();
    for (const auto& e : r.evaluations) evals.push_back({e.step, e.train_loss, e.val_loss});
    j["evaluations"] = std::move(evals);
  }
  if (std::getenv("DUET_BENCH_ALL_STEPS")) {
    j["step_ms"] = r.step_ms;
    j["step_losses"] = r.step_losses;
  }
  return j.dump();
}

void check_writable(const std::string& path, const std::string& who) {
  std::error_code ec;
  const bool existed = std::filesystem::exists(path, ec);
  {
    std::ofstream probe(path, std::ios::app);
    DUET_CHECK(probe.good(), who, ": --json ", path, " cannot be written: ", std::strerror(errno));
  }
  if (!existed) std::filesystem::remove(path, ec);
}

}  // namespace duet::workloads
