// Memory-aware scheduling: the last pass before a step is planned. Capture order runs
// the whole backward pass and then the whole optimizer step, so every gradient is alive
// at once; any other order that respects the graph's dependencies computes the same
// values, and one that runs each parameter's update as soon as its gradient exists holds
// far fewer bytes at its peak.
//
//   ScheduleStats s = schedule_for_memory(g, PlanStrategy::GreedyBySize);
//   s.arena_before, s.arena_after;   // the planned arena in capture order and as chosen
//
// Note [Memory-aware schedule]: a list scheduler (the heuristic XLA's and TVM's memory
// schedulers start from) emits, among the nodes whose inputs are ready, the one that
// frees the most bytes net of what it allocates (ties: capture order). Besides data
// dependencies it keeps:
//   - every read of a state (directly or through a view) that came before a node writing
//     that state still before it. For a fused group that side-stores into the state this
//     is what keeps the reads correct; for a value written back it keeps the value
//     computable straight into the state (Note [Direct write-backs]; otherwise it is
//     copied at the end of the run, correct in any order but using arena bytes);
//   - random ops in capture order, since each draws the next counters of one generator.
// Outputs, and write-backs not computed into their state, count as allocating (they hold
// arena bytes to the end of the run). Both orders, the one fusion left (capture order with
// each fused group at its last member's place) and the new one, are then planned exactly
// as the Executable will (graph/step_memory.h); the new one is kept only if its arena is
// smaller, so the pass never makes a plan worse.
#pragma once

#include <cstdint>

#include "graph/ir.h"
#include "graph/memory_planner.h"

namespace duet::graph {

struct ScheduleStats {
  int64_t arena_before = 0;  // planned arena bytes in the order the pass was given
  int64_t arena_after = 0;   // ... in the order it left (equal when it kept the old one)
  bool reordered = false;
};

ScheduleStats schedule_for_memory(Graph& g, PlanStrategy strategy);

// The order the list scheduler picks (old value ids in their new places), without
// comparing plans or changing the graph; for tests and dumps.
std::vector<ValueId> memory_aware_order(const Graph& g);

}  // namespace duet::graph
