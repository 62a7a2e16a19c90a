// The oneDNN backend of the CPU convolution kernels (DUET_CONV=onednn, conv_backend.h):
// conv2d forward (with bias), input gradient (conv2d_input_grad, oneDNN's backward data)
// and weight gradient (conv2d_weight_grad, backward weights) on oneDNN's direct
// convolution, for NCHW float32 with any stride, padding, dilation and groups. Built only
// with oneDNN (cmake option DUET_ONEDNN, DUET_HAVE_ONEDNN); the vendor reference that duet's
// own kernels (conv.cpp) are measured against, as OpenBLAS and Eigen are for the GEMM.
//
// Mapping. Weights [OC, C/g, KH, KW] are oneDNN's oihw, or goihw [g, OC/g, C/g, KH, KW]
// (the same bytes) with groups. oneDNN's dilation counts the skipped elements: duet's
// dilation - 1. Padding is symmetric (pad_r = pad_l), which gives oneDNN's output size the
// same floor as Window2d::out_size. Each primitive is created with format_tag::any, so
// oneDNN picks its blocked layouts (nChw16c, OIhw16i16o, ...); duet's plain tensors are
// reordered into them and the result back, and those reorders are part of every call (and
// of every timing below).
//
// Not run here (conv_backend.cpp sends them to duet's kernel, whatever DUET_CONV says):
// float64, because oneDNN 2.x has no f64 data type (memory::data_type stops at f32 in
// 2.6.3); and calls with an empty operand (C = 0, OC = 0, N = 0 in the weight gradient),
// whose zero or bias-filled results duet's kernel already writes.
//
// Strided inputs are copied to contiguous buffers first. The output is the kernel layer's
// contiguous result.
//
// Plans. The first primitive oneDNN creates costs about 7 ms (its CPU detection and JIT
// start-up); later ones 0.1-0.3 ms each (primitive descriptor, primitive, reorders), less
// where oneDNN's own primitive cache still holds the primitive. Measured with one thread,
// median of 9 calls, plan kept against plan made in each call: lenet_conv1 forward 0.47 /
// 0.50 ms, lenet_conv2 forward 0.22 / 0.23 ms, resnet_s3_3x3 forward 2.8 / 3.5 ms, i.e.
// 3-25% of a call. So each pass's plan is kept by (pass, shapes, geometry, bias, thread
// count) in a small map (at most kMaxPlans, then cleared). Primitives run with a user
// scratchpad allocated per call, so one plan runs on several threads at once.
//
// Threads. Debian's libdnnl is built with the OpenMP runtime (DNNL_CPU_RUNTIME OMP,
// libgomp): it runs on its own OpenMP team, not duet's pool, with omp_get_max_threads()
// threads. Before it creates or runs a primitive, this file sets the calling thread's
// OpenMP thread count to duet's (get_num_threads(), 1 inside a duet parallel region),
// so DUET_NUM_THREADS / set_num_threads govern oneDNN too; the thread count is part of the
// plan key because oneDNN's JIT kernels fix their partitioning at creation. The two pools
// never run at once, but each one's idle workers spin briefly after a call (libgomp's
// GOMP_SPINCOUNT, duet's pool), so alternating duet and oneDNN ops on few cores pays for it
// (bench/bench_common.h Note [Idle pools]).
//
// Measured 2026-12-07 on the shared 2-core VM (Xeon, AVX-512; duet_bench's start-up zmm
// peak read 138 GFLOP/s under the other sessions' load, 337 when quiet), 2 threads, medians
// of 5 interleaved repetitions, ms per call (reorders included); ratio = duet / onednn, so
// above 1 oneDNN is faster:
//   build-onednn/bench/duet_bench --benchmark_filter=conv/ --benchmark_repetitions=5
//     --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
//   layer           pass        duet  onednn  ratio
//   lenet_conv1     forward     1.95    1.10   1.78
//   lenet_conv1     dgrad       1.08   17.40   0.06
//   lenet_conv1     wgrad       3.54    2.62   1.35
//   lenet_conv2     forward     2.59    5.32   0.49
//   lenet_conv2     dgrad       2.01    1.66   1.21
//   lenet_conv2     wgrad       2.82    1.94   1.46
//   resnet_stem     forward     2.75    2.35   1.17
//   resnet_stem     dgrad       1.76   26.15   0.07
//   resnet_stem     wgrad       4.73    5.90   0.80
//   resnet_s1_3x3   forward    28.73   25.82   1.11
//   resnet_s1_3x3   dgrad      13.02   34.07   0.38
//   resnet_s1_3x3   wgrad      31.33   20.07   1.56
//   resnet_s2_down  forward    10.05    4.62   2.17
//   resnet_s2_down  dgrad       8.64   12.92   0.67
//   resnet_s2_down  wgrad       9.85   18.60   0.53
//   resnet_s2_3x3   forward    18.99   14.59   1.30
//   resnet_s2_3x3   dgrad      12.64   32.02   0.39
//   resnet_s2_3x3   wgrad      17.81   13.52   1.32
//   resnet_s2_1x1   forward     1.37    3.27   0.42
//   resnet_s2_1x1   dgrad       2.33    6.64   0.35
//   resnet_s2_1x1   wgrad       1.94    4.98   0.39
//   resnet_s3_down  forward     7.70   32.53   0.24
//   resnet_s3_down  dgrad       8.31    9.28   0.90
//   resnet_s3_down  wgrad       6.47   35.50   0.18
//   resnet_s3_3x3   forward    15.20   15.17   1.00
//   resnet_s3_3x3   dgrad       9.76    8.07   1.21
//   resnet_s3_3x3   wgrad      12.20   28.33   0.43
//   resnet_s3_1x1   forward     1.16    3.64   0.32
//   resnet_s3_1x1   dgrad       1.68    7.56   0.22
//   resnet_s3_1x1   wgrad       1.07   19.44   0.06
// The machine's load average was 4-6 during the run: oneDNN's rows varied by 40-190%
// (coefficient of variation) against duet's 10-45%. The likely cause: an OpenMP team
// barrier stalls whenever one of its two threads is descheduled; ONEDNN_VERBOSE=1 showed
// single test convolutions of 0.02 ms taking 12-16 ms, a scheduler slice, under that load.
// So the 2-thread oneDNN figures are pessimistic; the 1-thread comparison below is steadier.
// The same with DUET_NUM_THREADS=1 (one OpenMP thread, no team barrier; run beside a
// niced -j2 build, cv 3-64%, mostly 15-35%):
//   layer           pass        duet  onednn  ratio
//   lenet_conv1     forward     3.36    0.92   3.64
//   lenet_conv1     dgrad       1.49    7.26   0.21
//   lenet_conv1     wgrad       4.42    0.90   4.91
//   lenet_conv2     forward     2.77    0.52   5.38
//   lenet_conv2     dgrad       2.28    1.05   2.17
//   lenet_conv2     wgrad       3.30    1.01   3.26
//   resnet_stem     forward     2.79    1.64   1.69
//   resnet_stem     dgrad       2.01   11.26   0.18
//   resnet_stem     wgrad       4.27    1.83   2.34
//   resnet_s1_3x3   forward    33.89   16.63   2.04
//   resnet_s1_3x3   dgrad      23.91   17.67   1.35
//   resnet_s1_3x3   wgrad      36.69   22.83   1.61
//   resnet_s2_down  forward    12.48    4.12   3.03
//   resnet_s2_down  dgrad      11.40    4.28   2.66
//   resnet_s2_down  wgrad      13.54    5.19   2.61
//   resnet_s2_3x3   forward    24.02    5.92   4.06
//   resnet_s2_3x3   dgrad      19.56    6.07   3.22
//   resnet_s2_3x3   wgrad      22.61    6.13   3.69
//   resnet_s2_1x1   forward     1.57    2.26   0.70
//   resnet_s2_1x1   dgrad       2.18    3.50   0.62
//   resnet_s2_1x1   wgrad       1.72    2.46   0.70
//   resnet_s3_down  forward     9.38    4.29   2.19
//   resnet_s3_down  dgrad       9.79    3.91   2.51
//   resnet_s3_down  wgrad      11.79    3.67   3.22
//   resnet_s3_3x3   forward    18.22    5.70   3.19
//   resnet_s3_3x3   dgrad      16.69    5.20   3.21
//   resnet_s3_3x3   wgrad      15.30    6.70   2.28
//   resnet_s3_1x1   forward     1.22    1.23   0.99
//   resnet_s3_1x1   dgrad       1.55    1.35   1.15
//   resnet_s3_1x1   wgrad       1.49    1.29   1.16
// So on one core oneDNN is 2-5x faster than duet's im2col + GEMM on the 3x3 layers of 16-64
// channels in every pass, and on LeNet's conv2; duet is faster on the input gradient of the
// one-channel layers (lenet_conv1, resnet_stem: 4-6x) and on the strided 1x1 layers
// (resnet_s2_1x1, 1.4x), about even on resnet_s3_1x1.
#ifdef DUET_HAVE_ONEDNN

#include "kernels/cpu/conv_onednn.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
#include <omp.h>
#endif

#include "core/error.h"
#include "core/ops/conv_geometry.h"
#include "core/parallel.h"

namespace duet::cpu::onednn {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;
constexpr memory::data_type kF32 = memory::data_type::f32;
constexpr size_t kMaxPlans = 256;

enum class Pass : int64_t { Forward, InputGrad, WeightGrad };
const char* op_name(Pass p) {
  return p == Pass::Forward ? "conv2d" : p == Pass::InputGrad ? "conv2d_input_grad" : "conv2d_weight_grad";
}

// What a message says about a call: the shapes and the geometry.
std::string describe(const ConvDims& d) {
  return detail::concat("input ", Shape{d.N, d.C, d.H, d.W}, ", weight ", Shape{d.OC, d.C / d.groups, d.KH, d.KW},
                        ", stride ", Shape{d.g.sh, d.g.sw}, ", padding ", Shape{d.g.ph, d.g.pw}, ", dilation ",
                        Shape{d.g.dh, d.g.dw}, ", groups ", d.groups);
}

// Duet's thread count for this call, made oneDNN's (see the header comment).
int use_duet_threads() {
  const int n = in_parallel_region() ? 1 : get_num_threads();
#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
  omp_set_num_threads(n);
#endif
  return n;
}

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

memory::desc activations(int64_t n, int64_t c, int64_t h, int64_t w, Tag tag) { return {{n, c, h, w}, kF32, tag}; }
memory::desc weights(const ConvDims& d, bool plain) {
  const int64_t G = d.groups;
  if (G == 1) return {{d.OC, d.C, d.KH, d.KW}, kF32, plain ? Tag::oihw : Tag::any};
  return {{G, d.OC / G, d.C / G, d.KH, d.KW}, kF32, plain ? Tag::goihw : Tag::any};
}

// One operand of a primitive: duet's plain layout (user), the one the primitive chose
// (inner), and the reorder between them (user -> inner for inputs, inner -> user for the
// output) when they differ.
struct Operand {
  int arg = 0;
  bool output = false;
  memory::desc user, inner;
  std::optional<dnnl::reorder> reorder;
  memory::desc reorder_scratch;
};

Operand operand(int arg, bool output, const memory::desc& user, const memory::desc& inner) {
  Operand o{arg, output, user, inner, std::nullopt, {}};
  if (user == inner) return o;
  dnnl::engine& e = cpu_engine();
  const dnnl::reorder::primitive_desc pd =
      output ? dnnl::reorder::primitive_desc(e, inner, e, user, user_scratchpad())
             : dnnl::reorder::primitive_desc(e, user, e, inner, user_scratchpad());
  o.reorder.emplace(pd);
  o.reorder_scratch = pd.scratchpad_desc();
  return o;
}

// A pass's primitive and its operands, in the order run() receives their pointers.
struct Plan {
  dnnl::primitive prim;
  memory::desc scratch;
  std::vector<Operand> operands;
};

dnnl::convolution_forward::primitive_desc forward_pd(const ConvDims& d, bool bias) {
  const memory::dims strides{d.g.sh, d.g.sw}, dilates{d.g.dh - 1, d.g.dw - 1}, pad{d.g.ph, d.g.pw};
  const memory::desc src = activations(d.N, d.C, d.H, d.W, Tag::any), wei = weights(d, false),
                     dst = activations(d.N, d.OC, d.OH, d.OW, Tag::any);
  const auto prop = dnnl::prop_kind::forward_training;
  const auto algo = dnnl::algorithm::convolution_direct;
  if (bias) {
    const memory::desc b({d.OC}, kF32, Tag::x);
    return {dnnl::convolution_forward::desc(prop, algo, src, wei, b, dst, strides, dilates, pad, pad),
            user_scratchpad(), cpu_engine()};
  }
  return {dnnl::convolution_forward::desc(prop, algo, src, wei, dst, strides, dilates, pad, pad), user_scratchpad(),
          cpu_engine()};
}

Plan make_plan(Pass pass, const ConvDims& d, bool bias) {
  const memory::dims strides{d.g.sh, d.g.sw}, dilates{d.g.dh - 1, d.g.dw - 1}, pad{d.g.ph, d.g.pw};
  const memory::desc x = activations(d.N, d.C, d.H, d.W, Tag::nchw), w = weights(d, true),
                     y = activations(d.N, d.OC, d.OH, d.OW, Tag::nchw);
  // Each backward pass picks its own layouts too: given the forward's (its weights are
  // OIhw16i16o, backward data's jit kernel wants OIhw16o16i) oneDNN falls back to its
  // reference kernel, 5-10x slower.
  const memory::desc x_any = activations(d.N, d.C, d.H, d.W, Tag::any), w_any = weights(d, false),
                     y_any = activations(d.N, d.OC, d.OH, d.OW, Tag::any);
  const auto algo = dnnl::algorithm::convolution_direct;
  Plan plan;
  const auto fwd = forward_pd(d, bias && pass == Pass::Forward);
  if (pass == Pass::Forward) {
    plan.prim = dnnl::convolution_forward(fwd);
    plan.scratch = fwd.scratchpad_desc();
    plan.operands.push_back(operand(DNNL_ARG_SRC, false, x, fwd.src_desc()));
    plan.operands.push_back(operand(DNNL_ARG_WEIGHTS, false, w, fwd.weights_desc()));
    if (bias) plan.operands.push_back(operand(DNNL_ARG_BIAS, false, fwd.bias_desc(), fwd.bias_desc()));
    plan.operands.push_back(operand(DNNL_ARG_DST, true, y, fwd.dst_desc()));
  } else if (pass == Pass::InputGrad) {
    const dnnl::convolution_backward_data::primitive_desc pd(
        dnnl::convolution_backward_data::desc(algo, x_any, w_any, y_any, strides,
                                              dilates, pad, pad),
        user_scratchpad(), cpu_engine(), fwd);
    plan.prim = dnnl::convolution_backward_data(pd);
    plan.scratch = pd.scratchpad_desc();
    plan.operands.push_back(operand(DNNL_ARG_DIFF_DST, false, y, pd.diff_dst_desc()));
    plan.operands.push_back(operand(DNNL_ARG_WEIGHTS, false, w, pd.weights_desc()));
    plan.operands.push_back(operand(DNNL_ARG_DIFF_SRC, true, x, pd.diff_src_desc()));
  } else {
    const dnnl::convolution_backward_weights::primitive_desc pd(
        dnnl::convolution_backward_weights::desc(algo, x_any, w_any, y_any, strides,
                                                 dilates, pad, pad),
        user_scratchpad(), cpu_engine(), fwd);
    plan.prim = dnnl::convolution_backward_weights(pd);
    plan.scratch = pd.scratchpad_desc();
    plan.operands.push_back(operand(DNNL_ARG_DIFF_DST, false, y, pd.diff_dst_desc()));
    plan.operands.push_back(operand(DNNL_ARG_SRC, false, x, pd.src_desc()));
    plan.operands.push_back(operand(DNNL_ARG_DIFF_WEIGHTS, true, w, pd.diff_weights_desc()));
  }
  return plan;
}

// Plans by (pass, geometry, bias, threads).
using Key = std::array<int64_t, 19>;
std::mutex g_mu;
std::map<Key, std::shared_ptr<const Plan>> g_plans;

std::shared_ptr<const Plan> plan_for(Pass pass, const ConvDims& d, bool bias, int threads) {
  const Key key{int64_t(pass), d.N, d.C, d.H, d.W, d.OC, d.KH, d.KW, d.g.sh, d.g.sw, d.g.ph, d.g.pw, d.g.dh,
                d.g.dw, d.groups, bias, threads, d.OH, d.OW};
  {
    std::lock_guard<std::mutex> lock(g_mu);
    if (auto it = g_plans.find(key); it != g_plans.end()) return it->second;
  }
  std::shared_ptr<const Plan> plan;
  try {
    plan = std::make_shared<const Plan>(make_plan(pass, d, bias));
  } catch (const dnnl::error& e) {
    DUET_FAIL(op_name(pass), " (onednn backend): oneDNN cannot create the convolution for ", describe(d), ": ",
              e.what(), " (select duet's kernels with DUET_CONV=duet)");
  }
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_plans.size() >= kMaxPlans) g_plans.clear();
  return g_plans.emplace(key, plan).first->second;
}

// A tensor's elements in row-major order: its own buffer when contiguous, else a copy.
const float* dense(const Tensor& t, std::vector<float>& copy) {
  if (t.is_contiguous()) return t.data<float>();
  const Shape& z = t.sizes();
  const int64_t nd = t.dim();
  copy.resize(size_t(t.numel()));
  std::vector<int64_t> idx(size_t(nd), 0);
  const float* src = t.data<float>();
  for (float& v : copy) {
    int64_t off = 0;
    for (int64_t k = 0; k < nd; ++k) off += idx[size_t(k)] * t.stride(k);
    v = src[off];
    for (int64_t k = nd - 1; k >= 0 && ++idx[size_t(k)] == z[size_t(k)]; --k) idx[size_t(k)] = 0;
  }
  return copy.data();
}

// Runs a plan on duet's buffers (one pointer per operand, in the plan's order).
void run(Pass pass, const ConvDims& d, const Plan& plan, const std::vector<void*>& ptrs) {
  DUET_ASSERT(ptrs.size() == plan.operands.size(), op_name(pass), ": ", ptrs.size(), " buffers for ",
              plan.operands.size(), " operands");
  dnnl::engine& e = cpu_engine();
  try {
    dnnl::stream s(e);
    auto reorder = [&](const Operand& o, const memory& from, const memory& to) {
      std::unordered_map<int, memory> args{{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
      if (o.reorder_scratch.get_size() > 0) args.emplace(DNNL_ARG_SCRATCHPAD, memory(o.reorder_scratch, e));
      o.reorder->execute(s, args);
    };
    std::unordered_map<int, memory> args;
    std::vector<std::pair<const Operand*, memory>> results;  // (output operand, its inner memory)
    for (size_t i = 0; i < ptrs.size(); ++i) {
      const Operand& o = plan.operands[i];
      memory user(o.user, e, ptrs[i]);
      if (!o.reorder) {
        args.emplace(o.arg, user);
        continue;
      }
      memory inner(o.inner, e);
      if (o.output) results.emplace_back(&o, inner);
      else reorder(o, user, inner);
      args.emplace(o.arg, inner);
    }
    if (plan.scratch.get_size() > 0) args.emplace(DNNL_ARG_SCRATCHPAD, memory(plan.scratch, e));
    plan.prim.execute(s, args);
    for (auto& [o, inner] : results) reorder(*o, inner, memory(o->user, e, ptrs[size_t(o - plan.operands.data())]));
    s.wait();
  } catch (const dnnl::error& err) {
    DUET_FAIL(op_name(pass), " (onednn backend): oneDNN failed to run the convolution for ", describe(d), ": ",
              err.what());
  }
}

void* mut(const float* p) { return const_cast<float*>(p); }  // oneDNN takes void* handles; inputs are only read

}  // namespace

bool takes(std::span<const Tensor> inputs, const Tensor& out) {
  if (out.dtype() != DType::Float32) return false;
  for (const Tensor& t : inputs)
    if (t.numel() == 0) return false;
  return true;
}

void conv2d(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  const ConvDims d = conv_dims(inputs[0].sizes(), inputs[1].sizes(), attrs);
  const bool bias = inputs.size() == 3;
  const int threads = use_duet_threads();
  const auto plan = plan_for(Pass::Forward, d, bias, threads);
  std::vector<float> xc, wc, bc;
  std::vector<void*> ptrs{mut(dense(inputs[0], xc)), mut(dense(inputs[1], wc))};
  if (bias) ptrs.push_back(mut(dense(inputs[2], bc)));
  ptrs.push_back(out.data<float>());
  run(Pass::Forward, d, *plan, ptrs);
}

void conv2d_input_grad(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  const ConvDims d = conv_dims(attrs.get<std::vector<int64_t>>("input_shape"), inputs[1].sizes(), attrs);
  const int threads = use_duet_threads();
  const auto plan = plan_for(Pass::InputGrad, d, false, threads);
  std::vector<float> dyc, wc;
  run(Pass::InputGrad, d, *plan, {mut(dense(inputs[0], dyc)), mut(dense(inputs[1], wc)), out.data<float>()});
}

void conv2d_weight_grad(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs) {
  const ConvDims d = conv_dims(inputs[1].sizes(), attrs.get<std::vector<int64_t>>("weight_shape"), attrs);
  const int threads = use_duet_threads();
  const auto plan = plan_for(Pass::WeightGrad, d, false, threads);
  std::vector<float> dyc, xc;
  run(Pass::WeightGrad, d, *plan, {mut(dense(inputs[0], dyc)), mut(dense(inputs[1], xc)), out.data<float>()});
}

size_t cached_plans() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_plans.size();
}

void clear_cache() {
  std::lock_guard<std::mutex> lock(g_mu);
  g_plans.clear();
}

}  // namespace duet::cpu::onednn

#endif  // DUET_HAVE_ONEDNN
