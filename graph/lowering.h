// Lowering: rewrites an optimised graph into the form the CPU executor runs without
// allocating or converting on the fly:
//   - elementwise inputs whose dtype differs from the dtype the op computes in get an
//     explicit cast node (kernels would otherwise convert into a temporary each run);
//   - a reshape that cannot be a view of its input's layout, and an as_strided of a
//     non-contiguous value, get an explicit copy first (eager mode copies silently; a
//     planned graph must own that buffer);
//   - copy(transpose(a @ b)) becomes b^T @ a^T, computed in the wanted layout.
#pragma once

#include "graph/ir.h"

namespace duet::graph {

void lower_for_cpu(Graph& g);

// Note [Escaping aliases]: outputs and state write-backs are read after the step's last
// node, when write-backs have overwritten states and the caller's written inputs. A
// write-back value that is a view of such a buffer's old value would read the new values;
// it gets its own copy, placed right after it. A write-back of a state's own old value is
// dropped (it changes nothing). Outputs are the contents of storages the step computed
// (Note [Outputs as eager returns them] in capture.h): each must be a dense buffer of its
// own, so one that is a view, or lives in a state or an input (a parameter returned as
// `w * 1.0` once simplification dropped the multiply), gets a copy too, and so does one
// whose buffer an earlier output already has: each output is a different storage of
// eager mode (two clones that CSE merged must not come back as one tensor).
void copy_escaping_aliases(Graph& g);

// Strides each value has when run (compute values are contiguous; views follow their
// builders), used by lowering and the executor.
std::vector<Shape> value_strides(const Graph& g);

}  // namespace duet::graph
