// The pass pipeline: ordering, timing, verification, dumps and logging (see pipeline.h).
#include "graph/passes/pipeline.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

namespace duet::graph {
namespace {

// A cheap structural fingerprint, to tell whether a round of passes changed anything.
size_t fingerprint(const Graph& g) {
  size_t h = g.size();
  auto mix = [&](size_t v) { h = (h ^ v) * 0x100000001b3ull + 0x9e3779b97f4a7c15ull; };
  for (const Node& n : g.nodes) {
    mix(size_t(n.kind));
    mix(size_t(n.op));
    mix(n.attrs.hash());
    mix(std::hash<const void*>{}(n.state.get()));
    for (ValueId v : n.inputs) mix(size_t(uint32_t(v)));
  }
  for (ValueId v : g.outputs) mix(size_t(uint32_t(v)));
  for (const WriteBack& w : g.writebacks) mix(size_t(uint32_t(w.value)) << 32 | uint32_t(w.state));
  return h;
}

class Runner {
 public:
  Runner(Graph& g, const PipelineOptions& opts) : g_(g), opts_(opts) {
    const char* env = std::getenv("DUET_LOG_PASSES");
    log_ = opts.log || (env && *env && std::string(env) != "0");
    if (!opts.dump_dir.empty()) std::filesystem::create_directories(opts.dump_dir);
    if (opts_.verify) g_.verify();
    dump("captured");
  }

  void run(const char* name, PassFn pass) {
    PassStats s{name, g_.size(), 0, 0};
    auto t0 = std::chrono::steady_clock::now();
    pass(g_);
    s.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    s.nodes_after = g_.size();
    if (opts_.verify) g_.verify();
    if (log_)
      std::fprintf(stderr, "[duet graph] %-18s %6zu -> %6zu nodes  %8.3f ms\n", name, s.nodes_before, s.nodes_after,
                   s.ms);
    stats_.push_back(std::move(s));
    dump(name);
  }

  std::vector<PassStats> take() { return std::move(stats_); }

 private:
  void dump(const char* name) {
    if (opts_.dump_dir.empty()) return;
    char prefix[16];
    std::snprintf(prefix, sizeof prefix, "%02d-", step_++);
    std::filesystem::path base = std::filesystem::path(opts_.dump_dir) / (prefix + std::string(name));
    std::ofstream(base.string() + ".txt") << g_.str();
    std::ofstream(base.string() + ".dot") << g_.dot();
  }

  Graph& g_;
  const PipelineOptions& opts_;
  bool log_ = false;
  int step_ = 0;
  std::vector<PassStats> stats_;
};

}  // namespace

std::vector<PassStats> run_passes(Graph& g, const PipelineOptions& opts) {
  Runner r(g, opts);
  r.run("dce", dead_code_elimination);
  r.run("cse", common_subexpression_elimination);
  r.run("constant_folding", constant_folding);
  r.run("simplify", algebraic_simplification);
  r.run("dce", dead_code_elimination);
  // Simplification exposes new duplicates (permute chains merged into one permute) and
  // CSE exposes new patterns; iterate to a fixed point, bounded.
  for (int round = 0; round < opts.max_rounds; ++round) {
    size_t before = fingerprint(g);
    r.run("cse", common_subexpression_elimination);
    r.run("simplify", algebraic_simplification);
    r.run("dce", dead_code_elimination);
    if (fingerprint(g) == before) break;
  }
  return r.take();
}

std::string format_pass_stats(const std::vector<PassStats>& stats) {
  std::string out;
  char line[128];
  for (const PassStats& s : stats) {
    std::snprintf(line, sizeof line, "%-18s %6zu -> %6zu nodes  %8.3f ms\n", s.name.c_str(), s.nodes_before,
                  s.nodes_after, s.ms);
    out += line;
  }
  return out;
}

}  // namespace duet::graph
