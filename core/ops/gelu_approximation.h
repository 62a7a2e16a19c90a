// The gelu op's `approximate` attr ("none": 0.5 x (1 + erf(x / sqrt 2)); "tanh": the tanh
// formula), read in one place by everything that picks gelu's formula: the shape function
// (which refuses other values), the CPU and CUDA kernels, the derivative, the graph
// fuser's GEMM epilogue, tile interpreter and CUDA code generator. No string is copied:
// the tile interpreter asks once per tile.
#pragma once

#include <string>

#include "core/attrs.h"

namespace duet {

inline bool gelu_uses_tanh(const Attrs& attrs) {
  return attrs.has("approximate") && attrs.get<std::string>("approximate") == "tanh";
}

}  // namespace duet
