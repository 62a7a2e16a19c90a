// Direct write-backs, in-place rules and the arena plan of a compiled step (see step_memory.h).
#include "graph/step_memory.h"

#include "graph/fusion.h"
#include "graph/lifetimes.h"

namespace duet::graph {
namespace {

// A fused elementwise group may write over any input it reads at the output's layout:
// each tile's reads happen before that tile's store (Note [Tile interpreter]). A fused
// reduction or GEMM may not.
bool can_inplace(const Node& n, size_t input) {
  if (n.kind == NodeKind::Fused) return n.fused->kind == FusedProgram::Kind::Elementwise;
  return default_can_inplace(n, input);
}

}  // namespace

// Note [Direct write-backs]: a state's new value can be computed straight into the
// state's memory when nothing reads the old value afterwards: every reader of the state
// (directly or through views) comes before the producer, or is the producer itself
// reading it directly elementwise (each element read before it is written). Then the
// value needs no arena space and no copy at the end; this is how eager's in-place
// optimizer updates look once captured. Returns, per value, the state it lives in.
std::vector<ValueId> values_living_in_state(const Graph& g) {
  std::vector<ValueId> lives_in(g.size(), kNoValue);
  std::vector<int> written(g.size(), 0);
  for (const WriteBack& w : g.writebacks) written[size_t(w.value)]++;
  std::vector<bool> is_output(g.size(), false);
  for (ValueId o : g.outputs) is_output[size_t(o)] = true;
  std::vector<ValueId> root = value_buffers(g);
  auto uses = users(g);
  for (const WriteBack& w : g.writebacks) {
    const Node& producer = g.node(w.value);
    const Node& state = g.node(w.state);
    if ((producer.kind != NodeKind::Op && producer.kind != NodeKind::Fused) || is_view_node(producer)) continue;
    if (written[size_t(w.value)] != 1 || is_output[size_t(w.value)] || producer.meta.dtype != state.meta.dtype ||
        !Tensor(state.state).is_contiguous())
      continue;
    bool safe = true;
    for (size_t v = 0; v < g.size() && safe; ++v) {
      if (root[v] != w.state) continue;  // the state itself and its views
      for (ValueId u : uses[v]) {
        if (u < w.value) continue;
        bool direct_elementwise_read = u == w.value && ValueId(v) == w.state && is_elementwise(producer);
        if (!direct_elementwise_read) safe = false;
      }
    }
    if (safe) lives_in[size_t(w.value)] = w.state;
  }
  return lives_in;
}

bool is_elementwise(const Node& n) {
  if (n.kind == NodeKind::Fused) return n.fused->kind == FusedProgram::Kind::Elementwise;  // not reductions
  return n.kind == NodeKind::Op && op_def(n.op).has(kElementwise);
}

StepMemory plan_step_memory(const Graph& g, PlanStrategy strategy) {
  StepMemory m;
  m.requests = compute_lifetimes(g, can_inplace);
  m.lives_in = values_living_in_state(g);
  for (size_t v = 0; v < g.size(); ++v)
    if (m.lives_in[v] != kNoValue) m.requests[v].pinned = true;
  m.plan = plan_memory(m.requests, strategy);
  return m;
}

}  // namespace duet::graph
