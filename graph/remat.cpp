// The rematerialisation pass (see remat.h, Note [Rematerialisation]).
#include "graph/remat.h"

#include <algorithm>
#include <utility>

#include "graph/fusion.h"
#include "graph/lifetimes.h"
#include "graph/step_memory.h"

namespace duet::graph {
namespace {

int64_t value_bytes(const Node& n) { return numel_of(n.meta.shape) * int64_t(dtype_size(n.meta.dtype)); }

// A node whose kernel is a pure function of its inputs: one elementwise pass, or (when
// convolutions are recomputed too) a convolution with or without its fused epilogue, or
// (when activations are) a gelu or a layer norm.
bool recomputable(const Node& n, bool convolutions, bool activations) {
  if (n.kind == NodeKind::Op)
    return n.op == OpKind::relu || n.op == OpKind::batch_norm || (convolutions && n.op == OpKind::conv2d) ||
           (activations && (n.op == OpKind::gelu || n.op == OpKind::layer_norm));
  if (n.kind != NodeKind::Fused || !n.fused || !n.fused->side_stores.empty()) return false;
  return n.fused->kind == FusedProgram::Kind::BatchNormRelu ||
         (convolutions && n.fused->kind == FusedProgram::Kind::ConvEpilogue);
}

// The pass itself: copies every value the rule allows.
RematStats copy_values(Graph& g, int min_gap_nodes, bool convolutions, bool activations) {
  RematStats stats;
  const size_t n = g.size();
  if (n == 0) return stats;
  const int64_t min_gap = min_gap_nodes > 0 ? min_gap_nodes : std::max<int64_t>(16, int64_t(n) / 8);
  std::vector<std::vector<ValueId>> uses = users(g);  // grows with the copies
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

  // Where a node runs, as a key that orders originals and copies: original node i at
  // 2i + 1, a copy placed before node i at 2i (copies in one place run in list order).
  std::vector<int64_t> copy_key;  // by copy id - n
  auto key = [&](ValueId w) { return size_t(w) < n ? 2 * int64_t(w) + 1 : copy_key[size_t(w) - n]; };
  // Is value u (an input of v) read at or after key `from` by a node other than v?
  auto read_from = [&](ValueId u, ValueId v, int64_t from) {
    for (ValueId w : uses[size_t(u)])
      if (w != v && key(w) >= from) return true;
    return false;
  };
  auto state_written_between = [&](ValueId u, int64_t lo, int64_t hi) {
    const ValueId s = root[size_t(u)];
    if (g.node(s).kind != NodeKind::State) return false;
    for (ValueId w : writers[size_t(s)])
      if (key(w) > lo && key(w) < hi) return true;
    return false;
  };

  // Later values first: when v's copy reads u, u (earlier) is considered afterwards with
  // the copy among its uses, so a chain (convolution -> batch norm + ReLU -> convolution)
  // is recomputed link by link, each copy placed before the copies that read it.
  std::vector<std::vector<ValueId>> before(n);  // copies to run right before node i
  for (size_t vi = n; vi-- > 0;) {
    const ValueId v = ValueId(vi);
    const Node& node = g.nodes[vi];
    if (!recomputable(node, convolutions, activations) || pinned[vi] || root[vi] != v) continue;
    std::vector<ValueId> u = uses[vi];
    std::sort(u.begin(), u.end(), [&](ValueId a, ValueId b) { return std::pair(key(a), a) < std::pair(key(b), b); });
    u.erase(std::unique(u.begin(), u.end()), u.end());
    if (u.size() < 2) continue;
    size_t split = 0;  // late uses are u[split..]
    int64_t gap = 0;
    for (size_t i = 1; i < u.size(); ++i)
      if (key(u[i]) - key(u[i - 1]) > gap) gap = key(u[i]) - key(u[i - 1]), split = i;
    if (gap < 2 * min_gap) continue;
    const int64_t at_key = key(u[split]);
    const size_t at = size_t(at_key / 2);  // the copy runs right before original node `at`
    const int64_t bytes = value_bytes(node);
    bool ok = true;
    for (ValueId in : node.inputs) {
      const Node& src = g.node(root[size_t(in)]);
      const bool free_input = src.kind == NodeKind::Input || src.kind == NodeKind::State;
      const bool small = value_bytes(g.node(in)) * 64 <= bytes;
      if (state_written_between(in, key(v), at_key)) ok = false;
      else if (!free_input && !small && (is_view_node(g.node(in)) || !read_from(in, v, at_key))) ok = false;
      if (!ok) break;
    }
    if (!ok) continue;
    const bool convolution = !recomputable(node, false, activations);
    Node copy = node;  // `node` dangles once the copy is added
    const ValueId c = g.add(std::move(copy));
    copy_key.push_back(2 * int64_t(at));
    uses.resize(g.size());
    for (size_t i = split; i < u.size(); ++i) {
      for (ValueId& in : g.nodes[size_t(u[i])].inputs)
        if (in == v) in = c;
      uses[size_t(c)].push_back(u[i]);
    }
    for (ValueId in : g.nodes[size_t(c)].inputs) uses[size_t(in)].push_back(c);
    // Before the copies already there: those may read this one, none is read by it.
    before[at].insert(before[at].begin(), c);
    stats.values++;
    stats.bytes += bytes;
    if (convolution) stats.convolutions++;
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

}  // namespace

RematStats rematerialize(Graph& g, int min_gap, ConvRecompute convolutions, bool activations, PlanStrategy strategy) {
  if (convolutions != ConvRecompute::WhenSmaller)
    return copy_values(g, min_gap, convolutions == ConvRecompute::Always, activations);
  Graph with = g;
  const RematStats stats = copy_values(with, min_gap, true, activations);
  if (stats.convolutions == 0) {
    g = std::move(with);
    return stats;
  }
  const RematStats without = copy_values(g, min_gap, false, activations);
  if (plan_step_memory(with, strategy).plan.arena_bytes >= plan_step_memory(g, strategy).plan.arena_bytes)
    return without;  // the second convolutions would buy no memory
  g = std::move(with);
  return stats;
}

}  // namespace duet::graph
