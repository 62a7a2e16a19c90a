// Lowering: rewrites an optimised graph into the form the CPU executor runs without
// allocating or converting on the fly:
//   - elementwise inputs whose dtype differs from the dtype the op computes in get an
//     explicit cast node (kernels would otherwise convert into a temporary each run);
//   - a reshape that cannot be a view of its input's layout gets an explicit copy first
//     (eager reshape copies silently; a planned graph must own that buffer);
//   - copy(transpose(a @ b)) becomes b^T @ a^T, computed in the wanted layout.
#pragma once

#include "graph/ir.h"

namespace duet::graph {

void lower_for_cpu(Graph& g);

// Strides each value has when run (compute values are contiguous; views follow their
// builders), used by lowering and the executor.
std::vector<Shape> value_strides(const Graph& g);

}  // namespace duet::graph
