// Common subexpression elimination: one forward sweep with a hash table keyed by
// (op, attrs, canonical inputs). A node's inputs are first rewritten to their canonical
// (surviving) values, so chains of duplicates collapse in a single pass. Uses of a
// duplicate go to the first equal node; the duplicates are then compacted away.
//
// Equal means: Op nodes with the same op, attrs and inputs (inputs in either order for
// the commutative ops below); State nodes holding the same TensorImpl. Never merged:
// Input nodes (each is a distinct argument), kRandom ops (each draw is distinct), Fused
// nodes (opaque programs).
#include <algorithm>
#include <unordered_map>
#include <vector>

#include "graph/passes/pass.h"

namespace duet::graph {
namespace {

// Ops whose result does not depend on the order of their two inputs, bit for bit (the
// result dtype and broadcast shape are symmetric too). maximum/minimum are left out: their
// NaN and signed-zero handling need not be symmetric.
bool is_commutative(OpKind op) {
  switch (op) {
    case OpKind::add:
    case OpKind::mul:
    case OpKind::eq:
    case OpKind::ne:
    case OpKind::logical_and:
    case OpKind::logical_or: return true;
    default: return false;
  }
}

struct OpKey {
  OpKind op;
  const Attrs* attrs;
  std::vector<ValueId> inputs;
  bool operator==(const OpKey& o) const { return op == o.op && inputs == o.inputs && *attrs == *o.attrs; }
};

struct OpKeyHash {
  size_t operator()(const OpKey& k) const {
    size_t h = size_t(k.op) * 0x9e3779b97f4a7c15ull ^ k.attrs->hash();
    for (ValueId v : k.inputs) h = (h ^ size_t(uint32_t(v))) * 0x100000001b3ull;
    return h;
  }
};

}  // namespace

void common_subexpression_elimination(Graph& g) {
  const size_t n = g.size();
  std::vector<ValueId> canon(n);
  std::vector<bool> keep(n, true);
  std::unordered_map<OpKey, ValueId, OpKeyHash> ops;
  std::unordered_map<const TensorImpl*, ValueId> states;
  bool changed = false;
  for (size_t i = 0; i < n; ++i) {
    Node& node = g.nodes[i];
    canon[i] = ValueId(i);
    for (ValueId& in : node.inputs) in = canon[size_t(in)];
    ValueId same = kNoValue;
    if (node.kind == NodeKind::State) {
      auto [it, fresh] = states.try_emplace(node.state.get(), ValueId(i));
      if (!fresh) same = it->second;
    } else if (node.kind == NodeKind::Op && !op_def(node.op).has(kRandom)) {
      OpKey key{node.op, &node.attrs, node.inputs};
      if (key.inputs.size() == 2 && is_commutative(node.op)) std::sort(key.inputs.begin(), key.inputs.end());
      auto [it, fresh] = ops.try_emplace(std::move(key), ValueId(i));
      if (!fresh) same = it->second;
    }
    if (same != kNoValue) {
      canon[i] = same;
      keep[i] = false;
      changed = true;
    }
  }
  if (!changed) return;
  for (ValueId& v : g.outputs) v = canon[size_t(v)];
  // Write-back targets are States too: a merged State's write-back goes to the survivor.
  for (WriteBack& w : g.writebacks) w = {canon[size_t(w.value)], canon[size_t(w.state)]};
  compact(g, keep);
}

}  // namespace duet::graph
