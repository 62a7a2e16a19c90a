// Test-only references for the fused attention ops (core/ops.def: attention,
// attention_backward): softmax(q k^T scale) v with the whole L x S matrix, plain loops in
// double from the definitions, and its gradients (the backward op's P = e^{s - lse} and
// D = rowsum(dout * out) - dlse taken from the flat `out` and `dout` it is given, as the
// op does). q [..., L, E], k [..., S, E], v [..., S, Ev] with the same batch dims; causal
// masks key j > query i.
#pragma once

#include "tests/reference/reference_ops.h"

namespace duet::ref {

// Flat: the [..., L, Ev] result, then each query row's log-sum-exp (-inf for a row that
// sees no key).
RefTensor attention(const RefTensor& q, const RefTensor& k, const RefTensor& v, bool causal, double scale);
// [numel q + numel k + numel v]: dq, dk, dv one after another.
RefTensor attention_backward(const RefTensor& dout, const RefTensor& q, const RefTensor& k, const RefTensor& v,
                             const RefTensor& out, bool causal, double scale);

}  // namespace duet::ref
