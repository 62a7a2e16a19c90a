// Convolution benchmarks: every conv layer of the fashion-lenet (batch 64) and
// fashion-resnet (batch 128) workloads (conv_layers.h), forward, input gradient (dgrad) and weight
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
#include "bench/conv_layers.h"
#include "kernels/cpu/conv_backend.h"
#include "kernels/cpu/conv_winograd.h"

namespace duet::bench {
namespace {

// Selects a convolution backend (and duet's Winograd on or off) for one benchmark and
// restores the defaults afterwards.
struct UseConvBackend {
  UseConvBackend(cpu::ConvBackend b, bool winograd) : winograd_(winograd) { cpu::set_conv_backend(b); }
  ~UseConvBackend() { cpu::set_conv_backend(cpu::ConvBackend::Duet); }
  cpu::ConvWinogradScope winograd_;
};

void bm_conv(benchmark::State& state, ConvLayer l, cpu::ConvPass pass, cpu::ConvBackend backend, bool winograd) {
  if (!cpu::conv_backend_available(backend)) {
    state.SkipWithError("this build has no oneDNN (install libdnnl-dev and configure with DUET_ONEDNN=AUTO or ON)");
    return;
  }
  settle_pools(backend == cpu::ConvBackend::OneDNN ? PoolOwner::OneDnn : PoolOwner::Duet);
  const UseConvBackend use(backend, winograd);
  const ConvLayerOperands ops(l, Device::cpu());
  ops.call(pass);  // warm-up
  for (auto _ : state) benchmark::DoNotOptimize(ops.call(pass));
  const double flops = ops.flops();
  const double peak = gemm_peak_gflops();
  state.counters["GFLOPS"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["pct_peak"] =
      benchmark::Counter(peak > 0 ? flops / 1e9 / peak * 100 : 0, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

void register_conv_benchmarks() {
  for (const ConvLayer& l : kConvLayers)
    for (cpu::ConvPass p : {cpu::ConvPass::Forward, cpu::ConvPass::InputGrad, cpu::ConvPass::WeightGrad})
      for (const char* variant : {"duet", "duet_direct", "onednn"}) {
        const bool onednn = std::string(variant) == "onednn";
        if (std::string(variant) == "duet_direct" && (l.K != 3 || l.stride != 1)) continue;
        benchmark::RegisterBenchmark(("conv/" + l.name + "/" + conv_pass_name(p) + "/" + variant).c_str(), bm_conv, l, p,
                                     onednn ? cpu::ConvBackend::OneDNN : cpu::ConvBackend::Duet,
                                     std::string(variant) != "duet_direct")
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
}

}  // namespace duet::bench
