// Batch-norm benchmarks: the five CPU kernels of a training step's batch norm
// (kernels/cpu/batch_norm.cpp) on the activations of fashion-resnet's three stages (batch
// 128), float32; normalize_relu is the fused kernel graph mode runs for batch_norm -> relu.
// Each pass is memory-bound, so the counters are GB/s (the bytes it must move
// once: stats x; normalize x + y; backward_reduce dy + x; backward dy + x + dx) and
// pct_triad, that rate as a share of the STREAM triad measured at start-up.
// Names: bn/<stage>/<stats|normalize|normalize_relu|backward_reduce|backward>.
//   duet_bench --benchmark_filter=bn/ --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "core/dispatch.h"
#include "core/functions.h"
#include "kernels/cpu/batch_norm.h"

namespace duet::bench {
namespace {

struct BnLayer {
  std::string name;
  int64_t N, C, H, W;
};

const std::vector<BnLayer> kLayers = {
    {"resnet_s1", 128, 16, 28, 28},
    {"resnet_s2", 128, 32, 14, 14},
    {"resnet_s3", 128, 64, 7, 7},
};

enum class Pass { Stats, Normalize, NormalizeRelu, BackwardReduce, Backward };
const char* pass_name(Pass p) {
  switch (p) {
    case Pass::Stats: return "stats";
    case Pass::Normalize: return "normalize";
    case Pass::NormalizeRelu: return "normalize_relu";
    case Pass::BackwardReduce: return "backward_reduce";
    default: return "backward";
  }
}

void bm_batch_norm(benchmark::State& state, BnLayer l, Pass pass) {
  settle_pools(PoolOwner::Duet);
  const Tensor x = randn({l.N, l.C, l.H, l.W}), dy = randn({l.N, l.C, l.H, l.W});
  const Attrs eps = Attrs().set("eps", 1e-5);
  const Tensor st = apply(OpKind::batch_norm_stats, {x}, eps);
  const Tensor mean = st.select(0, 0), var = st.select(0, 1);
  const Tensor weight = randn({l.C}), bias = randn({l.C});
  const Tensor sums = apply(OpKind::batch_norm_backward_reduce, {dy, x, mean, var}, eps);
  const Attrs train = Attrs(eps).set("training", true);
  const Tensor fused_in[] = {x, mean, var, weight, bias};
  const Tensor fused_out = empty(x.sizes());
  auto call = [&] {
    switch (pass) {
      case Pass::Stats: return apply(OpKind::batch_norm_stats, {x}, eps);
      case Pass::Normalize: return apply(OpKind::batch_norm, {x, mean, var, weight, bias}, train);
      case Pass::NormalizeRelu: cpu::batch_norm_relu_kernel(fused_in, fused_out, train); return fused_out;
      case Pass::BackwardReduce: return apply(OpKind::batch_norm_backward_reduce, {dy, x, mean, var}, eps);
      default: return apply(OpKind::batch_norm_backward, {dy, x, mean, var, weight, sums}, train);
    }
  };
  call();  // warm-up
  for (auto _ : state) benchmark::DoNotOptimize(call());
  const double b = double(x.numel()) * 4;
  const double bytes = pass == Pass::Stats ? b : pass == Pass::Backward ? 3 * b : 2 * b;
  state.counters["GBps"] = benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  const double triad = triad_gbps_for(x.numel());
  state.counters["pct_triad"] =
      benchmark::Counter(triad > 0 ? bytes / 1e9 / triad * 100 : 0, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

void register_batch_norm_benchmarks() {
  for (const BnLayer& l : kLayers)
    for (Pass p : {Pass::Stats, Pass::Normalize, Pass::NormalizeRelu, Pass::BackwardReduce, Pass::Backward})
      benchmark::RegisterBenchmark(("bn/" + l.name + "/" + pass_name(p)).c_str(), bm_batch_norm, l, p)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
}

}  // namespace duet::bench
