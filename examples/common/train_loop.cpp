// The shared training loop: data, the workload's model and optimizer, the step (one
// function, run eagerly or compiled), the measurements, and evaluation.
#include "examples/common/train_loop.h"

#include <algorithm>

#include "autograd/autograd.h"
#include "core/dispatch.h"
#include "core/parallel.h"
#include "data/dataloader.h"
#include "data/fashion_mnist.h"
#include "examples/common/metrics.h"
#include "graph/compile.h"
#include "nn/nn.h"

namespace duet::workloads {
namespace {

// Images [N, 784] as the model reads them, [N, example_shape...]: a view, or the tensor
// itself when the shapes already agree.
Tensor as_model_input(const Tensor& images, const Shape& example_shape) {
  Shape shape{images.size(0)};
  shape.insert(shape.end(), example_shape.begin(), example_shape.end());
  return images.sizes() == shape ? images : images.reshape(shape);
}


double evaluate(nn::Module& model, const data::FashionMnist& test, const Shape& example_shape, Device dev) {
  NoGradGuard no_grad;
  model.eval();
  int64_t n = test.size(), correct = 0;
  for (int64_t start = 0; start < n; start += 1000) {
    int64_t len = std::min<int64_t>(1000, n - start);
    Tensor logits = model.forward(as_model_input(test.images().narrow(0, start, len), example_shape).to(dev));
    Tensor hit = eq(argmax(logits, 1), test.labels().narrow(0, start, len).to(dev));
    correct += sum(hit).item<int64_t>();
  }
  model.train();
  return n == 0 ? 0 : double(correct) / double(n);
}

}  // namespace

TrainResult run_workload(const WorkloadSpec& spec, const TrainConfig& config, const StepCallback& on_step) {
  check_config(config, spec.name);
  if (spec.run) return spec.run(spec, config, on_step);
  if (config.threads > 0) set_num_threads(config.threads);
  TrainResult r;
  r.workload = spec.name;
  r.config = config;
  r.threads = get_num_threads();

  data::FashionMnist train(data::FashionMnist::Split::Train, {.root = config.data_dir, .limit = config.limit});
  data::FashionMnist test(data::FashionMnist::Split::Test, {.root = config.data_dir, .limit = config.limit});
  const Device dev = Device::parse(config.device);
  manual_seed(config.seed);
  std::shared_ptr<nn::Module> model = spec.make_model();  // on the CPU: every device starts from the same weights
  model->to(dev);
  std::unique_ptr<optim::Optimizer> opt = spec.make_optimizer(model->parameters(), config.lr);
  data::DataLoader loader(train, {.batch_size = config.batch, .shuffle = true, .seed = config.seed});

  // The training step, written once; graph mode compiles the very same function.
  auto train_step = [&](const std::vector<Tensor>& in) {
    Tensor loss = nn::functional::cross_entropy(model->forward(in[0]), in[1]);
    loss.backward();
    opt->step();
    opt->zero_grad();
    return std::vector<Tensor>{loss};
  };
  graph::CompiledFunction compiled = graph::compile(train_step, compile_options(config));
  const bool graph_mode = config.mode == "graph";

  const bool limited = config.max_steps > 0;
  int64_t total_steps = int64_t(config.epochs) * loader.size();
  if (limited) total_steps = std::min(total_steps, config.max_steps);

  // Memory is reported for the steady state (from the third step on, after graph mode's
  // warm-up and capture) above what is live before training (data, model): the same rule
  // for both modes.
  const int64_t baseline_bytes = memory_stats(dev).current_bytes;
  int64_t global_step = 0, launches_from = 0;
  auto train_start = Clock::now();
  int64_t samples = 0;
  double curve_loss = 0;
  for (int epoch = 0; epoch < config.epochs && !(limited && global_step >= config.max_steps); ++epoch) {
    auto epoch_start = Clock::now();
    double epoch_loss = 0;
    int64_t step = 0;
    for (auto& batch : loader) {
      if (limited && global_step >= config.max_steps) break;
      if (spec.lr_at_step) {
        double lr = spec.lr_at_step(config.lr, global_step, total_steps);
        if (lr != opt->lr()) opt->set_lr(lr);
      }
      auto t0 = Clock::now();
      // Batches are gathered on the CPU and copied over, as a PyTorch DataLoader does.
      std::vector<Tensor> in{as_model_input(batch.data, spec.example_shape).to(dev), batch.target.to(dev)};
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
      if (global_step % TrainResult::kLossCurveEvery == 0) {
        r.loss_curve.emplace_back(ms_since(train_start) / 1e3, curve_loss / TrainResult::kLossCurveEvery);
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
  r.test_accuracy = evaluate(*model, test, spec.example_shape, dev);
  if (graph_mode) record_compile(r, compiled);
  r.peak_rss_bytes = peak_rss_bytes();
  return r;
}

graph::CompileOptions compile_options(const TrainConfig& config) {
  graph::CompileOptions o;
  o.recompute_convolutions = config.recompute_convs ? graph::ConvRecompute::WhenSmaller : graph::ConvRecompute::Off;
  o.recompute_activations = config.recompute_activations;
  return o;
}

void record_compile(TrainResult& r, const graph::CompiledFunction& compiled) {
  if (compiled.captures() == 0) return;
  const graph::CompileReport& report = compiled.report();
  r.compile_report = report.str();
  r.compile_ms = report.capture_ms + report.compile_ms;
  r.arena_bytes = report.arena_bytes;
  r.lower_bound_bytes = report.lower_bound_bytes;
}

}  // namespace duet::workloads
