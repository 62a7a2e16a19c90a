// Buffer lifetimes of a graph: turns a Graph (nodes in execution order) into the request
// list the memory planner (graph/memory_planner.h) takes, one BufferRequest per value.
//
//   std::vector<BufferRequest> reqs = compute_lifetimes(g);
//   std::vector<ValueId> buf = value_buffers(g);   // value v lives in buffer buf[v]
//   MemoryPlan plan = plan_memory(reqs, PlanStrategy::GreedyBySize);
//
// Rules:
//   - request v is live from step v (its node) to the last node reading it; graph outputs
//     and write-back values live to the last step, since they are read after the run;
//   - Input and State values are pinned (their memory is owned by the caller / the state);
//   - view ops own no memory: their request has 0 bytes, and they alias the buffer of the
//     value at the root of their chain of views, whose lifetime is extended to cover every
//     use of the views (value_buffers maps a view to that root);
//   - a compute node may take over an input's buffer (inplace_source) when the
//     `can_inplace` predicate allows it for that node and input, the input has the same
//     bytes and dtype, is not pinned, is not itself a view, does not outlive the run, is
//     not read by the node through another input's view, and this node is its last use;
//     the first input that qualifies wins.
#pragma once

#include <functional>
#include <vector>

#include "graph/ir.h"
#include "graph/memory_planner.h"

namespace duet::graph {

// Whether a compute node's kernel may write its output over its input number `input`.
// The default allows input 0 of Op nodes whose op is flagged kCanInplace; Fused nodes are
// left to the caller (the fuser knows whether its program reads each element before
// writing it).
using InplacePredicate = std::function<bool(const Node& node, size_t input)>;
bool default_can_inplace(const Node& node, size_t input);

std::vector<BufferRequest> compute_lifetimes(const Graph& g, const InplacePredicate& can_inplace = default_can_inplace);

// For each value, the buffer (= request index = value id) holding its memory: the value
// itself, or for a view, the root of its chain of views (which may be an Input or State).
std::vector<ValueId> value_buffers(const Graph& g);

// Whether the node defines a view of its first input (an Op node with a kView op).
bool is_view_node(const Node& node);

}  // namespace duet::graph
