// Fusion: after the optimisation passes, groups of nodes become single Fused nodes.
//   - matmul epilogues: add(matmul(a, b), bias) [-> relu] becomes one GEMM call whose
//     epilogue adds the bias and applies the ReLU as each tile of C is stored;
//   - elementwise chains: a consumer absorbs producers that feed only it and have its
//     shape, into one kernel that evaluates the chain tile by tile in L1 (no intermediate
//     buffers). See Note [Tile interpreter] in fusion_kernel.cpp for why an interpreter.
//     A producer whose value is also written back to a state (an optimizer's moment
//     next to the parameter update that reads it) joins too, as a side store: the kernel
//     writes it straight into the state (Note [Side stores] in fusion.cpp);
//   - reduction prologues: a float32 sum/mean/amax/amin over trailing dims (or all dims)
//     absorbs the elementwise chain that feeds only it (sums of squares, softmax
//     denominators, the mean of a loss): the chain is evaluated and reduced row by row.
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
  enum class Kind { Elementwise, MatmulEpilogue, Reduction } kind = Kind::Elementwise;
  int num_inputs = 0;
  std::vector<FusedInstr> code;  // instruction k writes register num_inputs + k
  // Elementwise: after each tile, register `reg` is also stored into input `operand`,
  // a state the group updates (its old value is read, if at all, only by this group).
  struct SideStore {
    int reg;
    int operand;
  };
  std::vector<SideStore> side_stores;
  bool relu = false;             // MatmulEpilogue: apply ReLU after the bias
  // Reduction: the program's result (of `reduce_shape`) is reduced over its trailing
  // `reduce_dims` dims with `reduce_op` (sum, mean, amax or amin).
  OpKind reduce_op = OpKind::sum;
  Shape reduce_shape;
  int reduce_dims = 0;
};

struct FusionStats {
  int elementwise_groups = 0;
  int fused_elementwise_nodes = 0;  // nodes absorbed into elementwise groups
  int side_stores = 0;              // state updates stored by a group instead of a kernel of their own
  int matmul_epilogues = 0;
  int reduction_prologues = 0;      // reductions that absorbed their elementwise input
};

// Which fusions run. Reduction prologues exist only as CPU code (fusion_kernel.cpp); a
// graph on a CUDA device turns them off and keeps the ops, which run as the device's
// registered kernels (fuse_options_for). The matmul epilogue runs on both devices (the
// CPU GEMM's and cuda::gemm's bias/ReLU epilogue).
struct FuseOptions {
  bool side_stores = true;          // groups may absorb state updates (Note [Side stores])
  bool matmul_epilogues = true;
  bool reduction_prologues = true;
};
// The fusions a graph whose values live on `device` can run: all on the CPU; on CUDA the
// matmul epilogue and elementwise groups (with side stores), which graph/cuda_codegen.h
// turns into a cuda::gemm call and CUDA C.
FuseOptions fuse_options_for(Device device, bool side_stores = true);

// The ops an elementwise group may contain (float32/bool in and out); every backend of
// fused groups implements exactly these (fusion_kernel.cpp, cuda_codegen.cpp).
bool fusable_elementwise_op(OpKind op);

// Rewrites g in place, with the fusions `options` turns on (all by default). Groups are
// named after their ops ("add+relu").
FusionStats fuse(Graph& g, const FuseOptions& options = {});

// Per value: the fused groups that side-store into it when it is a state (positions,
// ascending); empty otherwise.
std::vector<std::vector<ValueId>> side_store_writers(const Graph& g);

}  // namespace duet::graph
