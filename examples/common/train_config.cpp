// The checks of TrainConfig: each error names the flag, the value and what is allowed.
#include "examples/common/train_config.h"

#include "core/device.h"
#include "core/error.h"
#include "core/parallel.h"
#include "kernels/cuda/cuda_api.h"

namespace duet::workloads {

void check_threads(int threads, const std::string& who) {
  DUET_CHECK(threads >= 0 && threads <= max_num_threads(), who, ": --threads must be in [0, ", max_num_threads(),
             "] (0: all cores; at most 4 per hardware thread), got ", threads);
}

void check_config(const TrainConfig& c, const std::string& who) {
  DUET_CHECK(c.mode == "eager" || c.mode == "graph", who, ": --mode must be eager or graph, got '", c.mode, "'");
  Device dev = Device::parse(c.device);
  if (!dev.is_cpu())  // names the reason: a build without CUDA, no device, an index out of range
    DUET_CHECK(cuda::device_count() > dev.index, who, ": --device ", c.device, " is not usable: ",
               cuda::device_count() > 0 ? "this machine has " + std::to_string(cuda::device_count()) + " CUDA device(s)"
                                        : cuda::unavailable_reason(), "; use --device cpu");
  DUET_CHECK(c.epochs >= 1, who, ": --epochs must be >= 1, got ", c.epochs);
  DUET_CHECK(c.batch >= 1, who, ": --batch must be >= 1, got ", c.batch);
  DUET_CHECK(c.lr > 0, who, ": --lr must be positive, got ", c.lr);
  check_threads(c.threads, who);
  DUET_CHECK(c.max_steps >= 0, who, ": --steps must be >= 0, got ", c.max_steps);
  DUET_CHECK(c.eval_every >= 0 && c.eval_batches >= 0, who, ": --eval-every and --eval-batches must be >= 0, got ",
             c.eval_every, " and ", c.eval_batches);
  DUET_CHECK(!c.recompute_convs || c.mode == "graph", who,
             ": --recompute-convs is a graph-mode compile option (eager mode keeps what autograd saves); use --mode graph");
  DUET_CHECK(!c.recompute_activations || c.mode == "graph", who,
             ": --recompute-activations is a graph-mode compile option (eager mode keeps what autograd saves); use "
             "--mode graph");
}

}  // namespace duet::workloads
