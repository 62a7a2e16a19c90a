// Dead code elimination: keeps the nodes that (transitively) feed an output or a
// write-back, plus every Input node (the compiled step's signature must not change) and
// every node whose kernel checks its input values (kChecksValues): eager mode raises there
// even when the result goes unused, so the compiled step must too.
#include <vector>

#include "graph/passes/pass.h"

namespace duet::graph {

void dead_code_elimination(Graph& g) {
  std::vector<bool> live(g.size(), false);
  for (ValueId v : g.outputs) live[size_t(v)] = true;
  for (const WriteBack& w : g.writebacks) live[size_t(w.value)] = live[size_t(w.state)] = true;
  for (size_t i = 0; i < g.size(); ++i)
    if (g.nodes[i].kind == NodeKind::Input ||
        (g.nodes[i].kind == NodeKind::Op && op_def(g.nodes[i].op).has(kChecksValues)))
      live[i] = true;
  // Inputs are defined before their users, so one backward sweep reaches everything live.
  for (size_t i = g.size(); i-- > 0;)
    if (live[i])
      for (ValueId in : g.nodes[i].inputs) live[size_t(in)] = true;
  bool all = true;
  for (bool l : live) all = all && l;
  if (!all) compact(g, live);
}

}  // namespace duet::graph
