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
//
// With `convolutions` on (CompileOptions::recompute_convolutions, Off by default), a
// convolution (with its fused epilogue, if any) is recomputed by the same rule: activation
// checkpointing, as torch.utils.checkpoint does by hand, found by the compiler. Values are
// visited last first, so a copy's input may itself be copied for it: in a residual block
// the backward pass recomputes conv -> batch norm + ReLU -> conv from the block's input,
// which the first convolution's weight gradient keeps anyway, and only the block outputs
// are held across the step. It costs a second forward convolution per recomputed value,
// so WhenSmaller (the examples' --recompute-convs) keeps the copies only if they make the
// arena smaller (in LeNet the peak is elsewhere and they would not).
//
// With `activations` on (CompileOptions::recompute_activations, off by default), gelu and
// layer_norm values are recomputed by the same rule: a transformer block's GELU output
// (its input, the MLP's first Linear output, is read by gelu's backward anyway) and
// layer-norm outputs (their input is read by layer norm's backward). char-gpt's training
// step: 9 values, 7.1 MB, the arena 30.9 -> 23.8 MB and the allocator peak 47.3 -> 40.2
// MB, for one GELU and one layer norm more per block, 1.0-1.8 ms of a 36-42 ms step in
// three paired runs on the 2-core VM; so it is a choice, not the default.
#pragma once

#include <cstdint>

#include "graph/ir.h"
#include "graph/memory_planner.h"

namespace duet::graph {

// Whether convolutions are recomputed too: never, where the arena comes out smaller, or
// always (tests and the fuzzer, so the copies run even where they buy nothing).
enum class ConvRecompute { Off, WhenSmaller, Always };

struct RematStats {
  int values = 0;       // values recomputed for their late uses
  int64_t bytes = 0;    // their bytes (each no longer held across its gap)
  int convolutions = 0; // of the values, convolutions
};

// The graph must be in its final order (after schedule_for_memory); keeps it valid.
// min_gap: the smallest gap between uses (in nodes) worth a copy; 0 picks the default, an
// eighth of the step and at least 16 (the fuzzer tries small gaps, to copy often).
// convolutions: recompute convolutions too (more time, less memory); WhenSmaller keeps
// them only where the arena (planned with `strategy`) comes out smaller than with batch
// norm and ReLU alone. activations: recompute gelu and layer_norm values too.
RematStats rematerialize(Graph& g, int min_gap = 0, ConvRecompute convolutions = ConvRecompute::Off,
                         bool activations = false, PlanStrategy strategy = PlanStrategy::GreedyBySize);

}  // namespace duet::graph
