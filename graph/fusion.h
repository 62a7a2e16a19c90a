// Fusion: after the optimisation passes, groups of nodes become single Fused nodes.
//   - matmul epilogues: add(matmul(a, b), bias) [-> relu] becomes one GEMM call whose
//     epilogue adds the bias and applies the ReLU as each tile of C is stored;
//   - elementwise chains: a consumer absorbs producers that feed only it and have its
//     shape, into one kernel that evaluates the chain tile by tile in L1 (no intermediate
//     buffers). See Note [Tile interpreter] in fusion_kernel.cpp for why an interpreter.
#pragma once

#include <vector>

#include "graph/ir.h"

namespace duet::graph {

struct FusedInstr {
  OpKind op;
  Attrs attrs;
  std::vector<int> args;  // register numbers: 0..num_inputs-1 are the group's inputs
};

struct FusedProgram {
  enum class Kind { Elementwise, MatmulEpilogue } kind = Kind::Elementwise;
  int num_inputs = 0;
  std::vector<FusedInstr> code;  // instruction k writes register num_inputs + k
  bool relu = false;             // MatmulEpilogue: apply ReLU after the bias
};

struct FusionStats {
  int elementwise_groups = 0;
  int fused_elementwise_nodes = 0;  // nodes absorbed into elementwise groups
  int matmul_epilogues = 0;
};

// Rewrites g in place. Groups are named after their ops ("add+relu").
FusionStats fuse(Graph& g);

}  // namespace duet::graph
