// Random programs for the differential fuzzer (tests/fuzz/fuzz_diff.h): a program is a
// setup (closure tensors, some of them views of others; parameters; an optimizer), a body
// of instructions over a list of value slots, the host actions done between calls, and
// the compile options for graph mode. The body is plain eager code: run as it is, it is
// the eager program; run under graph::compile, the same code is captured.
//
//   fuzz::Program p = fuzz::generate(1234);        // deterministic in the seed
//   std::cout << fuzz::describe(p);                // the program as readable text
//   fuzz::World w = fuzz::make_world(p);           // fresh state: closure, params, optimizer
//   auto outs = fuzz::run_body(p, w, fuzz::make_inputs(p, 0));
//
// Generation runs each candidate instruction eagerly on a scratch world and keeps it when
// it succeeds, so most programs are valid; a few keep an instruction that throws (the
// program ends there), which checks that graph mode raises where eager mode does.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "graph/compile.h"
#include "nn/layers/shape_layers.h"
#include "optim/optimizer.h"

namespace duet::fuzz {

// splitmix64: the stream every random choice of the harness comes from.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull) {}
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  int64_t uniform(int64_t lo, int64_t hi) { return lo + int64_t(next() % uint64_t(hi - lo + 1)); }  // [lo, hi]
  double real() { return double(next() >> 11) * 0x1.0p-53; }
  bool chance(double p) { return real() < p; }
  template <typename T>
  const T& pick(const std::vector<T>& v) { return v[size_t(uniform(0, int64_t(v.size()) - 1))]; }
};

// A tensor made by the harness: values from a seeded stream, then viewed as asked.
struct TensorSpec {
  Shape shape;
  DType dtype = DType::Float32;
  uint64_t seed = 0;
  int view_of = -1;            // closure: a view (slice/transposed) of an earlier closure tensor
  int view_kind = 0;           // 0: whole tensor; 1: transpose; 2: slice of dim 0; 3: select(0, 0)
  bool requires_grad = false;  // inputs only: a leaf that requires grad
  bool transposed = false;     // inputs only: passed as a transposed (non-contiguous) view
  int alias_input = -1;        // inputs only: a view (view_kind) of this earlier input
  int from_closure = -1;       // inputs only: this closure tensor itself
};

enum class OptimKind : uint8_t { None, SGD, SGDMomentum, SGDNesterov, Adam, AdamW, AdamAmsgrad, RMSprop, Adagrad };

// What the body does. Operands are slot indices (the slots start as inputs, closure
// tensors and parameters; most instructions append one).
enum class Code : uint8_t {
  Unary,          // kind(a)
  Binary,         // kind(a, b)
  BinaryScalar,   // kind(a, x) with a plain number (x * a when flag)
  Cast,           // a.to(dtype)
  Reduce,         // kind(a, ints dims, flag keepdim); argmax/argmin: ints[0] the dim;
                  // topk_indices: topk(a, k = ints[1], dim = ints[0], largest = flag).values
  Softmax,        // softmax (flag: log_softmax) over ints[0]
  Matmul,         // matmul(a, b)
  View,           // view `sub` of a with ints
  Contiguous,     // a.contiguous()
  Clone,          // a.clone()
  Detach,         // a.detach()
  InPlace,        // a.<kind>_(b): add_, sub_, mul_, div_
  InPlaceScalar,  // a.<kind>_(x)
  InPlaceUnary,   // a.neg_(), relu_(), clamp_(x, y), zero_(), fill_(x) by sub
  Copy,           // a.copy_(b)
  IndexSelect,    // index_select(a, ints[0], arange-based index ints[1..])
  Cat,            // cat({a, b}, ints[0])
  Where,          // where(a > 0, b, c)
  Factory,        // full/arange/rand/randn by sub, shape ints, value x, dtype
  Backward,       // sum(a).backward(retain_graph = flag)
  Grad,           // autograd::grad({sum(a)}, {b}) -> the gradient (allow_unused)
  OptStep,        // optimizer.step()
  ZeroGrad,       // optimizer.zero_grad(set_to_none = flag)
  ReadGrad,       // params[ints[0]].grad()
  SetGrad,        // params[ints[0]].set_grad(a) (a detached copy)
  Item,           // full({}, sum(a).item())
  LinearRelu,     // relu(matmul(a, b) + c), or without the relu when flag is false
  Dropout,        // nn::functional::dropout(a, x, training = flag); with sub 1, the world's
                  // Dropout module (its training mode a host action may flip)
  ConvPool,       // on a as an image (1-D to 3-D gain leading 1s), by sub: conv2d with weight b
                  // (as an image) and bias c (c < 0: none), stride ints[0], padding ints[1];
                  // max/avg pooling with kernel ints[0], stride ints[1]; global average
                  // pooling; batch_norm(a) with running statistics b and c (updated in place
                  // when training = flag); layer_norm(a) over its last ints[0] dims with
                  // weight b and bias c (< 0: none); the fused attention op with q = a and
                  // k = v = b (b < 0: a), causal = flag
};
enum ConvPoolSub : int { kConv, kMaxPool, kAvgPool, kGlobalPool, kBatchNorm, kLayerNorm, kAttention, kNumConvPoolSubs };

enum ViewSub : int {
  kTranspose, kPermute, kSlice, kSelect, kReshape, kViewOnly, kExpand, kUnsqueeze, kSqueeze, kFlatten, kNumViewSubs
};
enum UnaryInPlaceSub : int { kNeg_, kRelu_, kClamp_, kZero_, kFill_, kNumUnaryInPlaceSubs };
enum FactorySub : int { kFull, kArange, kRand, kRandn, kNumFactorySubs };

struct Instr {
  Code code = Code::Unary;
  OpKind kind = OpKind::neg;
  int a = -1, b = -1, c = -1;
  int sub = 0;
  std::vector<int64_t> ints;
  double x = 0, y = 0;
  DType dtype = DType::Float32;
  bool flag = false;
  bool no_grad = false;  // run under NoGradGuard
};

// Done on the host before call `call` (> 0), in both modes, outside the compiled function.
struct HostAction {
  int call = 1;
  enum Kind : uint8_t { ManualSeed, SetLr, MutateClosure, ZeroGradOutside, SetData, ToggleTraining } kind = ManualSeed;
  int index = 0;
  double value = 0;
};

struct Program {
  uint64_t seed = 0;
  std::vector<TensorSpec> inputs, closure, params;
  OptimKind optim = OptimKind::None;
  double lr = 0.1;
  std::vector<Instr> body;
  std::vector<int> outputs;
  std::vector<HostAction> actions;
  // From the second call on, input `first` is the previous call's output `second` (an
  // output fed back, as a recurrent state is).
  std::vector<std::pair<int, int>> feedback;
  int calls = 3;
  graph::CompileOptions options;
  size_t slots_at_start() const { return inputs.size() + closure.size() + params.size(); }
};

// The state a program runs against; one per mode, made fresh from the program.
struct World {
  std::vector<Tensor> closure;
  std::vector<Tensor> params;
  std::unique_ptr<optim::Optimizer> opt;
  std::shared_ptr<nn::Dropout> dropout = std::make_shared<nn::Dropout>(0.5);
};

Program generate(uint64_t seed);  // fuzz_generate.cpp
// One instruction of the body: what run_body does for each (the generator tries them too).
void exec(const Instr& in, std::vector<Tensor>& slots, World& w);
World make_world(const Program& p);
// The inputs of call `call`: fresh tensors with the same values in both modes, views of
// each other, closure tensors, or the previous call's outputs, as the program says.
std::vector<Tensor> make_inputs(const Program& p, int call, const World& w = {},
                                const std::vector<Tensor>& previous_outputs = {});
void run_host_actions(const Program& p, World& w, int call);
std::vector<Tensor> run_body(const Program& p, World& w, const std::vector<Tensor>& inputs);
std::string describe(const Program& p);

}  // namespace duet::fuzz
