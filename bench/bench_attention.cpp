// Attention benchmarks: causal self-attention forward + backward through
// nn::functional::scaled_dot_product_attention, the composite (matmul, mask, softmax,
// matmul: the [T, T] scores in memory) against the fused attention op (flash-attention
// style, kernels/cpu/attention.cpp), float32, one sequence of 4 heads, head dim 32 or 64,
// T = 64 (char-gpt's context) to 1024. Counters: peak_MB, the allocator's peak bytes
// above what was live before the call (inputs excluded), which grows as T^2 for the
// composite and as T for the fused op.
// Names: attention/T<t>/E<e>/<composite|fused>.
//   duet_bench --benchmark_filter=attention/ --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include <string>

#include "autograd/autograd.h"
#include "bench/bench_common.h"
#include "core/allocator.h"
#include "core/functions.h"
#include "core/generator.h"
#include "nn/functional.h"

namespace duet::bench {
namespace {

namespace F = nn::functional;

void bm_attention(benchmark::State& state, int64_t T, int64_t E, F::AttentionImpl impl) {
  settle_pools(PoolOwner::Duet);
  F::set_attention_impl(impl);
  manual_seed(0);
  const int64_t H = 4;
  const Tensor q = randn({1, H, T, E}).requires_grad_(true), k = randn({1, H, T, E}).requires_grad_(true),
               v = randn({1, H, T, E}).requires_grad_(true);
  const Tensor dout = randn({1, H, T, E});
  F::AttentionOptions o;
  o.causal = true;
  auto step = [&] {
    const Tensor out = F::scaled_dot_product_attention(q, k, v, o);
    out.backward(dout);
    for (const Tensor* t : {&q, &k, &v}) t->set_grad(Tensor());
  };
  step();  // warm-up
  const int64_t before = memory_stats().current_bytes;
  reset_peak_memory();
  step();
  const double peak = double(memory_stats().peak_bytes - before);
  for (auto _ : state) step();
  F::set_attention_impl(F::AttentionImpl::Auto);
  state.counters["peak_MB"] = peak / 1e6;
}

}  // namespace

void register_attention_benchmarks() {
  for (int64_t T : {64, 256, 1024})
    for (int64_t E : {32, 64})
      for (auto [impl, name] : {std::pair{F::AttentionImpl::Composite, "composite"}, std::pair{F::AttentionImpl::Fused, "fused"}})
        benchmark::RegisterBenchmark(
            ("attention/T" + std::to_string(T) + "/E" + std::to_string(E) + "/" + name).c_str(), bm_attention, T, E,
            impl)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
}

}  // namespace duet::bench
