// Test-only reference for topk_indices (core/ops.def): per line along `dim`, the indices
// sorted by value (largest or smallest first; NaN the largest value; ties by lower index),
// the first k, computed with a stable sort over doubles.
#pragma once

#include "tests/reference/reference_ops.h"

namespace duet::ref {

RefTensor topk_indices(const RefTensor& x, int64_t dim, int64_t k, bool largest);

}  // namespace duet::ref
