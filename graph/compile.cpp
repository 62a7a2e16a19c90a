// graph::compile: signature cache, warm-up, capture, the compile pipeline, replay.
#include "graph/compile.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "graph/capture.h"
#include "graph/executable.h"
#include "graph/fusion.h"
#include "graph/lowering.h"
#include "graph/passes/pass.h"
#include "graph/passes/pipeline.h"
#include "graph/schedule.h"

namespace duet::graph {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

std::string signature(const std::vector<Tensor>& inputs) {
  std::string s;
  for (const Tensor& t : inputs) {
    DUET_CHECK(t.defined(), "compiled function: an input is an undefined tensor");
    s += std::string(dtype_name(t.dtype())) + shape_str(t.sizes()) + "@" + t.device().str() + ";";
  }
  return s;
}

std::string mb(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f MB", double(bytes) / 1e6);
  return buf;
}

}  // namespace

std::string CompileReport::str() const {
  std::ostringstream os;
  os << "duet graph compile report\n";
  os << "  captured nodes      " << captured_nodes << "\n";
  for (const PassStats& p : passes)
    os << "  pass " << p.name << std::string(p.name.size() < 15 ? 15 - p.name.size() : 1, ' ') << p.nodes_before
       << " -> " << p.nodes_after << " nodes (" << p.ms << " ms)\n";
  os << "  after passes        " << nodes_after_passes << " nodes\n";
  os << "  fusion              " << elementwise_groups << " elementwise groups (" << fused_nodes << " nodes), "
     << matmul_epilogues << " matmul epilogues, " << reduction_prologues << " reduction prologues\n";
  os << "  kernels per run     " << kernels << "\n";
  os << "  schedule            " << (rescheduled ? "memory-aware" : "capture order") << " (capture order's arena "
     << mb(capture_order_arena_bytes) << ")\n";
  os << "  memory              arena " << mb(arena_bytes) << ", naive " << mb(naive_bytes) << ", lower bound "
     << mb(lower_bound_bytes);
  if (lower_bound_bytes > 0) os << " (arena/lower bound " << double(arena_bytes) / double(lower_bound_bytes) << "x)";
  os << ", " << inplace_reuses << " in-place reuses\n";
  os << "  state updates       " << writebacks << " (" << direct_writebacks << " computed in place, " << side_stores
     << " of them stored by a fused group; the rest copied back)\n";
  os << "  time                capture " << capture_ms << " ms, compile " << compile_ms << " ms\n";
  return os.str();
}

CompiledFunction::CompiledFunction(StepFunction fn, CompileOptions options)
    : fn_(std::move(fn)), options_(std::move(options)) {
  if (options_.dump_dir.empty())
    if (const char* d = std::getenv("DUET_DUMP_GRAPH")) options_.dump_dir = d;
  if (const char* r = std::getenv("DUET_COMPILE_REPORT")) options_.print_report = options_.print_report || r[0] == '1';
  if (const char* r = std::getenv("DUET_PROFILE_GRAPH")) options_.profile = options_.profile || r[0] == '1';
}
CompiledFunction::~CompiledFunction() {
  if (!options_.profile) return;
  for (const auto& [sig, e] : cache_)
    if (e.exe) std::fprintf(stderr, "signature %s\n%s", sig.c_str(), e.exe->profile_table().c_str());
}
CompiledFunction::CompiledFunction(CompiledFunction&&) noexcept = default;
CompiledFunction& CompiledFunction::operator=(CompiledFunction&&) noexcept = default;

void CompiledFunction::capture(Entry& e, const std::vector<Tensor>& inputs) {
  CompileReport rep;
  auto t0 = Clock::now();
  Graph g;
  {
    CaptureSession session;
    session.reuse_grad_buffers(&grad_buffers_);
    std::vector<Tensor> placeholders;
    for (const Tensor& t : inputs) placeholders.push_back(session.add_input({t.sizes(), t.dtype(), t.device()}));
    std::vector<Tensor> outs = fn_(placeholders);
    g = session.finish(outs);
  }
  rep.captured_nodes = g.size();
  rep.capture_ms = ms_since(t0);
  auto t1 = Clock::now();
  PipelineOptions popts;
  popts.dump_dir = options_.dump_dir;
  if (options_.optimize) rep.passes = run_passes(g, popts);
  rep.nodes_after_passes = g.size();
  // Lower first, so fusion sees the explicit casts and can absorb them.
  lower_for_cpu(g);
  // Lowering adds a cast per use of a value that needs one; merge the copies.
  common_subexpression_elimination(g);
  dead_code_elimination(g);
  if (options_.fuse) {
    // A CUDA graph keeps only the fusions CUDA runs (elementwise groups, side stores).
    FusionStats fs = fuse(g, fuse_options_for(g.device(), options_.side_stores));
    rep.elementwise_groups = fs.elementwise_groups;
    rep.fused_nodes = fs.fused_elementwise_nodes;
    rep.matmul_epilogues = fs.matmul_epilogues;
    rep.reduction_prologues = fs.reduction_prologues;
  }
  if (options_.schedule) {
    ScheduleStats ss = schedule_for_memory(g, options_.strategy);
    rep.capture_order_arena_bytes = ss.arena_before;
    rep.rescheduled = ss.reordered;
  }
#ifndef NDEBUG
  g.verify();
#endif
  if (!options_.dump_dir.empty()) {
    std::FILE* f = std::fopen((options_.dump_dir + "/99-lowered.txt").c_str(), "w");
    if (f) {
      std::fputs(g.str().c_str(), f);
      std::fclose(f);
    }
  }
  rep.writebacks = g.writebacks.size();  // plus the side stores, below
  e.exe = std::make_unique<Executable>(std::move(g), options_.strategy, shared_arena_);
  e.exe->set_profiling(options_.profile);
  if (!shared_arena_ || e.exe->arena()->nbytes() > shared_arena_->nbytes()) shared_arena_ = e.exe->arena();
  rep.compile_ms = ms_since(t1);
  const MemoryPlan& plan = e.exe->plan();
  rep.kernels = e.exe->kernel_steps();
  rep.arena_bytes = plan.arena_bytes;
  if (!options_.schedule) rep.capture_order_arena_bytes = plan.arena_bytes;
  rep.naive_bytes = plan.naive_bytes;
  rep.lower_bound_bytes = plan.lower_bound_bytes;
  rep.inplace_reuses = plan.inplace_reuses;
  rep.writebacks += e.exe->side_stores();
  rep.side_stores = e.exe->side_stores();
  rep.direct_writebacks = e.exe->direct_writebacks() + e.exe->side_stores();
  last_report_ = rep;
  last_ = e.exe.get();
  ++captures_;
  if (options_.print_report) std::fputs(rep.str().c_str(), stderr);
}

std::vector<Tensor> CompiledFunction::operator()(const std::vector<Tensor>& inputs) {
  Entry& e = cache_[signature(inputs)];
  // Warm-up creates the state the code makes lazily (optimizer moments, .grad buffers);
  // it persists, so later signatures are captured without another eager call.
  if (!e.exe && warmups_ < options_.warmup_calls) {
    ++warmups_;
    return fn_(inputs);
  }
  if (!e.exe) capture(e, inputs);
  last_ = e.exe.get();
  return e.exe->run(inputs);
}

CompiledFunction compile(StepFunction fn, CompileOptions options) { return CompiledFunction(std::move(fn), std::move(options)); }

}  // namespace duet::graph
