// The memory a compiled step needs, for a graph in its final order: which values are
// computed straight into a state (Note [Direct write-backs]), the buffer requests of the
// rest, and the arena plan over them. The Executable builds from it; the scheduler
// (graph/schedule.h) calls it to compare orders, so both see the same arena.
//
//   StepMemory m = plan_step_memory(g, PlanStrategy::GreedyBySize);
//   m.plan.arena_bytes;          // what the arena will hold
//   m.lives_in[v];               // the state value v is computed into, or kNoValue
#pragma once

#include <vector>

#include "graph/ir.h"
#include "graph/memory_planner.h"

namespace duet::graph {

struct StepMemory {
  std::vector<BufferRequest> requests;  // one per value (graph/lifetimes.h); lives_in values pinned
  std::vector<ValueId> lives_in;        // per value: the state it is computed into, or kNoValue
  MemoryPlan plan;
};

StepMemory plan_step_memory(const Graph& g, PlanStrategy strategy);

// Per value: the state it is computed straight into (Note [Direct write-backs] in
// step_memory.cpp), or kNoValue. Depends on the order: readers of the old state must
// all come before the producer.
std::vector<ValueId> values_living_in_state(const Graph& g);

// Whether a node computes each output element from the same element of its inputs only:
// elementwise ops and fused elementwise groups (not fused reductions or GEMMs).
bool is_elementwise(const Node& n);

}  // namespace duet::graph
