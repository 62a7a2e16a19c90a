// CUDA C for fused elementwise groups (graph mode on CUDA). A group's FusedProgram
// (graph/fusion.h) and the layout of its operands become the source of one kernel: a
// grid-stride loop over the output's elements that loads each input (contiguous, one
// broadcast scalar, or through its coalesced sizes/strides), evaluates the instructions
// as float expressions with the tile interpreter's semantics (fusion_kernel.cpp), and
// stores the result and the group's side stores. NVRTC compiles the text at run time
// (kernels/cuda/nvrtc_runtime.h), cached by the text, which is a pure function of the
// program and the layout's structure (dtypes, access kinds, rank, index width): sizes,
// strides and pointers are kernel arguments, so one kernel serves every batch size.
//
//   CudaFusedLayout layout = plan_cuda_fused_layout(prog, operand_metas);
//   std::string src = cuda_fused_source(prog, layout);     // kernel kCudaFusedKernelName
//   CudaFusedArgs args = cuda_fused_args(layout);          // parameter words to launch with
//
// Plain C++ built in every build (the tests compile the text to PTX wherever NVRTC is);
// cuda_fused_kernel_for needs a CUDA build to run. It also runs the groups that are no
// generated code: matmul + bias (+ ReLU) as one cuda::gemm call with its epilogue
// (kernels/cuda/gemm.h), conv epilogues and batch norm + ReLU as the CUDA conv and batch
// norm kernels storing through theirs (kernels/cuda/fused_kernels.h).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "graph/executable.h"
#include "graph/fusion.h"

namespace duet::graph {

inline constexpr const char* kCudaFusedKernelName = "duet_fused";

// How the kernel reaches an operand at linear element i of the (coalesced) output.
enum class CudaAccess : uint8_t {
  Contiguous,  // p[i]
  Scalar,      // p[0] for every element (a broadcast single value), read once per thread
  Strided,     // p[sum_d coord_d * stride_d]
};

// One operand's layout: its sizes and strides (elements) and dtype.
struct CudaOperandMeta {
  Shape sizes;
  Shape strides;
  DType dtype;
};

struct CudaFusedLayout {
  Shape sizes;          // iteration shape after dropping size-1 dims and merging dims
                        // every operand walks contiguously (empty: one element)
  int64_t numel = 0;
  bool index32 = true;  // numel < 2^31: coordinates are computed in 32 bits
  struct Operand {
    DType dtype;
    CudaAccess access;
    Shape strides;      // per dim of `sizes` (broadcast dims 0)
    bool written;       // the output, or a side-store target
  };
  std::vector<Operand> operands;  // 0: the output; 1 + k: the program's input k
};

// Coalesces the operands over the output's shape (inputs broadcast to it). Throws
// duet::Error for what the CUDA kernel cannot do: not an elementwise program, an op or
// dtype the CUDA code does not know, a written operand that overlaps itself.
CudaFusedLayout plan_cuda_fused_layout(const FusedProgram& prog, std::span<const CudaOperandMeta> inputs,
                                       const CudaOperandMeta& out);
CudaFusedLayout plan_cuda_fused_layout(const FusedProgram& prog, std::span<const Tensor> inputs, const Tensor& out);

// The kernel's source (deterministic: equal programs and layouts give equal text).
std::string cuda_fused_source(const FusedProgram& prog, const CudaFusedLayout& layout);

// The kernel's parameters, each 8 bytes, in order: n, then (when an operand is strided)
// the sizes, then per operand its pointer and, when strided, its strides. `pointer_word`
// says which word holds operand k's pointer (filled in before each launch).
struct CudaFusedArgs {
  std::vector<int64_t> words;
  std::vector<size_t> pointer_word;
};
CudaFusedArgs cuda_fused_args(const CudaFusedLayout& layout);

// The FusedKernel that runs `node`'s group on its CUDA device, over tensors with the
// layouts of `inputs` and `out` (their memory may move between runs; their layouts may
// not). Compiles (or finds in the cache) the kernel now. CUDA builds only: elsewhere it
// throws duet::Error saying the build has no CUDA support.
FusedKernel cuda_fused_kernel_for(const Node& node, std::span<const Tensor> inputs, const Tensor& out);

}  // namespace duet::graph
