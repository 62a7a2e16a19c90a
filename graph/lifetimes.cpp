// Buffer lifetimes of a graph (see graph/lifetimes.h): first/last steps, view aliasing,
// pinned inputs and state, and in-place candidates for the memory planner.
#include "graph/lifetimes.h"

#include <algorithm>

#include "core/error.h"
#include "graph/fusion.h"

namespace duet::graph {

bool is_view_node(const Node& node) { return node.kind == NodeKind::Op && op_def(node.op).has(kView); }

bool default_can_inplace(const Node& node, size_t input) {
  return input == 0 && node.kind == NodeKind::Op && op_def(node.op).has(kCanInplace);
}

std::vector<ValueId> value_buffers(const Graph& g) {
  std::vector<ValueId> root(g.size());
  for (size_t i = 0; i < g.size(); ++i) {
    const Node& n = g.nodes[i];
    root[i] = ValueId(i);
    if (is_view_node(n)) {
      DUET_ASSERT(!n.inputs.empty() && n.inputs[0] >= 0 && size_t(n.inputs[0]) < i, "lifetimes: view %", i,
                  " has no earlier input");
      root[i] = root[size_t(n.inputs[0])];  // inputs come earlier, so chains resolve in one pass
    }
  }
  return root;
}

std::vector<BufferRequest> compute_lifetimes(const Graph& g, const InplacePredicate& can_inplace) {
  const size_t n = g.size();
  std::vector<BufferRequest> reqs(n);
  if (n == 0) return reqs;
  const std::vector<ValueId> root = value_buffers(g);
  const int32_t end_step = int32_t(n - 1);

  // last[v]: the last step reading v's memory, through v itself or any view of it.
  std::vector<int32_t> last(n);
  std::vector<int32_t> own_last(n);  // the same, for the value itself (reported for views)
  for (size_t i = 0; i < n; ++i) last[i] = own_last[i] = int32_t(i);
  for (size_t i = 0; i < n; ++i) {
    for (ValueId in : g.nodes[i].inputs) {
      DUET_ASSERT(in >= 0 && size_t(in) < i, "lifetimes: %", i, " uses %", in, ", which is not defined before it");
      own_last[size_t(in)] = std::max(own_last[size_t(in)], int32_t(i));
      last[size_t(root[size_t(in)])] = std::max(last[size_t(root[size_t(in)])], int32_t(i));
    }
  }
  // Values read after the run must survive it, and must never be overwritten in place.
  std::vector<bool> escapes(n, false);
  auto escape = [&](ValueId v) {
    DUET_ASSERT(v >= 0 && size_t(v) < n, "lifetimes: output or write-back %", v, " out of range");
    escapes[size_t(root[size_t(v)])] = true;
    own_last[size_t(v)] = end_step;
    last[size_t(root[size_t(v)])] = end_step;
  };
  for (ValueId v : g.outputs) escape(v);
  for (const WriteBack& w : g.writebacks) escape(w.value);

  for (size_t i = 0; i < n; ++i) {
    const Node& node = g.nodes[i];
    BufferRequest& r = reqs[i];
    r.first_step = int32_t(i);
    if (is_view_node(node)) {
      r.bytes = 0;
      r.last_step = own_last[i];
      continue;
    }
    r.bytes = numel_of(node.meta.shape) * int64_t(dtype_size(node.meta.dtype));
    r.last_step = last[i];
    r.pinned = node.kind == NodeKind::Input || node.kind == NodeKind::State;
    if (r.pinned || r.bytes == 0) continue;
    for (size_t k = 0; k < node.inputs.size() && r.inplace_source == -1; ++k) {
      if (!can_inplace(node, k)) continue;
      const ValueId src = node.inputs[k];
      const Node& src_node = g.node(src);
      if (is_view_node(src_node) || src_node.kind == NodeKind::Input || src_node.kind == NodeKind::State) continue;
      if (escapes[size_t(src)] || last[size_t(src)] != int32_t(i)) continue;
      if (src_node.meta.dtype != node.meta.dtype || reqs[size_t(src)].bytes != r.bytes) continue;
      // Another input reading the source's memory through a view (a transpose, a slice, a
      // broadcast) would see elements already overwritten. The source itself repeated is
      // fine for an elementwise op: it is read at the same element as it is written. Not
      // for as_strided_scatter(x, x), which reads x's elements into other places.
      bool aliased = false;
      const bool elementwise = (node.kind == NodeKind::Op && op_def(node.op).has(kElementwise)) ||
                               (node.kind == NodeKind::Fused && node.fused && node.fused->kind == FusedProgram::Kind::Elementwise);
      for (size_t j = 0; j < node.inputs.size(); ++j)
        if (j != k && root[size_t(node.inputs[j])] == src && !(elementwise && node.inputs[j] == src)) aliased = true;
      if (!aliased) r.inplace_source = src;
    }
  }
  return reqs;
}

}  // namespace duet::graph
