// The optimisation pipeline: runs the passes of graph/passes/pass.h in order, timing each,
// verifying after each (debug builds by default) and optionally dumping every stage.
//
//   PipelineOptions opts;  opts.dump_dir = "/tmp/duet-graph";   // 00-captured.txt/.dot, 01-dce.txt, ...
//   std::vector<PassStats> stats = run_passes(g, opts);
//   std::cerr << format_pass_stats(stats);
#pragma once

#include <string>
#include <vector>

#include "graph/passes/pass.h"

namespace duet::graph {

struct PipelineOptions {
#ifdef NDEBUG
  bool verify = false;
#else
  bool verify = true;
#endif
  // When non-empty, <dump_dir>/<NN>-<pass>.txt (g.str()) and .dot (g.dot()) are written
  // after every pass, starting with 00-captured; the directory is created if needed.
  std::string dump_dir;
  // One line per pass on stderr; also turned on by the environment variable
  // DUET_LOG_PASSES=1.
  bool log = false;
  // Rounds of CSE + simplification + DCE after the first sweep, stopping early once a
  // round changes nothing.
  int max_rounds = 4;
};

// DCE, CSE, constant folding, simplification, DCE; then rounds of CSE, simplification and
// DCE until the graph stops changing (at most opts.max_rounds). Returns one entry per pass
// run, in order.
std::vector<PassStats> run_passes(Graph& g, const PipelineOptions& opts = {});

// A table of the stats: pass, nodes before -> after, milliseconds.
std::string format_pass_stats(const std::vector<PassStats>& stats);

}  // namespace duet::graph
