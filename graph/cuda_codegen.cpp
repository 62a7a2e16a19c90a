// CUDA C for fused elementwise groups (see cuda_codegen.h), and the FusedKernel that
// compiles it with NVRTC and launches it (CUDA builds).
//
// Every instruction is one float expression: bools are registers holding 0 or 1,
// comparisons give 0/1, and each op is the formula of the CUDA eager kernel that runs it
// alone (Note [Fused CUDA ops are eager's formulas]).
//
// Note [Fused CUDA ops are eager's formulas]: on a GPU a fused group must give the bits
// of its ops run one by one by the eager CUDA kernels (kernels/cuda/elementwise_*.cu, not
// the CPU's: exp, log and tanh are CUDA's libdevice functions there). So each expression
// is the eager functor's own: neg as -x (a sign flip, as PyTorch: -0 for +0), sigmoid as
// t = e^-|x|, r = 1/(1 + t), x >= 0 ? r : t r, silu as x times that, maximum/minimum
// returning the NaN operand and, of equal values (0 and -0), the second, clamp as
// x < lo ? lo : x > hi ? hi : x. (Checked by reading only, without a GPU: the codegen had
// sigmoid, and so silu, as e^x / (1 + e^x) for x < 0, maximum/minimum keeping the first
// of equal values.)
// NVRTC runs with --fmad=false, so no a*b + c is contracted across instructions (eager
// rounds each op's result to memory). The eager kernels are built by nvcc with its
// default --fmad=true, which could contract inside an op's own formula; the PTX of
// expf, logf, tanhf, sigmoid and silu under both settings (CUDA 13.0, sm_90) differs only
// in sigmoid's e^-|x| + 1, whose product is expf's exact scaling by 2^n: contracted or
// not, the sum rounds the same, so fmad changes no bits of any fusable op.
#include "graph/cuda_codegen.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "core/ops/gelu_approximation.h"

#if defined(DUET_HAVE_CUDA)
#include "kernels/cuda/fused_kernels.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/nvrtc_runtime.h"
#endif

namespace duet::graph {
namespace {

int arity_of(OpKind op) {
  switch (op) {
    case OpKind::where: return 3;
    case OpKind::add: case OpKind::sub: case OpKind::mul: case OpKind::div: case OpKind::maximum:
    case OpKind::minimum: case OpKind::eq: case OpKind::ne: case OpKind::lt: case OpKind::le: case OpKind::gt:
    case OpKind::ge: case OpKind::logical_and: case OpKind::logical_or:
      return 2;
    default:
      return 1;
  }
}

bool f32_or_bool(DType t) { return t == DType::Float32 || t == DType::Bool; }

const char* kind_name(FusedProgram::Kind k) {
  switch (k) {
    case FusedProgram::Kind::Elementwise: return "elementwise";
    case FusedProgram::Kind::MatmulEpilogue: return "matmul epilogue";
    case FusedProgram::Kind::Reduction: return "reduction prologue";
    case FusedProgram::Kind::ConvEpilogue: return "conv epilogue";
    case FusedProgram::Kind::BatchNormRelu: return "batch norm + relu";
  }
  return "?";
}

void check_program(const FusedProgram& prog, size_t num_operands_in) {
  DUET_CHECK(prog.kind == FusedProgram::Kind::Elementwise, "graph: a fused ", kind_name(prog.kind),
             " group has no CUDA kernel (only elementwise groups do; graph::compile leaves these ops unfused "
             "for CUDA graphs, see fuse_options_for)");
  DUET_CHECK(size_t(prog.num_inputs) == num_operands_in, "graph: fused program has ", prog.num_inputs,
             " inputs but ", num_operands_in, " operands were given");
  DUET_CHECK(!prog.code.empty(), "graph: fused program without instructions");
  for (size_t k = 0; k < prog.code.size(); ++k) {
    const FusedInstr& in = prog.code[k];
    DUET_CHECK(fusable_elementwise_op(in.op), "graph: CUDA code generation: op ", op_name(in.op),
               " cannot be part of a fused elementwise group");
    DUET_CHECK(int(in.args.size()) == arity_of(in.op), "graph: fused ", op_name(in.op), " has ", in.args.size(),
               " arguments, expected ", arity_of(in.op));
    for (int a : in.args)
      DUET_CHECK(a >= 0 && a < prog.num_inputs + int(k), "graph: fused instruction ", k, " (", op_name(in.op),
                 ") reads register ", a, ", which is not defined before it");
    if (in.op == OpKind::cast) {
      DType to = in.attrs.get<DType>("dtype");
      DUET_CHECK(f32_or_bool(to), "graph: fused cast to ", dtype_name(to), " has no CUDA code (float32/bool only)");
    }
  }
  const int nregs = prog.num_inputs + int(prog.code.size());
  for (const FusedProgram::SideStore& st : prog.side_stores)
    DUET_CHECK(st.reg >= 0 && st.reg < nregs && st.operand >= 0 && st.operand < prog.num_inputs,
               "graph: fused side store of register ", st.reg, " into input ", st.operand, " is out of range");
}

// The dims of the output that remain after dropping size-1 dims and merging neighbours
// that every operand walks contiguously (outer stride == inner stride * inner size).
struct Dim {
  int64_t size;
  std::vector<int64_t> strides;  // per operand
};

std::vector<Dim> coalesce(const Shape& shape, const std::vector<Shape>& strides) {
  std::vector<Dim> dims;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    Dim next{shape[d], {}};
    for (const Shape& s : strides) next.strides.push_back(s[d]);
    if (!dims.empty() && shape[d] != 0) {
      Dim& outer = dims.back();
      bool merge = outer.size != 0;
      for (size_t k = 0; k < strides.size() && merge; ++k) merge = outer.strides[k] == next.strides[k] * next.size;
      if (merge) {
        outer.size *= next.size;
        outer.strides = next.strides;
        continue;
      }
    }
    dims.push_back(std::move(next));
  }
  return dims;
}

// A float's exact bits as a CUDA expression (inf, NaN and -0 included), its value after.
std::string float_literal(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  char buf[80];
  std::snprintf(buf, sizeof buf, "__uint_as_float(0x%08xu) /* %.9g */", bits, double(v));
  return buf;
}

// Helpers the expressions call: the CUDA eager kernels' functors (elementwise_unary.cu,
// elementwise_binary.cu) written out with the same operations in the same order, so a
// fused op gives the eager kernel's bits (Note [Fused CUDA ops are eager's formulas]).
constexpr const char* kPrelude = R"(typedef long long i64;
__device__ __forceinline__ float duet_neg(float x) { return -x; }
__device__ __forceinline__ float duet_relu(float x) { return (x > 0.0f || x != x) ? x : 0.0f; }
__device__ __forceinline__ float duet_sigmoid(float x) {
  const float t = expf(-fabsf(x));
  const float r = 1.0f / (1.0f + t);
  return x >= 0.0f ? r : t * r;
}
__device__ __forceinline__ float duet_silu(float x) { return x * duet_sigmoid(x); }
__device__ __forceinline__ float duet_gelu_erf(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752440f)); }
__device__ __forceinline__ float duet_gelu_tanh(float x) {
  const float inner = 0.797884560802865355f * (x + 0.044715f * x * x * x);
  return 0.5f * x * (1.0f + tanhf(inner));
}
__device__ __forceinline__ float duet_maximum(float a, float b) {
  if (a != a) return a;
  if (b != b) return b;
  return a > b ? a : b;
}
__device__ __forceinline__ float duet_minimum(float a, float b) {
  if (a != a) return a;
  if (b != b) return b;
  return a < b ? a : b;
}
__device__ __forceinline__ float duet_clamp(float x, float lo, float hi) {
  if (x != x) return x;
  return x < lo ? lo : (x > hi ? hi : x);
}
)";

// Joins strings by appending (GCC 12 warns falsely about "literal" + std::string).
template <typename... Parts>
std::string cat(const Parts&... parts) {
  std::string s;
  ((s += parts), ...);
  return s;
}

std::string reg(int r) { return cat("r", std::to_string(r)); }

std::string expression(const FusedInstr& in) {
  const std::string a = reg(in.args[0]);
  const std::string b = in.args.size() > 1 ? reg(in.args[1]) : std::string();
  auto cmp = [&](const char* op) { return cat("(", a, " ", op, " ", b, " ? 1.0f : 0.0f)"); };
  auto call = [&](const char* f) { return cat(f, "(", a, ")"); };
  auto call2 = [&](const char* f) { return cat(f, "(", a, ", ", b, ")"); };
  switch (in.op) {
    case OpKind::neg: return call("duet_neg");
    case OpKind::abs: return call("fabsf");
    case OpKind::square: return cat(a, " * ", a);
    case OpKind::relu: return call("duet_relu");
    case OpKind::exp: return call("expf");
    case OpKind::log: return call("logf");
    case OpKind::sqrt: return call("sqrtf");
    case OpKind::rsqrt: return cat("1.0f / ", call("sqrtf"));  // rsqrtf is approximate
    case OpKind::reciprocal: return cat("1.0f / ", a);
    case OpKind::tanh: return call("tanhf");
    case OpKind::sigmoid: return call("duet_sigmoid");
    case OpKind::silu: return call("duet_silu");
    case OpKind::erf: return call("erff");
    case OpKind::gelu:
      return call(gelu_uses_tanh(in.attrs) ? "duet_gelu_tanh" : "duet_gelu_erf");
    case OpKind::copy: return a;
    case OpKind::cast:  // registers hold floats, bools as 0/1: only a cast to bool changes a value
      return in.attrs.get<DType>("dtype") == DType::Bool ? cat("(", a, " != 0.0f ? 1.0f : 0.0f)") : a;
    case OpKind::clamp: {
      float lo = in.attrs.has("min") ? float(in.attrs.get_number("min")) : -INFINITY;
      float hi = in.attrs.has("max") ? float(in.attrs.get_number("max")) : INFINITY;
      return cat("duet_clamp(", a, ", ", float_literal(lo), ", ", float_literal(hi), ")");
    }
    case OpKind::logical_not: return cat("(", a, " == 0.0f ? 1.0f : 0.0f)");
    case OpKind::add: return cat(a, " + ", b);
    case OpKind::sub: return cat(a, " - ", b);
    case OpKind::mul: return cat(a, " * ", b);
    case OpKind::div: return cat(a, " / ", b);
    case OpKind::maximum: return call2("duet_maximum");
    case OpKind::minimum: return call2("duet_minimum");
    case OpKind::eq: return cmp("==");
    case OpKind::ne: return cmp("!=");
    case OpKind::lt: return cmp("<");
    case OpKind::le: return cmp("<=");
    case OpKind::gt: return cmp(">");
    case OpKind::ge: return cmp(">=");
    case OpKind::logical_and: return cat("(", a, " != 0.0f && ", b, " != 0.0f ? 1.0f : 0.0f)");
    case OpKind::logical_or: return cat("(", a, " != 0.0f || ", b, " != 0.0f ? 1.0f : 0.0f)");
    case OpKind::where: return cat("(", a, " != 0.0f ? ", b, " : ", reg(in.args[2]), ")");
    default: break;
  }
  DUET_FAIL("graph: CUDA code generation: op ", op_name(in.op), " has no CUDA expression");
}

}  // namespace

CudaFusedLayout plan_cuda_fused_layout(const FusedProgram& prog, std::span<const CudaOperandMeta> inputs,
                                       const CudaOperandMeta& out) {
  check_program(prog, inputs.size());
  DUET_CHECK(f32_or_bool(out.dtype), "graph: a CUDA fused group cannot produce ", dtype_name(out.dtype),
             " (float32/bool only)");
  DUET_CHECK(out.sizes.size() == out.strides.size() && int64_t(out.sizes.size()) <= kMaxDims,
             "graph: fused output of ", out.sizes.size(), " dims");
  const Shape& shape = out.sizes;
  std::vector<Shape> strides{out.strides};
  for (size_t k = 0; k < inputs.size(); ++k) {
    const CudaOperandMeta& in = inputs[k];
    DUET_CHECK(f32_or_bool(in.dtype), "graph: a CUDA fused group cannot read ", dtype_name(in.dtype), " input ", k,
               " (float32/bool only)");
    DUET_CHECK(broadcast_shapes(in.sizes, shape, "fused") == shape, "graph: fused input ", k, " of shape ",
               in.sizes, " does not broadcast to the output's shape ", shape);
    strides.push_back(broadcast_strides(in.sizes, in.strides, shape));
  }
  std::vector<bool> written(strides.size(), false);
  written[0] = true;
  for (const FusedProgram::SideStore& st : prog.side_stores) {
    const CudaOperandMeta& target = inputs[size_t(st.operand)];
    DUET_CHECK(target.dtype == DType::Float32 && target.sizes == shape, "graph: fused side store into input ",
               st.operand, " (", dtype_name(target.dtype), shape_str(target.sizes),
               ") needs a float32 operand of the output's shape ", shape_str(shape));
    written[size_t(st.operand) + 1] = true;
  }

  CudaFusedLayout layout;
  layout.numel = numel_of(shape);
  layout.index32 = layout.numel < (int64_t(1) << 31);
  std::vector<Dim> dims = coalesce(shape, strides);
  for (const Dim& d : dims) layout.sizes.push_back(d.size);
  const Shape contiguous = contiguous_strides(layout.sizes);
  for (size_t k = 0; k < strides.size(); ++k) {
    CudaFusedLayout::Operand op;
    op.dtype = k == 0 ? out.dtype : inputs[k - 1].dtype;
    op.written = written[k];
    for (const Dim& d : dims) op.strides.push_back(d.strides[k]);
    bool all_zero = !dims.empty() && std::all_of(op.strides.begin(), op.strides.end(), [](int64_t s) { return s == 0; });
    op.access = op.strides == contiguous ? CudaAccess::Contiguous : all_zero ? CudaAccess::Scalar : CudaAccess::Strided;
    if (op.written && layout.numel > 0)
      for (size_t d = 0; d < dims.size(); ++d)
        DUET_CHECK(op.strides[d] != 0, "graph: fused ", k == 0 ? "output" : "side-store target",
                   " writes the same element more than once (a broadcast layout)");
    layout.operands.push_back(std::move(op));
  }
  return layout;
}

CudaFusedLayout plan_cuda_fused_layout(const FusedProgram& prog, std::span<const Tensor> inputs, const Tensor& out) {
  std::vector<CudaOperandMeta> metas;
  for (const Tensor& t : inputs) metas.push_back({t.sizes(), t.strides(), t.dtype()});
  return plan_cuda_fused_layout(prog, metas, CudaOperandMeta{out.sizes(), out.strides(), out.dtype()});
}

std::string cuda_fused_source(const FusedProgram& prog, const CudaFusedLayout& layout) {
  check_program(prog, layout.operands.size() - 1);
  const size_t nd = layout.sizes.size();
  const auto& ops = layout.operands;
  const bool any_strided =
      std::any_of(ops.begin(), ops.end(), [](const auto& o) { return o.access == CudaAccess::Strided; });
  std::vector<bool> read(size_t(prog.num_inputs), false);
  for (const FusedInstr& in : prog.code)
    for (int a : in.args)
      if (a < prog.num_inputs) read[size_t(a)] = true;

  std::ostringstream os;
  os << "// duet fused elementwise kernel, generated by graph/cuda_codegen.cpp:";
  for (const FusedInstr& in : prog.code) os << " " << op_name(in.op);
  os << "\n" << kPrelude;
  os << "extern \"C\" __global__ void __launch_bounds__(256) " << kCudaFusedKernelName << "(i64 n";
  if (any_strided)
    for (size_t d = 0; d < nd; ++d) os << ", i64 size" << d;
  for (size_t k = 0; k < ops.size(); ++k) {
    const char* elem = ops[k].dtype == DType::Bool ? "unsigned char" : "float";
    os << ",\n    " << (ops[k].written ? "" : "const ") << elem << "* p" << k;
    if (ops[k].access == CudaAccess::Strided)
      for (size_t d = 0; d < nd; ++d) os << ", i64 s" << k << "_" << d;
  }
  os << ") {\n";
  // Where operand k's element is, and the float it holds.
  auto index = [&](size_t k) -> std::string {
    switch (ops[k].access) {
      case CudaAccess::Contiguous: return "i";
      case CudaAccess::Scalar: return "0";
      case CudaAccess::Strided: return cat("o", std::to_string(k));
    }
    return "";
  };
  auto load = [&](size_t k) {
    std::string at = cat("p", std::to_string(k), "[", index(k), "]");
    return ops[k].dtype == DType::Bool ? cat("(", at, " != 0 ? 1.0f : 0.0f)") : at;
  };
  auto store = [&](size_t k, int r) {
    std::string at = cat("p", std::to_string(k), "[", index(k), "]");
    if (ops[k].dtype == DType::Bool) return cat("    ", at, " = ", reg(r), " != 0.0f ? 1 : 0;\n");
    return cat("    ", at, " = ", reg(r), ";\n");
  };
  // A broadcast scalar is read once per thread (never a written operand: checked when planned).
  for (int k = 0; k < prog.num_inputs; ++k)
    if (read[size_t(k)] && ops[size_t(k) + 1].access == CudaAccess::Scalar)
      os << "  const float " << reg(k) << " = " << load(size_t(k) + 1) << ";\n";
  os << "  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)blockDim.x * gridDim.x) {\n";
  if (any_strided) {
    const char* idx = layout.index32 ? "unsigned int" : "i64";
    os << "    " << idx << " q = (" << idx << ")i;\n";
    for (size_t d = nd; d-- > 1;)
      os << "    const " << idx << " c" << d << " = q % (" << idx << ")size" << d << "; q /= (" << idx << ")size" << d
         << ";\n";
    os << "    const " << idx << " c0 = q;\n";
    for (size_t k = 0; k < ops.size(); ++k) {
      if (ops[k].access != CudaAccess::Strided) continue;
      os << "    const i64 o" << k << " =";
      for (size_t d = 0; d < nd; ++d) os << (d ? " +" : "") << " (i64)c" << d << " * s" << k << "_" << d;
      os << ";\n";
    }
  }
  // Every load comes before every store: a thread reads its element of each input
  // (the output may reuse an input's buffer; side stores overwrite inputs) first.
  for (int k = 0; k < prog.num_inputs; ++k)
    if (read[size_t(k)] && ops[size_t(k) + 1].access != CudaAccess::Scalar)
      os << "    const float " << reg(k) << " = " << load(size_t(k) + 1) << ";\n";
  for (size_t k = 0; k < prog.code.size(); ++k)
    os << "    const float " << reg(prog.num_inputs + int(k)) << " = " << expression(prog.code[k]) << ";\n";
  os << store(0, prog.num_inputs + int(prog.code.size()) - 1);
  for (const FusedProgram::SideStore& st : prog.side_stores) os << store(size_t(st.operand) + 1, st.reg);
  os << "  }\n}\n";
  return os.str();
}

CudaFusedArgs cuda_fused_args(const CudaFusedLayout& layout) {
  CudaFusedArgs a;
  const auto& ops = layout.operands;
  const bool any_strided =
      std::any_of(ops.begin(), ops.end(), [](const auto& o) { return o.access == CudaAccess::Strided; });
  a.words.push_back(layout.numel);
  if (any_strided) a.words.insert(a.words.end(), layout.sizes.begin(), layout.sizes.end());
  for (const CudaFusedLayout::Operand& o : ops) {
    a.pointer_word.push_back(a.words.size());
    a.words.push_back(0);
    if (o.access == CudaAccess::Strided) a.words.insert(a.words.end(), o.strides.begin(), o.strides.end());
  }
  return a;
}

FusedKernel cuda_fused_kernel_for(const Node& node, std::span<const Tensor> inputs, const Tensor& out) {
  DUET_ASSERT(node.fused != nullptr, "fused node without a program");
  const FusedProgram& prog = *node.fused;
  DUET_CHECK(prog.kind != FusedProgram::Kind::Reduction, "graph: fused group '", node.name, "' (a ",
             kind_name(prog.kind), ") cannot run on ", out.device(), ": reduction prologues have no CUDA kernel ",
             "(graph::compile does not form them for CUDA graphs)");
#if defined(DUET_HAVE_CUDA)
  if (prog.kind == FusedProgram::Kind::ConvEpilogue) {
    return [p = node.fused](std::span<const Tensor> in, const Tensor& o) {
      cuda::conv2d_forward_with_epilogue(in[0], in[1], conv_epilogue_of(*p, in), o, p->attrs);
    };
  }
  if (prog.kind == FusedProgram::Kind::BatchNormRelu) {
    return [p = node.fused](std::span<const Tensor> in, const Tensor& o) { cuda::batch_norm_relu(in, o, p->attrs); };
  }
  if (prog.kind == FusedProgram::Kind::MatmulEpilogue) {
    // a [..., M, K] (rows folded, graph/fusion.h rows_fold) @ b [K, N] + bias [N] (+ relu)
    // as one call of duet's CUDA GEMM (or cuBLAS, when DUET_GEMM=cublas selects it, which
    // applies the epilogue as a second pass). GELU epilogues are not formed for CUDA.
    const cpu::Activation act = prog.act;
    return [act](std::span<const Tensor> in, const Tensor& o) {
      const Tensor a = matmul_epilogue_rows(in[0]);
      const Tensor &b = in[1], &bias = in[2];
      cuda::GemmArgs g;
      g.dtype = DType::Float32;
      g.device = o.device().index;
      g.N = o.size(-1);
      g.M = g.N ? o.numel() / g.N : 0;
      g.K = a.size(-1);
      g.a = a.data_ptr();
      g.rsa = a.stride(-2);
      g.csa = a.stride(-1);
      g.b = b.data_ptr();
      g.rsb = b.stride(0);
      g.csb = b.stride(1);
      g.c = o.data_ptr();
      g.ldc = g.N;
      g.bias = bias.data_ptr();
      g.act = act;
      cuda::gemm(g);
    };
  }
  CudaFusedLayout layout = plan_cuda_fused_layout(prog, inputs, out);
  const int device = out.device().index;
  const cuda::nvrtc::KernelHandle kernel = cuda::nvrtc::get_kernel(cuda_fused_source(prog, layout),
                                                                   kCudaFusedKernelName, device);
  // The argument words live as long as the kernel object; each launch only rewrites the
  // pointers (inputs are re-pointed at the caller's tensors between runs).
  struct Launch {
    CudaFusedArgs args;
    std::vector<void*> argv;
    int64_t numel;
  };
  auto launch = std::make_shared<Launch>();
  launch->args = cuda_fused_args(layout);
  launch->numel = layout.numel;
  for (int64_t& w : launch->args.words) launch->argv.push_back(&w);
  return [launch, kernel, device](std::span<const Tensor> in, const Tensor& o) {
    if (launch->numel == 0) return;
    std::vector<int64_t>& w = launch->args.words;
    const std::vector<size_t>& at = launch->args.pointer_word;
    w[at[0]] = int64_t(reinterpret_cast<intptr_t>(o.data_ptr()));
    for (size_t k = 0; k < in.size(); ++k) w[at[k + 1]] = int64_t(reinterpret_cast<intptr_t>(in[k].data_ptr()));
    cuda::nvrtc::launch(kernel, device, launch->numel, launch->argv.data());
  };
#else
  (void)inputs;
  DUET_FAIL("graph: fused group '", node.name, "' cannot run on ", out.device(),
            ": this build of duet has no CUDA support");
#endif
}

}  // namespace duet::graph
