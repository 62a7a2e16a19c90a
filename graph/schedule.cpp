// The memory-aware list scheduler (see schedule.h, Note [Memory-aware schedule]).
#include "graph/schedule.h"

#include <algorithm>

#include "graph/fusion.h"
#include "graph/lifetimes.h"
#include "graph/step_memory.h"

namespace duet::graph {
namespace {

int64_t value_bytes(const Node& n) { return numel_of(n.meta.shape) * int64_t(dtype_size(n.meta.dtype)); }

bool is_random(const Node& n) { return n.kind == NodeKind::Op && op_def(n.op).has(kRandom); }

// Every node's predecessors: its inputs, plus the ordering edges of the Note.
std::vector<std::vector<ValueId>> predecessors(const Graph& g) {
  const size_t n = g.size();
  std::vector<std::vector<ValueId>> preds(n);
  for (size_t v = 0; v < n; ++v) preds[v] = g.nodes[v].inputs;

  // Nodes that write each state: groups side-storing into it and write-back producers.
  std::vector<std::vector<ValueId>> writers = side_store_writers(g);
  for (const WriteBack& w : g.writebacks) writers[size_t(w.state)].push_back(w.value);
  const std::vector<ValueId> root = value_buffers(g);
  const auto uses = users(g);
  for (size_t x = 0; x < n; ++x) {  // x: a state or a view of one
    const ValueId s = root[x];
    if (g.nodes[size_t(s)].kind != NodeKind::State || writers[size_t(s)].empty()) continue;
    for (ValueId reader : uses[x])
      for (ValueId writer : writers[size_t(s)])
        if (reader < writer) preds[size_t(writer)].push_back(reader);
  }

  ValueId last_random = kNoValue;
  for (size_t v = 0; v < n; ++v) {
    if (!is_random(g.nodes[v])) continue;
    if (last_random != kNoValue) preds[v].push_back(last_random);
    last_random = ValueId(v);
  }
  for (auto& p : preds) {
    std::sort(p.begin(), p.end());
    p.erase(std::unique(p.begin(), p.end()), p.end());
  }
  return preds;
}

}  // namespace

std::vector<ValueId> memory_aware_order(const Graph& g) {
  const size_t n = g.size();
  const auto preds = predecessors(g);
  std::vector<std::vector<ValueId>> succs(n);
  std::vector<int> waiting(n, 0);
  for (size_t v = 0; v < n; ++v) {
    waiting[v] = int(preds[v].size());
    for (ValueId p : preds[v]) succs[size_t(p)].push_back(ValueId(v));
  }

  // Arena buffers (views share their root's) and the nodes still to read each of them.
  const std::vector<ValueId> root = value_buffers(g);
  std::vector<bool> escapes(n, false);  // read after the run: never freed
  for (ValueId o : g.outputs) escapes[size_t(root[size_t(o)])] = true;
  for (const WriteBack& w : g.writebacks) escapes[size_t(root[size_t(w.value)])] = true;
  // Computed straight into its state now, and still so in any order that keeps the
  // state's readers first: no arena bytes. Other outputs and write-backs take arena
  // bytes until the run ends, so they should not be made early.
  const std::vector<ValueId> lives_in = values_living_in_state(g);
  auto in_arena = [&](size_t v) {
    const Node& node = g.nodes[v];
    return (node.kind == NodeKind::Op || node.kind == NodeKind::Fused) && !is_view_node(node);
  };
  // Each node's distinct input buffers, and how many unscheduled nodes read each buffer.
  std::vector<std::vector<ValueId>> reads(n);
  std::vector<int> readers_left(n, 0);
  for (size_t v = 0; v < n; ++v) {
    for (ValueId in : g.nodes[v].inputs) reads[v].push_back(root[size_t(in)]);
    std::sort(reads[v].begin(), reads[v].end());
    reads[v].erase(std::unique(reads[v].begin(), reads[v].end()), reads[v].end());
    for (ValueId b : reads[v]) readers_left[size_t(b)]++;
  }
  auto net_freed = [&](size_t v) {
    int64_t freed = 0;
    for (ValueId b : reads[v])
      if (readers_left[size_t(b)] == 1 && in_arena(size_t(b)) && !escapes[size_t(b)])
        freed += value_bytes(g.nodes[size_t(b)]);
    const bool allocates = in_arena(v) && lives_in[v] == kNoValue;
    return freed - (allocates ? value_bytes(g.nodes[v]) : 0);
  };

  std::vector<ValueId> order;
  order.reserve(n);
  std::vector<ValueId> ready;
  // Inputs and states hold no arena memory: they come first, in their old order.
  for (size_t v = 0; v < n; ++v)
    if (waiting[v] == 0) ready.push_back(ValueId(v));
  auto emit = [&](ValueId v) {
    order.push_back(v);
    for (ValueId b : reads[size_t(v)]) readers_left[size_t(b)]--;
    for (ValueId s : succs[size_t(v)])
      if (--waiting[size_t(s)] == 0) ready.push_back(s);
  };
  while (!ready.empty()) {
    size_t best = 0;
    int64_t best_score = 0;
    for (size_t i = 0; i < ready.size(); ++i) {
      const ValueId v = ready[i];
      const NodeKind k = g.node(v).kind;
      // Free nodes (inputs, states, views) go as soon as they are ready.
      const int64_t score = (k == NodeKind::Input || k == NodeKind::State || is_view_node(g.node(v)))
                                ? INT64_MAX
                                : net_freed(size_t(v));
      if (i == 0 || score > best_score || (score == best_score && v < ready[best])) {
        best = i;
        best_score = score;
      }
    }
    const ValueId v = ready[best];
    ready.erase(ready.begin() + std::ptrdiff_t(best));
    emit(v);
  }
  DUET_ASSERT(order.size() == n, "memory-aware schedule: ", n - order.size(), " nodes never became ready (a cycle)");
  return order;
}

ScheduleStats schedule_for_memory(Graph& g, PlanStrategy strategy) {
  ScheduleStats stats;
  stats.arena_before = stats.arena_after = plan_step_memory(g, strategy).plan.arena_bytes;
  std::vector<ValueId> order = memory_aware_order(g);
  bool same = true;
  for (size_t i = 0; i < order.size() && same; ++i) same = order[i] == ValueId(i);
  if (same) return stats;
  Graph candidate = g;
  reorder(candidate, order);
  const int64_t after = plan_step_memory(candidate, strategy).plan.arena_bytes;
  if (after >= stats.arena_before) return stats;
  g = std::move(candidate);
  stats.arena_after = after;
  stats.reordered = true;
  return stats;
}

}  // namespace duet::graph
