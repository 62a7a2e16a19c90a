// The geometry of the fused attention ops (core/ops.def: attention, attention_backward),
// read from the operands and attrs once and shared by the CPU and CUDA kernels: q
// [..., L, E], v [..., S, Ev] (k [..., S, E]), `batch` the product of the leading dims,
// causal (key j is masked for query i when j > i, top-left aligned as PyTorch) and scale.
#pragma once

#include <cstdint>

#include "core/attrs.h"
#include "core/host_device.h"
#include "core/tensor.h"

namespace duet {

struct AttentionGeometry {
  int64_t batch = 1, L = 0, S = 0, E = 0, Ev = 0;
  bool causal = false;
  double scale = 1;

  // The keys query row i sees: all S, or (causal) those j <= i.
  DUET_HOST_DEVICE int64_t visible_keys(int64_t i) const {
    return causal ? (S < i + 1 ? S : i + 1) : S;
  }
};

inline AttentionGeometry attention_geometry(const Tensor& q, const Tensor& v, const Attrs& attrs) {
  AttentionGeometry g;
  g.L = q.size(-2), g.E = q.size(-1), g.S = v.size(-2), g.Ev = v.size(-1);
  for (int64_t d = 0; d + 2 < q.dim(); ++d) g.batch *= q.size(d);
  g.causal = attrs.get<bool>("causal");
  g.scale = attrs.get_number("scale");
  return g;
}

// The attention op's flat output: batch * L * Ev result values, then batch * L
// log-sum-exps (q [..., L, E], v [..., S, Ev]).
inline int64_t attention_output_numel(const Tensor& q, const Tensor& v) {
  int64_t rows = 1;  // batch * L
  for (int64_t d = 0; d + 1 < q.dim(); ++d) rows *= q.size(d);
  return rows * (v.size(-1) + 1);
}

}  // namespace duet
