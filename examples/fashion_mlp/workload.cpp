// The fashion-mlp workload: data, model, optimiser, training loop and evaluation.
#include "examples/fashion_mlp/workload.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <sstream>

#include "autograd/autograd.h"
#include "core/dispatch.h"
#include "core/parallel.h"
#include "data/dataloader.h"
#include "data/fashion_mnist.h"
#include "graph/compile.h"
#include "kernels/cuda/cuda_api.h"
#include "nn/nn.h"
#include "optim/adam.h"

namespace duet::workloads {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

int64_t peak_rss_bytes() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return int64_t(ru.ru_maxrss) * 1024;  // Linux reports KiB
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  double pos = q * double(v.size() - 1);
  size_t lo = size_t(pos);
  size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - double(lo));
}

std::shared_ptr<nn::Sequential> make_model() {
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(784, 256), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(256, 128),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(128, 10)});
}

double evaluate(nn::Module& model, const data::FashionMnist& test, Device dev) {
  NoGradGuard no_grad;
  model.eval();
  int64_t n = test.size(), correct = 0;
  for (int64_t start = 0; start < n; start += 1000) {
    int64_t len = std::min<int64_t>(1000, n - start);
    Tensor logits = model.forward(test.images().narrow(0, start, len).to(dev));
    Tensor hit = eq(argmax(logits, 1), test.labels().narrow(0, start, len).to(dev));
    correct += sum(hit).item<int64_t>();
  }
  model.train();
  return n == 0 ? 0 : double(correct) / double(n);
}

void check_threads(int threads) {
  DUET_CHECK(threads >= 0 && threads <= max_num_threads(), "fashion_mlp: --threads must be in [0, ", max_num_threads(),
             "] (0: all cores; at most 4 per hardware thread), got ", threads);
}

void check_config(const FashionMlpConfig& c) {
  DUET_CHECK(c.mode == "eager" || c.mode == "graph", "fashion_mlp: --mode must be eager or graph, got '", c.mode, "'");
  Device dev = Device::parse(c.device);
  if (!dev.is_cpu())  // names the reason: a build without CUDA, no device, an index out of range
    DUET_CHECK(cuda::device_count() > dev.index, "fashion_mlp: --device ", c.device, " is not usable: ",
               cuda::device_count() > 0 ? "this machine has " + std::to_string(cuda::device_count()) + " CUDA device(s)"
                                        : cuda::unavailable_reason(), "; use --device cpu");
  DUET_CHECK(c.epochs >= 1, "fashion_mlp: --epochs must be >= 1, got ", c.epochs);
  DUET_CHECK(c.batch >= 1, "fashion_mlp: --batch must be >= 1, got ", c.batch);
  DUET_CHECK(c.lr > 0, "fashion_mlp: --lr must be positive, got ", c.lr);
  check_threads(c.threads);
  DUET_CHECK(c.max_steps >= 0, "fashion_mlp: --steps must be >= 0, got ", c.max_steps);
}

}  // namespace

FashionMlpResult run_fashion_mlp(const FashionMlpConfig& config, const StepCallback& on_step) {
  check_config(config);
  if (config.threads > 0) set_num_threads(config.threads);
  FashionMlpResult r;
  r.config = config;
  r.threads = get_num_threads();

  data::FashionMnist train(data::FashionMnist::Split::Train, {.root = config.data_dir, .limit = config.limit});
  data::FashionMnist test(data::FashionMnist::Split::Test, {.root = config.data_dir, .limit = config.limit});
  const Device dev = Device::parse(config.device);
  manual_seed(config.seed);
  auto model = make_model();  // initialised on the CPU, so every device starts from the same weights
  model->to(dev);
  optim::Adam opt(model->parameters(), config.lr);
  data::DataLoader loader(train, {.batch_size = config.batch, .shuffle = true, .seed = config.seed});

  // The training step, written once; graph mode compiles the very same function.
  auto train_step = [&](const std::vector<Tensor>& in) {
    Tensor loss = nn::functional::cross_entropy(model->forward(in[0]), in[1]);
    loss.backward();
    opt.step();
    opt.zero_grad();
    return std::vector<Tensor>{loss};
  };
  graph::CompiledFunction compiled = graph::compile(train_step);
  const bool graph_mode = config.mode == "graph";

  // Memory is reported for the steady state (from the third step on, after graph mode's
  // warm-up and capture) above what is live before training (data, model): the same rule
  // for both modes.
  const int64_t baseline_bytes = memory_stats(dev).current_bytes;
  int64_t global_step = 0, launches_from = 0;
  auto train_start = Clock::now();
  int64_t samples = 0;
  double curve_loss = 0;
  const bool limited = config.max_steps > 0;
  for (int epoch = 0; epoch < config.epochs && !(limited && global_step >= config.max_steps); ++epoch) {
    auto epoch_start = Clock::now();
    double epoch_loss = 0;
    int64_t step = 0;
    for (auto& batch : loader) {
      if (limited && global_step >= config.max_steps) break;
      auto t0 = Clock::now();
      // Batches are gathered on the CPU and copied over, as a PyTorch DataLoader does.
      std::vector<Tensor> in{batch.data.to(dev), batch.target.to(dev)};
      Tensor loss = graph_mode ? compiled(in)[0] : train_step(in)[0];
      double loss_value = loss.item<double>();
      if (++global_step == 2) {
        reset_peak_memory(dev);
        launches_from = kernel_launches();
      }
      r.step_ms.push_back(ms_since(t0));
      r.step_losses.push_back(loss_value);
      epoch_loss += loss_value;
      curve_loss += loss_value;
      if (global_step % FashionMlpResult::kLossCurveEvery == 0) {
        r.loss_curve.emplace_back(ms_since(train_start) / 1e3, curve_loss / FashionMlpResult::kLossCurveEvery);
        curve_loss = 0;
      }
      samples += batch.data.size(0);
      ++step;
      if (on_step) on_step(epoch, step, loader.size(), loss_value, double(samples) / (ms_since(train_start) / 1e3));
    }
    r.epoch_seconds.push_back(ms_since(epoch_start) / 1e3);
    r.final_train_loss = step ? epoch_loss / double(step) : 0;
  }
  if (global_step > 2) r.kernel_launches_per_step = double(kernel_launches() - launches_from) / double(global_step - 2);
  double train_seconds = ms_since(train_start) / 1e3;
  MemoryStats mem = memory_stats(dev);
  r.peak_allocator_bytes = mem.peak_bytes - baseline_bytes;
  r.allocations = mem.allocations;
  r.samples_per_second = double(samples) / train_seconds;
  r.step_ms_median = percentile(r.step_ms, 0.5);
  r.step_ms_p90 = percentile(r.step_ms, 0.9);
  r.test_accuracy = evaluate(*model, test, dev);
  if (graph_mode) {
    r.compile_report = compiled.report().str();
    r.compile_ms = compiled.report().capture_ms + compiled.report().compile_ms;
    r.arena_bytes = compiled.report().arena_bytes;
    r.lower_bound_bytes = compiled.report().lower_bound_bytes;
  }
  r.peak_rss_bytes = peak_rss_bytes();
  return r;
}

std::string to_json(const FashionMlpResult& r) {
  std::ostringstream os;
  os.precision(10);
  auto list = [&](const std::vector<double>& v) {
    os << '[';
    for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
    os << ']';
  };
  os << "{\"workload\": \"" << r.workload << "\", \"framework\": \"duet\", \"mode\": \"" << r.config.mode << "\", \"device\": \""
     << r.config.device << "\", \"threads\": " << r.threads << ", \"batch\": " << r.config.batch
     << ", \"epochs\": " << r.config.epochs << ", \"epoch_seconds\": ";
  list(r.epoch_seconds);
  os << ", \"step_ms_median\": " << r.step_ms_median << ", \"step_ms_p90\": " << r.step_ms_p90
     << ", \"samples_per_second\": " << r.samples_per_second << ", \"test_accuracy\": " << r.test_accuracy
     << ", \"final_train_loss\": " << r.final_train_loss << ", \"peak_rss_bytes\": " << r.peak_rss_bytes
     << ", \"peak_allocator_bytes\": " << r.peak_allocator_bytes << ", \"allocations\": " << r.allocations
     << ", \"compile_ms\": " << r.compile_ms << ", \"arena_bytes\": " << r.arena_bytes
     << ", \"lower_bound_bytes\": " << r.lower_bound_bytes << ", \"compile_seconds\": " << r.compile_ms / 1e3
     << ", \"kernel_launches\": " << r.kernel_launches_per_step << ", \"seed\": " << r.config.seed
     << ", \"loss_curve\": [";
  for (size_t i = 0; i < r.loss_curve.size(); ++i)
    os << (i ? ", " : "") << "[" << r.loss_curve[i].first << ", " << r.loss_curve[i].second << "]";
  os << "]}";
  return os.str();
}

bool apply_config_flag(FashionMlpConfig& c, const std::string& flag, const std::string& v) {
  try {
    if (flag == "--mode") c.mode = v;
    else if (flag == "--device") c.device = v;
    else if (flag == "--epochs") c.epochs = std::stoi(v);
    else if (flag == "--steps") c.max_steps = std::stoll(v);
    else if (flag == "--batch") c.batch = std::stoll(v);
    else if (flag == "--lr") c.lr = std::stod(v);
    else if (flag == "--threads") {
      c.threads = std::stoi(v);
      check_threads(c.threads);  // refused while parsing, before anything else runs
    } else if (flag == "--data") c.data_dir = v;
    else if (flag == "--limit") c.limit = std::stoll(v);
    else if (flag == "--seed") c.seed = std::stoull(v);
    else return false;
  } catch (const std::logic_error&) {  // stoi and friends
    DUET_FAIL(flag, " got '", v, "', which is not a valid number");
  }
  return true;
}

}  // namespace duet::workloads
