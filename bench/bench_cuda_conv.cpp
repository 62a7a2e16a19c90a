// duet_cuda_bench: the convolution layers of fashion-lenet and fashion-resnet (conv_layers.h)
// on CUDA, forward, input gradient (dgrad) and weight gradient (wgrad) each, float32,
// through the ops' CUDA kernels: duet's (kernels/cuda/conv.cu) and cuDNN's (DUET_CONV=cudnn,
// kernels/cuda/cudnn_conv.cpp; FMA math, no TF32, the first deterministic algorithm).
// Timing: cudaEvents on duet's stream around a batch of calls sized to about 20 ms from a
// warm-up timing; manual time per call. Counter GFLOPs = 2 N OC OH OW C KH KW / time.
// Without a GPU every benchmark stops with SkipWithError("no CUDA device: ...").
// Names: cuda_conv/<workload>_<layer>/<pass>/<duet|cudnn>.
//   duet_cuda_bench --benchmark_filter=cuda_conv/
#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>

#include "bench/conv_layers.h"
#include "bench/cuda_bench_common.h"
#include "kernels/cpu/conv_backend.h"

namespace duet::bench {
namespace {

// Selects duet's or cuDNN's CUDA convolutions for one benchmark, duet's again afterwards.
struct UseCudaConvBackend {
  explicit UseCudaConvBackend(bool cudnn) { cuda::set_conv_backend(cudnn ? "cudnn" : "duet"); }
  ~UseCudaConvBackend() { cuda::set_conv_backend("duet"); }
};

void bm_cuda_conv(benchmark::State& state, ConvLayer l, cpu::ConvPass pass, bool cudnn) {
  if (!have_gpu(state)) return;
  if (cudnn && !cuda::conv_backend_available(cuda::ConvBackend::Cudnn)) {
    state.SkipWithError("this build did not find cuDNN");
    return;
  }
  const UseCudaConvBackend use(cudnn);
  cuda::DeviceGuard guard(0);
  const ConvLayerOperands ops(l, Device::cuda(0));
  auto run = [&] { ops.call(pass); };
  // Warm-up (module load, cuDNN handle and algorithm choice), then about 20 ms of calls.
  time_launches(run, 2);
  const double once = time_launches(run, 3);
  const int launches = int(std::clamp(2e-2 / std::max(once, 1e-7), 1.0, 2000.0));
  for (auto _ : state) state.SetIterationTime(time_launches(run, launches));
  state.counters["GFLOPs"] = benchmark::Counter(ops.flops() / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

const bool kRegistered = [] {
  for (const ConvLayer& l : kConvLayers)
    for (cpu::ConvPass p : {cpu::ConvPass::Forward, cpu::ConvPass::InputGrad, cpu::ConvPass::WeightGrad})
      for (bool cudnn : {false, true}) {
        const std::string name =
            "cuda_conv/" + l.name + "/" + conv_pass_name(p) + "/" + (cudnn ? "cudnn" : "duet");
        benchmark::RegisterBenchmark(name.c_str(), bm_cuda_conv, l, p, cudnn)
            ->UseManualTime()
            ->Unit(benchmark::kMicrosecond);
      }
  return true;
}();

}  // namespace
}  // namespace duet::bench
