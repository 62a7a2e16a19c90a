// Constant folding: evaluates constant subgraphs once, at compile time, on the CPU.
//
// A value is constant when it is a State node made by this pass (named "const%<id>"), or
// an Op node that is not kRandom or a view whose inputs are all constant or views of
// constants (so input-less factories full, arange, linspace and eye are constant; a view
// of a constant stays a view, and the ops on it fold with its layout). Parameters and other State nodes are not:
// they are updated between runs. Nodes are visited in order, so a folded node's users see
// it as a constant in the same sweep; each fold rewrites the node in place (same id, same
// meta), which keeps the node order valid and needs no use rewiring. Inputs that become
// unused are left for dead code elimination.
//
// Not folded: results over kMaxFoldElements elements (e.g. zeros of a gradient's shape:
// a factory costs nothing to keep, a constant buffer costs its memory, and everything
// computed from it then stays unfolded too), nodes on another device, and ops whose CPU
// kernel fails (a kernel not written yet must not break compilation).
#include <vector>

#include "core/dispatch.h"
#include "graph/passes/pass.h"

namespace duet::graph {

bool is_constant_node(const Node& n) {
  return n.kind == NodeKind::State && n.state != nullptr && n.name.starts_with(kConstPrefix);
}

namespace {

// A constant, or a view of one (views stay unfolded: folding one would make it dense, and
// a value must keep eager's layout, Note [Graph values keep eager's layouts]); the ops they
// feed fold with the views' own layouts.
bool is_constant_valued(const Graph& g, ValueId v) {
  const Node& n = g.node(v);
  if (is_constant_node(n)) return true;
  return n.kind == NodeKind::Op && op_def(n.op).view && is_constant_valued(g, n.inputs[0]);
}

Tensor constant_value(const Graph& g, ValueId v) {
  const Node& n = g.node(v);
  if (is_constant_node(n)) return Tensor(n.state);
  Tensor in = constant_value(g, n.inputs[0]);
  return op_def(n.op).view(std::span<const Tensor>(&in, 1), n.attrs, n.meta);
}

}  // namespace

void constant_folding(Graph& g) {
  std::vector<Tensor> args;
  for (size_t i = 0; i < g.size(); ++i) {
    Node& node = g.nodes[i];
    if (node.kind != NodeKind::Op || op_def(node.op).has(kRandom) || op_def(node.op).view) continue;
    if (!node.meta.device.is_cpu() || numel_of(node.meta.shape) > kMaxFoldElements) continue;
    bool all_const = true;
    for (ValueId in : node.inputs) all_const = all_const && is_constant_valued(g, in);
    if (!all_const) continue;
    args.clear();
    for (ValueId in : node.inputs) args.push_back(constant_value(g, in));
    Tensor value;
    try {
      value = run_kernel(node.op, args, node.attrs, node.meta);
    } catch (const InternalError&) {
      throw;
    } catch (const Error&) {
      continue;
    }
    DUET_ASSERT(value.sizes() == node.meta.shape && value.dtype() == node.meta.dtype, "constant folding: ",
                op_name(node.op), " produced ", value.sizes(), " but the graph records ", node.meta.shape);
    node.kind = NodeKind::State;
    node.op = OpKind::copy;
    node.attrs = Attrs();
    node.inputs.clear();
    node.state = value.impl_ptr();
    node.name = std::string(kConstPrefix) + "%" + std::to_string(i);
  }
}

}  // namespace duet::graph
