// The rematerialisation pass (see remat.h, Note [Rematerialisation]).
#include "graph/remat.h"

#include <algorithm>

#include "graph/fusion.h"
#include "graph/lifetimes.h"
#include "graph/step_memory.h"

namespace duet::graph {
namespace {

int64_t value_bytes(const Node& n) { return numel_of(n.meta.shape) * int64_t(dtype_size(n.meta.dtype)); }

// A node whose kernel is a pure, cheap function of its inputs: one elementwise pass.
bool recomputable(const Node& n) {
  if (n.kind == NodeKind::Op) return n.op == OpKind::relu || n.op == OpKind::batch_norm;
  return n.kind == NodeKind::Fused && n.fused && n.fused->kind == FusedProgram::Kind::BatchNormRelu &&
         n.fused->side_stores.empty();
}

}  // namespace

RematStats rematerialize(Graph& g, int min_gap_nodes) {
  RematStats stats;
  const size_t n = g.size();
  if (n == 0) return stats;
  const int64_t min_gap = min_gap_nodes > 0 ? min_gap_nodes : std::max<int64_t>(16, int64_t(n) / 8);
  const auto uses = users(g);
  const std::vector<ValueId> root = value_buffers(g);
  // What writes each state during a run: groups side-storing into it, and values computed
  // straight into its memory (Note [Direct write-backs]).
  auto writers = side_store_writers(g);
  const std::vector<ValueId> lives_in = values_living_in_state(g);
  for (size_t x = 0; x < n; ++x)
    if (lives_in[x] != kNoValue) writers[size_t(lives_in[x])].push_back(ValueId(x));
  std::vector<bool> pinned(n, false);  // outputs and written-back values live to the end anyway
  for (ValueId o : g.outputs) pinned[size_t(root[size_t(o)])] = true;
  for (const WriteBack& w : g.writebacks) pinned[size_t(root[size_t(w.value)])] = true;
  // Is value u (an input of v) read at or after position `from` by a node other than v?
  auto read_from = [&](ValueId u, ValueId v, ValueId from) {
    for (ValueId w : uses[size_t(u)])
      if (w != v && w >= from) return true;
    return false;
  };
  auto state_written_between = [&](ValueId u, ValueId lo, ValueId hi) {
    const ValueId s = root[size_t(u)];
    if (g.node(s).kind != NodeKind::State) return false;
    for (ValueId w : writers[size_t(s)])
      if (w > lo && w < hi) return true;
    return false;
  };

  std::vector<std::vector<ValueId>> before(n);  // copies to run right before node i
  for (size_t vi = 0; vi < n; ++vi) {
    const ValueId v = ValueId(vi);
    const Node& node = g.nodes[vi];
    if (!recomputable(node) || pinned[vi] || root[vi] != v) continue;
    std::vector<ValueId> u = uses[vi];
    std::sort(u.begin(), u.end());
    u.erase(std::unique(u.begin(), u.end()), u.end());
    if (u.size() < 2) continue;
    size_t split = 0;  // late uses are u[split..]
    int64_t gap = 0;
    for (size_t i = 1; i < u.size(); ++i)
      if (int64_t(u[i] - u[i - 1]) > gap) gap = int64_t(u[i] - u[i - 1]), split = i;
    if (gap < min_gap) continue;
    const ValueId at = u[split];
    const int64_t bytes = value_bytes(node);
    bool ok = true;
    for (ValueId in : node.inputs) {
      const Node& src = g.node(root[size_t(in)]);
      const bool free_input = src.kind == NodeKind::Input || src.kind == NodeKind::State;
      const bool small = value_bytes(g.node(in)) * 64 <= bytes;
      if (state_written_between(in, v, at)) ok = false;
      else if (!free_input && !small && (is_view_node(g.node(in)) || !read_from(in, v, at))) ok = false;
      if (!ok) break;
    }
    if (!ok) continue;
    Node copy = node;
    const ValueId c = g.add(std::move(copy));
    for (size_t i = split; i < u.size(); ++i)
      for (ValueId& in : g.nodes[size_t(u[i])].inputs)
        if (in == v) in = c;
    before[size_t(at)].push_back(c);
    stats.values++;
    stats.bytes += bytes;
  }
  if (stats.values == 0) return stats;
  std::vector<ValueId> order;
  order.reserve(g.size());
  for (size_t i = 0; i < n; ++i) {
    for (ValueId c : before[i]) order.push_back(c);
    order.push_back(ValueId(i));
  }
  reorder(g, order);
  return stats;
}

}  // namespace duet::graph
