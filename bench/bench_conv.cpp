// Convolution benchmarks: every conv layer of the fashion-lenet (batch 64) and
// fashion-resnet (batch 128) workloads, forward, input gradient (dgrad) and weight
// gradient (wgrad) each, through the ops' CPU kernels (kernels/cpu/conv.cpp), float32.
// Each row runs on duet's kernels and again on oneDNN's (the DUET_CONV backends,
// kernels/cpu/conv_backend.h; in a build without oneDNN its rows report that they skipped).
// Counters: GFLOPS (2 * N * OC * OH * OW * C / groups * KH * KW per pass) and pct_peak,
// the share of the FMA peak measured at start-up.
// Names: conv/<workload>_<layer>/<pass>/<duet|duet_direct|onednn>; duet_direct is duet with
// Winograd off (kernels/cpu/conv_winograd.h), so the layers where Winograd runs show both.
//   duet_bench --benchmark_filter=conv/ --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "core/dispatch.h"
#include "core/functions.h"
#include "core/ops/conv_geometry.h"
#include "kernels/cpu/conv_backend.h"
#include "kernels/cpu/conv_winograd.h"

namespace duet::bench {
namespace {

struct ConvLayer {
  std::string name;
  int64_t N, C, H, W, OC, K, stride, pad;
};

const std::vector<ConvLayer> kLayers = {
    {"lenet_conv1", 64, 1, 28, 28, 6, 5, 1, 2},      {"lenet_conv2", 64, 6, 14, 14, 16, 5, 1, 0},
    {"resnet_stem", 128, 1, 28, 28, 16, 3, 1, 1},    {"resnet_s1_3x3", 128, 16, 28, 28, 16, 3, 1, 1},
    {"resnet_s2_down", 128, 16, 28, 28, 32, 3, 2, 1}, {"resnet_s2_3x3", 128, 32, 14, 14, 32, 3, 1, 1},
    {"resnet_s2_1x1", 128, 16, 28, 28, 32, 1, 2, 0}, {"resnet_s3_down", 128, 32, 14, 14, 64, 3, 2, 1},
    {"resnet_s3_3x3", 128, 64, 7, 7, 64, 3, 1, 1},   {"resnet_s3_1x1", 128, 32, 14, 14, 64, 1, 2, 0},
};

enum class Pass { Forward, InputGrad, WeightGrad };
const char* pass_name(Pass p) { return p == Pass::Forward ? "forward" : p == Pass::InputGrad ? "dgrad" : "wgrad"; }

// Selects a convolution backend (and duet's Winograd on or off) for one benchmark and
// restores the defaults afterwards.
struct UseConvBackend {
  UseConvBackend(cpu::ConvBackend b, bool winograd) : winograd_(winograd) { cpu::set_conv_backend(b); }
  ~UseConvBackend() { cpu::set_conv_backend(cpu::ConvBackend::Duet); }
  cpu::ConvWinogradScope winograd_;
};

void bm_conv(benchmark::State& state, ConvLayer l, Pass pass, cpu::ConvBackend backend, bool winograd) {
  if (!cpu::conv_backend_available(backend)) {
    state.SkipWithError("this build has no oneDNN (install libdnnl-dev and configure with DUET_ONEDNN=AUTO or ON)");
    return;
  }
  settle_pools(backend == cpu::ConvBackend::OneDNN ? PoolOwner::OneDnn : PoolOwner::Duet);
  const UseConvBackend use(backend, winograd);
  const Attrs attrs = Attrs()
                          .set("stride", std::vector<int64_t>{l.stride, l.stride})
                          .set("padding", std::vector<int64_t>{l.pad, l.pad})
                          .set("dilation", std::vector<int64_t>{1, 1})
                          .set("groups", int64_t(1));
  const Window2d g = Window2d::conv(attrs, l.K, l.K);
  const int64_t OH = g.out_h(l.H), OW = g.out_w(l.W);
  Tensor x = randn({l.N, l.C, l.H, l.W}), w = randn({l.OC, l.C, l.K, l.K}), dy = randn({l.N, l.OC, OH, OW});
  Tensor b = randn({l.OC});
  auto call = [&] {
    switch (pass) {
      case Pass::Forward: return apply(OpKind::conv2d, {x, w, b}, attrs);
      case Pass::InputGrad:
        return apply(OpKind::conv2d_input_grad, {dy, w}, Attrs(attrs).set("input_shape", x.sizes()));
      default: return apply(OpKind::conv2d_weight_grad, {dy, x}, Attrs(attrs).set("weight_shape", w.sizes()));
    }
  };
  call();  // warm-up
  for (auto _ : state) benchmark::DoNotOptimize(call());
  const double flops = 2.0 * double(l.N * l.OC * OH * OW) * double(l.C * l.K * l.K);
  const double peak = gemm_peak_gflops();
  state.counters["GFLOPS"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["pct_peak"] =
      benchmark::Counter(peak > 0 ? flops / 1e9 / peak * 100 : 0, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

void register_conv_benchmarks() {
  for (const ConvLayer& l : kLayers)
    for (Pass p : {Pass::Forward, Pass::InputGrad, Pass::WeightGrad})
      for (const char* variant : {"duet", "duet_direct", "onednn"}) {
        const bool onednn = std::string(variant) == "onednn";
        if (std::string(variant) == "duet_direct" && (l.K != 3 || l.stride != 1)) continue;
        benchmark::RegisterBenchmark(("conv/" + l.name + "/" + pass_name(p) + "/" + variant).c_str(), bm_conv, l, p,
                                     onednn ? cpu::ConvBackend::OneDNN : cpu::ConvBackend::Duet,
                                     std::string(variant) != "duet_direct")
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
}

}  // namespace duet::bench
