// infer_bench: the eval-mode forward pass of a workload's model (running statistics,
// no gradients), eager and compiled with graph::compile, timed call by call.
//
//   infer_bench [--workload fashion-resnet] [--batch 128] [--calls 50] [--threads 0]
//
// Prints the median and p90 of each mode's call time, the compile report's fusion counts
// and whether the two modes' logits are bit-identical (graph mode's rule). The input is a
// fixed random batch of the workload's example shape; no data set is read.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "core/error.h"
#include "core/functions.h"
#include "core/parallel.h"
#include "core/generator.h"
#include "examples/common/command_line.h"
#include "examples/workloads/registry.h"
#include "graph/graph.h"

using namespace duet;

namespace {

struct Timing {
  double median_ms, p90_ms;
};

template <typename Call>
Timing time_calls(int calls, const Call& call) {
  std::vector<double> ms;
  for (int i = 0; i < calls; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    call();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 9 / 10)]};
}

}  // namespace

int main(int argc, char** argv) {
  try {
    CLI::App app{"infer_bench: eval-mode forward of a workload's model, eager against graph mode", "infer_bench"};
    std::string workload = "fashion-resnet";
    int64_t batch = 128;
    int calls = 50, threads = 0;
    app.add_option("--workload", workload, "the workload whose model runs")
        ->check(CLI::IsMember(workloads::workload_names()))
        ->capture_default_str();
    app.add_option("--batch", batch, "samples per call")->check(CLI::Range(1, 100000))->capture_default_str();
    app.add_option("--calls", calls, "timed calls per mode")->check(CLI::Range(1, 100000))->capture_default_str();
    app.add_option("--threads", threads, "threads (0: the default)")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    if (threads > 0) set_num_threads(threads);

    const workloads::WorkloadSpec& spec = workloads::find_workload(workload);
    manual_seed(0);
    std::shared_ptr<nn::Module> model = spec.make_model();
    model->eval();
    Shape shape{batch};
    shape.insert(shape.end(), spec.example_shape.begin(), spec.example_shape.end());
    const Tensor x = randn(shape);
    auto forward = [&](const std::vector<Tensor>& in) {
      NoGradGuard no_grad;
      return std::vector<Tensor>{model->forward(in[0])};
    };
    auto compiled = graph::compile(forward);
    const Tensor want = forward({x})[0];
    Tensor got;
    for (int i = 0; i < 3; ++i) got = compiled({x})[0];  // warm-up and capture
    const bool same = want.sizes() == got.sizes() &&
                      std::memcmp(want.contiguous().data_ptr(), got.contiguous().data_ptr(),
                                  size_t(want.numel()) * dtype_size(want.dtype())) == 0;
    const Timing eager = time_calls(calls, [&] { forward({x}); });
    const Timing graph = time_calls(calls, [&] { compiled({x}); });
    const graph::CompileReport& r = compiled.report();
    std::printf("%s eval forward, batch %lld, %d threads: eager %.3f ms median (p90 %.3f) | graph %.3f ms median "
                "(p90 %.3f) | %zu kernels | bit-identical: %s\n",
                spec.name.c_str(), static_cast<long long>(batch), get_num_threads(), eager.median_ms, eager.p90_ms,
                graph.median_ms, graph.p90_ms, r.kernels, same ? "yes" : "NO");
    std::fputs(r.str().c_str(), stdout);
    return same ? 0 : 2;
  } catch (const duet::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
