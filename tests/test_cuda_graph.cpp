// Graph mode on CUDA. Without a GPU (any build with NVRTC): fused elementwise groups,
// from compiled functions and built by hand so every op the fuser accepts appears,
// become deterministic CUDA C that NVRTC compiles to PTX; operand layouts coalesce and
// classify as the kernel reads them; CUDA graphs keep only the fusions CUDA runs. With a
// GPU: a compiled MLP training step (forward, backward, Adam) on cuda:0 equals eager on
// the CPU, its arena is one device allocation, and replays allocate nothing.
#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include "autograd/autograd.h"
#include "core/allocator.h"
#include "core/functions.h"
#include "core/generator.h"
#include "graph/capture.h"
#include "graph/cuda_codegen.h"
#include "graph/graph.h"
#include "graph/lowering.h"
#include "nn/nn.h"
#include "optim/adam.h"
#include "tests/cuda_test_support.h"

#if defined(DUET_HAVE_CUDA)
#include "kernels/cuda/nvrtc_runtime.h"
#endif

using namespace duet;
using namespace duet::graph;
using duet::testing::kGpu;
using duet::testing::skip_without_gpu;

namespace {

struct Sample {
  std::string what;
  FusedProgram prog;
  std::vector<CudaOperandMeta> inputs;
  CudaOperandMeta out;
};

CudaOperandMeta contiguous(const Shape& s, DType dt = DType::Float32) { return {s, contiguous_strides(s), dt}; }

// The fused elementwise groups of a function compiled on the CPU, with their operand
// layouts as the executor would run them.
std::vector<Sample> fused_groups(const std::string& what, const StepFunction& fn, const std::vector<Tensor>& inputs) {
  auto f = graph::compile(fn);
  f(inputs);  // eager: creates the state code makes lazily (Adam's moments)
  f(inputs);  // captured and compiled
  const Graph& g = f.executable()->graph();
  std::vector<Shape> strides = value_strides(g);
  std::vector<Sample> out;
  for (size_t v = 0; v < g.size(); ++v) {
    const Node& n = g.nodes[v];
    if (n.kind != NodeKind::Fused || n.fused->kind != FusedProgram::Kind::Elementwise) continue;
    Sample s{what + " [" + n.name + "]", *n.fused, {}, contiguous(n.meta.shape, n.meta.dtype)};
    for (ValueId in : n.inputs) s.inputs.push_back({g.node(in).meta.shape, strides[size_t(in)], g.node(in).meta.dtype});
    out.push_back(std::move(s));
  }
  return out;
}

// Programs built by hand: every fusable op, reading float, bool and broadcast operands.
std::vector<Sample> hand_built() {
  std::vector<Sample> out;
  std::vector<OpKind> unary, binary;
  for (int k = 0; k < kNumOps; ++k) {
    OpKind op = OpKind(k);
    if (!fusable_elementwise_op(op) || op == OpKind::where) continue;
    (op_def(op).arity == 2 ? binary : unary).push_back(op);
  }
  // One program applying every op to registers 0 (float [5, 7]), 1 (a row [7] broadcast)
  // and 2 (a bool mask [5, 7]), summing the float results.
  Sample all{"every fusable op", {}, {contiguous({5, 7}), contiguous({7}), contiguous({5, 7}, DType::Bool)},
             contiguous({5, 7})};
  FusedProgram& p = all.prog;
  p.num_inputs = 3;
  auto emit = [&](OpKind op, std::vector<int> args, Attrs attrs = {}) {
    p.code.push_back({op, std::move(attrs), std::move(args)});
    return p.num_inputs + int(p.code.size()) - 1;
  };
  int acc = emit(OpKind::copy, {0});
  for (OpKind op : unary) {
    Attrs a;
    if (op == OpKind::clamp) a.set("min", -0.5).set("max", 0.75);
    if (op == OpKind::cast) a.set("dtype", DType::Bool);
    acc = emit(OpKind::add, {acc, emit(op, {op == OpKind::logical_not ? 2 : 0}, a)});
    if (op == OpKind::gelu)  // and its tanh approximation
      acc = emit(OpKind::add, {acc, emit(op, {0}, Attrs().set("approximate", std::string("tanh")))});
  }
  for (OpKind op : binary) acc = emit(OpKind::add, {acc, emit(op, {0, 1})});
  acc = emit(OpKind::where, {2, acc, 1});
  emit(OpKind::clamp, {acc}, Attrs().set("max", 2.0));  // only one bound: the other is infinite
  out.push_back(all);

  // A transposed input, a broadcast scalar, a bool output, a side store.
  Sample t{"strided, scalar, bool output", {}, {{{4, 6}, {1, 4}, DType::Float32}, {{}, {}, DType::Float32}},
           contiguous({4, 6}, DType::Bool)};
  t.prog.num_inputs = 2;
  t.prog.code = {{OpKind::mul, {}, {0, 1}}, {OpKind::gt, {}, {2, 1}}};
  out.push_back(t);
  Sample s{"side store", {}, {contiguous({3, 8}), contiguous({3, 8}), contiguous({8})}, contiguous({3, 8})};
  s.prog.num_inputs = 3;
  s.prog.code = {{OpKind::mul, {}, {0, 2}}, {OpKind::add, {}, {3, 1}}, {OpKind::sqrt, {}, {4}}};
  s.prog.side_stores = {{4, 1}};  // register 4 (the sum) is stored into input 1
  out.push_back(s);
  return out;
}

std::vector<Sample> compiled_samples(int64_t rows = 6) {
  manual_seed(3);
  Tensor x = randn({rows, 5}), y = randn({rows, 5}), b = randn({5});
  std::vector<Sample> all;
  auto add = [&](std::vector<Sample> v) { all.insert(all.end(), v.begin(), v.end()); };
  add(fused_groups("bias + relu", [](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{relu(in[0] * in[1] + in[2])};
  }, {x, y, b}));
  add(fused_groups("activations", [](const std::vector<Tensor>& in) {
    Tensor a = sigmoid(in[0]) + silu(in[1]) * tanh(in[0]) - exp(neg(square(in[1])));
    return std::vector<Tensor>{a + log(abs(in[0]) + 1.0) * rsqrt(sqrt(abs(in[1]) + 2.0)) / reciprocal(in[0] + 4.0)};
  }, {x, y}));
  add(fused_groups("masks", [](const std::vector<Tensor>& in) {
    Tensor m = logical_or(logical_and(gt(in[0], in[1]), le(in[0], in[2])), logical_not(eq(in[1], in[0])));
    Tensor k = logical_and(ne(in[0], in[1]), logical_or(lt(in[0], in[1]), ge(in[0], in[1])));
    Tensor c = where(m, clamp(in[0], -0.5, 0.5), maximum(in[0], in[1]) - minimum(in[1], in[2]));
    return std::vector<Tensor>{c * cast(k, DType::Float32), logical_not(m)};
  }, {x, y, b}));
  add(fused_groups("transposed copy", [](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{in[0].transpose(0, 1).contiguous() * 3.0 + 1.0};
  }, {x}));
  // An Adam step: each parameter's update kernel stores m and v as side stores.
  nn::Linear lin(5, 3);
  optim::Adam opt(lin.parameters(), 1e-3);
  add(fused_groups("adam", [&](const std::vector<Tensor>& in) {
    opt.zero_grad();
    Tensor loss = (lin.forward(in[0]) * lin.forward(in[0])).mean();
    loss.backward();
    opt.step();
    return std::vector<Tensor>{loss};
  }, {x}));
  return all;
}

std::string source_of(const Sample& s) {
  return cuda_fused_source(s.prog, plan_cuda_fused_layout(s.prog, s.inputs, s.out));
}

}  // namespace

TEST_CASE("fused groups become deterministic CUDA C that NVRTC compiles to PTX") {
  std::vector<Sample> samples = hand_built();
  std::vector<Sample> compiled = compiled_samples();
  samples.insert(samples.end(), compiled.begin(), compiled.end());
  // The same functions compiled again, at another batch size, give the same groups and
  // the same text: sizes and strides are kernel arguments, so one kernel serves both.
  std::vector<Sample> again = compiled_samples(9);
  REQUIRE(again.size() == compiled.size());
  for (size_t i = 0; i < compiled.size(); ++i) CHECK(source_of(again[i]) == source_of(compiled[i]));

  bool side_store = false;
  std::set<OpKind> seen;
  for (const Sample& s : samples) {
    for (const FusedInstr& in : s.prog.code) seen.insert(in.op);
    side_store = side_store || !s.prog.side_stores.empty();
    const std::string src = source_of(s);
    CHECK(src.find(std::string("__global__ void __launch_bounds__(256) ") + kCudaFusedKernelName) != std::string::npos);
  }
  CHECK(side_store);
  for (int k = 0; k < kNumOps; ++k)
    if (fusable_elementwise_op(OpKind(k))) CHECK_MESSAGE(seen.count(OpKind(k)), op_name(OpKind(k)), " never fused");

#if defined(DUET_HAVE_CUDA)
  const int64_t before = cuda::nvrtc::compilations();
  std::set<std::string> distinct;
  for (const Sample& s : samples) {
    const std::string src = source_of(s);
    distinct.insert(src);
    std::string ptx;
    try {
      ptx = cuda::nvrtc::compile_to_ptx(src, 90);
    } catch (const Error& e) {
      FAIL_CHECK(s.what, ": ", e.what());
      continue;
    }
    CHECK_MESSAGE(ptx.find(std::string(".entry ") + kCudaFusedKernelName) != std::string::npos, s.what);
    CHECK(ptx.find(".target sm_90") != std::string::npos);
  }
  // Each distinct text compiled once: the cache answers the repeats.
  CHECK(cuda::nvrtc::compilations() - before <= int64_t(distinct.size()));
  const int64_t cached = cuda::nvrtc::compilations();
  cuda::nvrtc::compile_to_ptx(source_of(samples[0]), 90);
  CHECK(cuda::nvrtc::compilations() == cached);
  // Another architecture is another entry.
  CHECK(cuda::nvrtc::compile_to_ptx(source_of(samples[0]), 80).find(".target sm_80") != std::string::npos);
#else
  MESSAGE("skipped the NVRTC compilations: this build of duet has no CUDA support");
#endif
}

TEST_CASE("operand layouts: coalesced, contiguous, broadcast scalars and strided views") {
  FusedProgram p;
  p.num_inputs = 3;
  p.code = {{OpKind::add, {}, {0, 1}}, {OpKind::mul, {}, {3, 2}}};
  // All contiguous: one dim, every operand indexed by i.
  std::vector<CudaOperandMeta> in{contiguous({2, 3, 4}), contiguous({2, 3, 4}), {{1}, {1}, DType::Float32}};
  CudaFusedLayout l = plan_cuda_fused_layout(p, in, contiguous({2, 3, 4}));
  CHECK(l.sizes == Shape{24});
  CHECK(l.numel == 24);
  CHECK(l.index32);
  REQUIRE(l.operands.size() == 4);
  CHECK(l.operands[0].access == CudaAccess::Contiguous);
  CHECK(l.operands[0].written);
  CHECK(l.operands[1].access == CudaAccess::Contiguous);
  CHECK(l.operands[3].access == CudaAccess::Scalar);
  CHECK_FALSE(l.operands[3].written);
  CudaFusedArgs a = cuda_fused_args(l);
  CHECK(a.words.size() == 5);  // n, then four pointers
  CHECK(a.words[0] == 24);
  CHECK(a.pointer_word == std::vector<size_t>{1, 2, 3, 4});

  // A permuted input (a [4, 3, 2] buffer read as [2, 3, 4]) keeps every dim apart; a row
  // broadcast over the leading dim and a bool mask come along.
  in = {{{2, 3, 4}, {1, 2, 6}, DType::Float32}, contiguous({3, 4}), contiguous({2, 3, 4}, DType::Bool)};
  l = plan_cuda_fused_layout(p, in, contiguous({2, 3, 4}));
  CHECK(l.sizes == Shape{2, 3, 4});
  CHECK(l.operands[1].access == CudaAccess::Strided);
  CHECK(l.operands[2].access == CudaAccess::Strided);
  CHECK(l.operands[2].strides == Shape{0, 4, 1});
  CHECK(l.operands[3].access == CudaAccess::Contiguous);
  CHECK(l.operands[3].dtype == DType::Bool);
  a = cuda_fused_args(l);
  // n, 3 sizes, out ptr, (ptr + 3 strides) x 2, bool ptr
  CHECK(a.words.size() == 1 + 3 + 1 + 4 + 4 + 1);
  CHECK(a.pointer_word == std::vector<size_t>{4, 5, 9, 13});
  CHECK(std::vector<int64_t>(a.words.begin() + 10, a.words.begin() + 13) == std::vector<int64_t>{0, 4, 1});
  const std::string src = cuda_fused_source(p, l);
  CHECK(src.find("const unsigned char* p3") != std::string::npos);
  CHECK(src.find("unsigned int q") != std::string::npos);  // 32-bit coordinates

  // The row alone: broadcast dims do not merge with contiguous ones.
  in = {contiguous({2, 3, 4}), contiguous({3, 4}), contiguous({2, 3, 4})};
  l = plan_cuda_fused_layout(p, in, contiguous({2, 3, 4}));
  CHECK(l.sizes == Shape{2, 12});
  CHECK(l.operands[2].strides == Shape{0, 1});

  // Size 0 and one element.
  l = plan_cuda_fused_layout(p, std::vector<CudaOperandMeta>{contiguous({0, 3}), contiguous({3}), contiguous({1})},
                             contiguous({0, 3}));
  CHECK(l.numel == 0);
  l = plan_cuda_fused_layout(p, std::vector<CudaOperandMeta>{contiguous({1, 1}), contiguous({1}), contiguous({})},
                             contiguous({1, 1}));
  CHECK(l.sizes.empty());
  for (const auto& o : l.operands) CHECK(o.access == CudaAccess::Contiguous);
}

TEST_CASE("what CUDA code generation cannot do is a clear error") {
  FusedProgram red;
  red.kind = FusedProgram::Kind::Reduction;
  red.num_inputs = 1;
  red.code = {{OpKind::exp, {}, {0}}};
  std::vector<CudaOperandMeta> one{contiguous({4})};
  CHECK_THROWS_WITH_AS(plan_cuda_fused_layout(red, one, contiguous({})),
                       doctest::Contains("reduction prologue group has no CUDA kernel"), Error);
  FusedProgram bad;
  bad.num_inputs = 1;
  bad.code = {{OpKind::matmul, {}, {0, 0}}};
  CHECK_THROWS_WITH_AS(plan_cuda_fused_layout(bad, one, contiguous({4})),
                       doctest::Contains("matmul cannot be part of a fused elementwise group"), Error);
  FusedProgram ok;
  ok.num_inputs = 1;
  ok.code = {{OpKind::exp, {}, {0}}};
  CHECK_THROWS_WITH_AS(plan_cuda_fused_layout(ok, std::vector<CudaOperandMeta>{contiguous({4}, DType::Int32)},
                                              contiguous({4})),
                       doctest::Contains("cannot read int32"), Error);
  // An output that is a broadcast view would be written by several threads at once.
  CHECK_THROWS_WITH_AS(plan_cuda_fused_layout(ok, one, CudaOperandMeta{{4}, {0}, DType::Float32}),
                       doctest::Contains("writes the same element more than once"), Error);
#if defined(DUET_HAVE_CUDA)
  CHECK_THROWS_WITH_AS(cuda::nvrtc::compile_to_ptx("extern \"C\" __global__ void k() { undefined_thing(); }", 90),
                       doctest::Contains("NVRTC log"), Error);
  CHECK_THROWS_WITH_AS(cuda::nvrtc::compile_to_ptx("extern \"C\" __global__ void k() { undefined_thing(); }", 90),
                       doctest::Contains("undefined_thing"), Error);
  CHECK(cuda::nvrtc::target_arch(90) == 90);
  CHECK(cuda::nvrtc::target_arch(1000) == cuda::nvrtc::supported_archs().back());
  CHECK_THROWS_AS(cuda::nvrtc::target_arch(10), Error);
#endif
}

TEST_CASE("a CUDA graph keeps only the fusions CUDA runs") {
  // Captured on the CPU, fused with each device's options.
  auto fused_kinds = [](Device d) {
    manual_seed(5);
    nn::Linear lin(6, 4);
    CaptureSession session;
    Tensor x = session.add_input({{3, 6}, DType::Float32, Device::cpu()});
    Tensor y = relu(lin.forward(x));
    Tensor s = (exp(y) * 2.0).sum({1});
    Graph g = session.finish({y, s});
    lower_for_cpu(g);
    FusionStats st = fuse(g, fuse_options_for(d));
    return st;
  };
  FusionStats cpu = fused_kinds(Device::cpu()), gpu = fused_kinds(Device::cuda(0));
  CHECK(cpu.matmul_epilogues == 1);
  CHECK(cpu.reduction_prologues == 1);
  CHECK(gpu.matmul_epilogues == 1);
  CHECK(gpu.reduction_prologues == 0);
  CHECK(gpu.elementwise_groups >= 1);
  CHECK(fuse_options_for(Device::cuda(0)).side_stores);
  // (Conv epilogues and batch norm + ReLU run on both: test_cuda_conv_fusion.cpp.)
}

// ---- on a GPU

namespace {

double max_rel_diff(const Tensor& a, const Tensor& b) {
  auto x = a.to(Device::cpu()).to_vector<double>(), y = b.to(Device::cpu()).to_vector<double>();
  REQUIRE(x.size() == y.size());
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i]) && std::isnan(y[i])) continue;
    worst = std::max(worst, std::fabs(x[i] - y[i]) / std::max(1.0, std::fabs(y[i])));
  }
  return worst;
}

std::shared_ptr<nn::Sequential> mlp() {
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(20, 32), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(32, 16),
      std::make_shared<nn::Tanh>(), std::make_shared<nn::Linear>(16, 5)});
}

}  // namespace

TEST_CASE("compiled MLP training step on cuda:0 equals eager on the CPU") {
  if (skip_without_gpu()) return;
  manual_seed(0);
  auto cpu_model = mlp();
  manual_seed(0);
  auto gpu_model = mlp();
  gpu_model->to(kGpu);
  optim::Adam cpu_opt(cpu_model->parameters(), 1e-3), gpu_opt(gpu_model->parameters(), 1e-3);
  auto make_step = [](nn::Sequential& model, optim::Adam& opt) {
    return [&model, &opt](const std::vector<Tensor>& in) {
      opt.zero_grad();
      Tensor logits = model.forward(in[0]);
      Tensor loss = nn::functional::cross_entropy(logits, in[1]);
      loss.backward();
      opt.step();
      return std::vector<Tensor>{loss, logits};
    };
  };
  auto eager = make_step(*cpu_model, cpu_opt);
  auto compiled = graph::compile(make_step(*gpu_model, gpu_opt));
  Tensor x = randn({16, 20});
  Tensor y = argmax(x.narrow(1, 0, 5), 1);
  Tensor gx = x.to(kGpu), gy = y.to(kGpu);
  for (int s = 0; s < 6; ++s) {
    std::vector<Tensor> want = eager({x, y});
    std::vector<Tensor> got = compiled({gx, gy});
    REQUIRE(got[0].device() == kGpu);
    CHECK_MESSAGE(max_rel_diff(got[0], want[0]) <= 1e-5, "loss, step ", s);
    CHECK_MESSAGE(max_rel_diff(got[1], want[1]) <= 1e-5, "logits, step ", s);
  }
  auto cp = cpu_model->parameters(), gp = gpu_model->parameters();
  for (size_t i = 0; i < cp.size(); ++i) CHECK_MESSAGE(max_rel_diff(gp[i], cp[i]) <= 1e-5, "parameter ", i);
  REQUIRE(compiled.executable() != nullptr);
  CHECK(compiled.executable()->device() == kGpu);
  CHECK(compiled.executable()->arena()->device() == kGpu);
  const CompileReport& r = compiled.report();
  CHECK(r.elementwise_groups >= 1);
  CHECK(r.side_stores == 2 * gp.size());  // Adam's m and v stored by the generated kernels
  CHECK(r.matmul_epilogues >= 1);  // bias (+ ReLU) in cuda::gemm's epilogue
  CHECK(r.reduction_prologues == 0);
  // Replays take no new device memory (nor compile anything). Counted as the caching
  // allocator's calls to cudaMalloc: the step's kernels may take small scratch from the
  // pool each call (gather and scatter_add check their indices in an 8-byte word), which
  // allocate() counts although no memory is taken.
  const int64_t allocs = memory_stats(kGpu).system_allocations;
#if defined(DUET_HAVE_CUDA)
  const int64_t compiles = cuda::nvrtc::compilations();
#endif
  for (int s = 0; s < 4; ++s) compiled({gx, gy});
  cuda::synchronize(kGpu);
  CHECK(memory_stats(kGpu).system_allocations == allocs);
#if defined(DUET_HAVE_CUDA)
  CHECK(cuda::nvrtc::compilations() == compiles);
#endif
}

TEST_CASE("fused kernels on cuda:0: broadcast, strided, scalar and bool operands") {
  if (skip_without_gpu()) return;
  auto fn = [](const std::vector<Tensor>& in) {
    Tensor t = in[0].transpose(0, 1);  // [7, 5] strided
    Tensor m = logical_or(gt(t, in[1]), logical_not(lt(t, in[1] * 0.5)));
    Tensor c = where(m, clamp(t, -0.5, std::nullopt), maximum(t, in[1]) * sigmoid(in[1]) - silu(t));
    return std::vector<Tensor>{c * 2.0 + rsqrt(abs(t) + 1.0), m};
  };
  manual_seed(9);
  Tensor a = randn({5, 7}), b = randn({5});
  auto on_cpu = graph::compile(fn, {.warmup_calls = 0});
  auto on_gpu = graph::compile(fn, {.warmup_calls = 0});
  std::vector<Tensor> want = on_cpu({a, b});
  std::vector<Tensor> got = on_gpu({a.to(kGpu), b.to(kGpu)});
  CHECK(on_gpu.report().elementwise_groups >= 1);
  CHECK(max_rel_diff(got[0], want[0]) <= 1e-5);
  CHECK(got[1].to(Device::cpu()).to_vector<bool>() == want[1].to_vector<bool>());
  // A larger tensor: many blocks, the grid-stride loop wraps.
  Tensor big = randn({3000, 1100}), row = randn({3000});
  auto f2 = [](const std::vector<Tensor>& in) { return std::vector<Tensor>{relu(in[0] * 2.0 + in[1].reshape({3000, 1}))}; };
  auto c2 = graph::compile(f2, {.warmup_calls = 0}), g2 = graph::compile(f2, {.warmup_calls = 0});
  CHECK(max_rel_diff(g2({big.to(kGpu), row.to(kGpu)})[0], c2({big, row})[0]) == 0);
}
