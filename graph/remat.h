// Rematerialisation: recompute a cheap value for its late uses instead of holding it in
// the arena between its early and late uses (XLA's rematerialisation, for the case a
// training step makes common: an activation read by the forward pass and again by the
// backward pass, whose inputs the backward pass keeps anyway).
//
// Note [Rematerialisation]: after scheduling, for each batch_norm, relu or fused
// batch-norm + ReLU value v whose uses fall into an early and a late group (the largest
// gap between consecutive uses is at least an eighth of the step), a copy of v's node is
// placed right before the first late use and the late uses read the copy; v's buffer is
// then free after its early uses. It is done only when the copy costs no memory of its
// own beyond v's: each input of v is an input or state of the step, is small (at most
// 1/64 of v), or is read again at or after the copy's place anyway (batch norm + ReLU's
// input, which batch norm's backward reads); a state input is not written between v and
// the copy. The copy runs the same kernel on the same values, so the results are the same
// bits. In a fashion-resnet training step this drops the stem's and each block's inner
// batch-norm + ReLU output from the backward pass's peak; the block outputs (a ReLU of an
// add whose other input dies in the forward pass) stay.
#pragma once

#include <cstdint>

#include "graph/ir.h"

namespace duet::graph {

struct RematStats {
  int values = 0;       // values recomputed for their late uses
  int64_t bytes = 0;    // their bytes (each no longer held across its gap)
};

// The graph must be in its final order (after schedule_for_memory); keeps it valid.
// min_gap: the smallest gap between uses (in nodes) worth a copy; 0 picks the default, an
// eighth of the step and at least 16 (the fuzzer tries small gaps, to copy often).
RematStats rematerialize(Graph& g, int min_gap = 0);

}  // namespace duet::graph
