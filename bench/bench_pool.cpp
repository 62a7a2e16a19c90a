// Pooling benchmarks: the pooling layers of the fashion-lenet (batch 64) and
// fashion-resnet (batch 128) workloads plus a 3x3/stride-2/pad-1 max pool (the ImageNet
// ResNet stem's), forward and backward, through the ops' CPU kernels (kernels/cpu/pool.cpp),
// float32. Pooling is memory-bound, so the counters are GB/s (bytes the pass must read and
// write once: forward x + y; max backward x + dy + dx; avg backward dy + dx) and
// pct_triad, that rate as a share of the STREAM triad measured at start-up.
// Names: pool/<layer>/<forward|backward>.
//   duet_bench --benchmark_filter=pool/ --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "core/dispatch.h"
#include "core/functions.h"
#include "core/ops/conv_geometry.h"

namespace duet::bench {
namespace {

enum class Kind { Max, Avg, GlobalAvg };

struct PoolLayer {
  std::string name;
  Kind kind;
  int64_t N, C, H, W, K, stride, pad;
};

const std::vector<PoolLayer> kLayers = {
    {"lenet_max1", Kind::Max, 64, 6, 28, 28, 2, 2, 0},
    {"lenet_max2", Kind::Max, 64, 16, 10, 10, 2, 2, 0},
    {"stem_max3x3s2", Kind::Max, 128, 16, 28, 28, 3, 2, 1},
    {"avg2x2", Kind::Avg, 64, 16, 28, 28, 2, 2, 0},
    {"resnet_gap", Kind::GlobalAvg, 128, 64, 7, 7, 7, 7, 0},
};

OpKind forward_op(Kind k) {
  return k == Kind::Max ? OpKind::max_pool2d : k == Kind::Avg ? OpKind::avg_pool2d : OpKind::adaptive_avg_pool2d;
}
OpKind backward_op(Kind k) {
  return k == Kind::Max   ? OpKind::max_pool2d_backward
         : k == Kind::Avg ? OpKind::avg_pool2d_backward
                          : OpKind::adaptive_avg_pool2d_backward;
}

void bm_pool(benchmark::State& state, PoolLayer l, bool backward) {
  settle_pools(PoolOwner::Duet);
  Attrs attrs;
  if (l.kind == Kind::GlobalAvg) {
    attrs.set("output_size", std::vector<int64_t>{1, 1});
  } else {
    attrs.set("kernel", std::vector<int64_t>{l.K, l.K})
        .set("stride", std::vector<int64_t>{l.stride, l.stride})
        .set("padding", std::vector<int64_t>{l.pad, l.pad})
        .set("ceil_mode", false);
    if (l.kind == Kind::Max) attrs.set("dilation", std::vector<int64_t>{1, 1});
    else attrs.set("count_include_pad", true);
  }
  Tensor x = randn({l.N, l.C, l.H, l.W});
  Tensor y = apply(forward_op(l.kind), {x}, attrs);
  Tensor dy = randn(y.sizes());
  auto call = [&] {
    if (!backward) return apply(forward_op(l.kind), {x}, attrs);
    if (l.kind == Kind::Max) return apply(backward_op(l.kind), {dy, x}, attrs);
    return apply(backward_op(l.kind), {dy}, Attrs(attrs).set("input_shape", x.sizes()));
  };
  call();  // warm-up
  for (auto _ : state) benchmark::DoNotOptimize(call());
  const double xb = double(x.numel()) * 4, yb = double(y.numel()) * 4;
  const double bytes = !backward ? xb + yb : l.kind == Kind::Max ? 2 * xb + yb : xb + yb;
  state.counters["GBps"] = benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  const double triad = triad_gbps_for(x.numel());
  state.counters["pct_triad"] =
      benchmark::Counter(triad > 0 ? bytes / 1e9 / triad * 100 : 0, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

void register_pool_benchmarks() {
  for (const PoolLayer& l : kLayers)
    for (bool backward : {false, true})
      benchmark::RegisterBenchmark(("pool/" + l.name + (backward ? "/backward" : "/forward")).c_str(), bm_pool, l,
                                   backward)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
}

}  // namespace duet::bench
