// Fusion: after the optimisation passes, groups of nodes become single Fused nodes.
//   - matmul epilogues: add(matmul(a, b), bias) [-> relu | gelu] becomes one GEMM call
//     whose epilogue adds the bias and applies the activation as C is stored, b a matrix
//     and a a matrix or a stack whose rows fold into one (Note [Matmul epilogues]);
//   - elementwise chains: a consumer absorbs producers that feed only it and have its
//     shape, into one kernel that evaluates the chain tile by tile in L1 (no intermediate
//     buffers). See Note [Tile interpreter] in fusion_kernel.cpp for why an interpreter.
//     A producer whose value is also written back to a state (an optimizer's moment
//     next to the parameter update that reads it) joins too, as a side store: the kernel
//     writes it straight into the state (Note [Side stores] in fusion.cpp);
//   - reduction prologues: a float32 sum/mean/amax/amin over trailing dims (or all dims)
//     absorbs the elementwise chain that feeds only it (sums of squares, softmax
//     denominators, the mean of a loss): the chain is evaluated and reduced row by row.
//   - conv epilogues (CPU): conv2d(x, w[, b]) [-> batch_norm] [-> relu], each absorbed
//     node the only user of the one before, becomes one conv call that applies bias,
//     batch norm and ReLU to each sample's output as the GEMM stores it (kernels/cpu/conv.h;
//     Note [Conv epilogues] in fusion.cpp);
//   - batch norm + ReLU (CPU): batch_norm -> relu becomes one batch-norm kernel that
//     rectifies as it stores (kernels/cpu/batch_norm.h).
#pragma once

#include <span>
#include <vector>

#include "graph/ir.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/gemm.h"

namespace duet::graph {

struct FusedInstr {
  OpKind op;
  Attrs attrs;
  std::vector<int> args;  // register numbers: 0..num_inputs-1 are the group's inputs
};

struct FusedProgram {
  enum class Kind { Elementwise, MatmulEpilogue, Reduction, ConvEpilogue, BatchNormRelu } kind = Kind::Elementwise;
  int num_inputs = 0;
  std::vector<FusedInstr> code;  // instruction k writes register num_inputs + k
  // Elementwise: after each tile, register `reg` is also stored into input `operand`,
  // a state the group updates (its old value is read, if at all, only by this group).
  struct SideStore {
    int reg;
    int operand;
  };
  std::vector<SideStore> side_stores;
  bool relu = false;             // ConvEpilogue: apply ReLU last
  cpu::Activation act = cpu::Activation::None;  // MatmulEpilogue: none, relu or a gelu
  // ConvEpilogue: inputs x, w, then the conv's bias when `conv_bias`, then batch_norm's
  // mean, var, weight, bias when `batch_norm`; `attrs` are the conv's, `eps` the batch
  // norm's. BatchNormRelu: batch_norm's five inputs, `attrs` its attrs.
  Attrs attrs;
  bool conv_bias = false;
  bool batch_norm = false;
  double eps = 0;
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
  int conv_epilogues = 0;           // conv2d nodes that absorbed a batch norm and/or a relu
  int batch_norm_relus = 0;         // batch_norm nodes that absorbed their relu
};

// Which fusions run. Reduction prologues exist only as CPU code (fusion_kernel.cpp); a
// graph on a CUDA device turns them off and keeps the ops, which run as the device's
// registered kernels (fuse_options_for). The matmul epilogue (bias, ReLU; GELU on the CPU
// only), conv epilogues and batch norm + ReLU run on both devices (kernels/cpu/conv.h and
// batch_norm.h; kernels/cuda/gemm.h and fused_kernels.h).
struct FuseOptions {
  bool side_stores = true;          // groups may absorb state updates (Note [Side stores])
  bool matmul_epilogues = true;
  bool matmul_gelu = true;          // matmul epilogues may absorb a gelu (CPU GEMM only)
  bool reduction_prologues = true;
  bool conv_epilogues = true;       // conv2d [-> batch_norm] [-> relu]
  bool batch_norm_relu = true;      // batch_norm -> relu
};
// The fusions a graph whose values live on `device` can run: all on the CPU; on CUDA all
// but reduction prologues and GELU epilogues: graph/cuda_codegen.h turns elementwise
// groups (with side stores) into CUDA C and the others into calls of the CUDA kernels
// with epilogues.
FuseOptions fuse_options_for(Device device, bool side_stores = true);

// The ops an elementwise group may contain (float32/bool in and out); every backend of
// fused groups implements exactly these (fusion_kernel.cpp, cuda_codegen.cpp).
bool fusable_elementwise_op(OpKind op);

// Rewrites g in place, with the fusions `options` turns on (all by default). Groups are
// named after their ops ("add+relu").
FusionStats fuse(Graph& g, const FuseOptions& options = {});

// Whether a [..., M, K] operand with these strides reads as one [rows, K] matrix with
// row stride strides[r - 2] (its leading dims folded into the rows), as a MatmulEpilogue's
// first operand must; matmul_epilogue_rows returns a, or a contiguous copy when it does not.
bool rows_fold(const Shape& shape, const Shape& strides);
Tensor matmul_epilogue_rows(const Tensor& a);

// A ConvEpilogue group's operands (laid out as FusedProgram says) as the conv kernels'
// epilogue, on either device.
cpu::ConvEpilogue conv_epilogue_of(const FusedProgram& prog, std::span<const Tensor> inputs);

// Per value: the fused groups that side-store into it when it is a state (positions,
// ascending); empty otherwise.
std::vector<std::vector<ValueId>> side_store_writers(const Graph& g);

}  // namespace duet::graph
