// The graph IR: a static, single-assignment list of nodes, in a valid execution order.
// Node i defines value i (every op has one output). Graph mode captures user code into
// this form, optimises it with passes (graph/passes/), fuses it, plans its memory and runs
// it (graph/executor.h).
//
//   %0 = input 0 : float32[128, 784]
//   %1 = state "fc1.weight" : float32[256, 784]
//   %2 = permute(%1) {dims=[1, 0]} : float32[784, 256]
//   %3 = matmul(%0, %2) : float32[128, 256]
//   ...
//   output %9
//   write %42 -> %1            (state updated in place when the step runs)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/op_registry.h"

namespace duet::graph {

using ValueId = int32_t;
inline constexpr ValueId kNoValue = -1;

enum class NodeKind : uint8_t {
  Input,  // a tensor passed to the compiled step (input_index)
  State,  // a persistent tensor (parameter, optimizer state, a captured constant buffer):
          // read in place each run; `state` holds it
  Op,     // a registry op (op, attrs, inputs)
  Fused,  // a fused elementwise group or matmul+epilogue (program)
};

// A fused group: a small register program over the group's inputs, evaluated tile by
// tile (see graph/fusion.h). Defined by the fusion pass; opaque to the other passes.
struct FusedProgram;

struct Node {
  NodeKind kind = NodeKind::Op;
  OpKind op = OpKind::copy;            // for Op nodes
  Attrs attrs;
  std::vector<ValueId> inputs;
  TensorMeta meta;                     // the value's shape, dtype, device
  int input_index = -1;                // for Input nodes
  std::shared_ptr<TensorImpl> state;   // for State nodes
  std::string name;                    // a label for dumps: state names, fused group names
  std::shared_ptr<const FusedProgram> fused;  // for Fused nodes
};

// A write-back: after a run, `value` is copied into the persistent tensor of State node
// `state` (functionalised in-place updates: parameters, optimizer moments, gradients).
struct WriteBack {
  ValueId value;
  ValueId state;
};

struct Graph {
  std::vector<Node> nodes;
  std::vector<ValueId> outputs;
  std::vector<WriteBack> writebacks;
  // Input indices whose caller's tensor a run overwrites afterwards (the step wrote into
  // them: graph/capture.h StepContract::input_writes); outputs must not alias them.
  std::vector<int> written_inputs;
  // Note [Random draws in a graph]: the counters one run takes from the default
  // generator, as the captured code drew them (dead random ops included); each random
  // node's "offset" attr is its draw's position from the run's start.
  uint64_t random_counters = 0;

  ValueId add(Node n) {
    nodes.push_back(std::move(n));
    return ValueId(nodes.size() - 1);
  }
  const Node& node(ValueId v) const { return nodes[size_t(v)]; }
  size_t size() const { return nodes.size(); }

  // Number of Op and Fused nodes (what kernels will run).
  size_t compute_nodes() const;
  // The device every value lives on (CPU for an empty graph); a value elsewhere is a
  // duet::Error, since a compiled step runs on one device.
  Device device() const;
  std::string str() const;   // the text form above
  std::string dot() const;   // Graphviz DOT
  // Throws duet::InternalError when an invariant is broken: inputs defined before use,
  // metas consistent with shape functions, outputs and write-backs in range.
  void verify() const;
};

// Which values each node's value is used by (consumers), computed on demand.
std::vector<std::vector<ValueId>> users(const Graph& g);

// Keeps the nodes for which keep[v] is true (in order) and renumbers every reference;
// references to dropped nodes are a bug. Returns the old -> new map (kNoValue if dropped).
std::vector<ValueId> compact(Graph& g, const std::vector<bool>& keep);

// Puts the nodes in the given order (a permutation of the value ids, old ids listed in
// their new places) and renumbers every reference. Returns the old -> new map. The order
// must define every value before its uses (verify() checks).
std::vector<ValueId> reorder(Graph& g, const std::vector<ValueId>& order);

// Replaces every use of `from` (inputs, outputs, write-back values) with `to`.
void replace_uses(Graph& g, ValueId from, ValueId to);

}  // namespace duet::graph
