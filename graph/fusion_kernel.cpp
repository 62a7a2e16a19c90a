// Running Fused nodes: the GEMM-with-epilogue call, the conv and batch-norm calls with
// their store epilogues (kernels/cpu/conv.h, batch_norm.h) and the elementwise tile
// interpreter.
//
// Note [Tile interpreter]: a fused elementwise group runs as a tiny register program over
// tiles of kTile elements: each input tile is loaded (contiguous, broadcast or strided)
// into a float register in L1, each instruction is one tight loop over the tile (AVX2
// where it matters, AVX-512 for the ops of Note [IEEE ops in zmm]), and only the result
// is stored. Compared with generating and compiling C++ at run time, it needs no
// compiler on the user's machine and compiles in microseconds; the cost is one pass over an L1-resident tile per instruction instead of
// one fused expression per element, which for the short chains training produces is
// small next to the memory traffic saved (intermediates never leave L1).
#include <array>
#include <cmath>
#include <cstring>

#include "core/ops/gelu_approximation.h"
#include "graph/executable.h"
#include "graph/fusion.h"
#include "kernels/cpu/batch_norm.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/elementwise_ops.h"
#include "kernels/cpu/elementwise_simd.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/reduction_f32.h"
#include "kernels/cpu/strided_loop.h"

// GCC 12 reports false (maybe-)uninitialized warnings from inside its own AVX-512
// intrinsic headers (the "undefined" source operand of the unmasked forms).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace duet::graph {
namespace {

constexpr int64_t kTile = 512;
constexpr int64_t kGrain = 1 << 14;

// Note [Fused ops are eager's functors]: each instruction runs the functor eager's kernel
// runs (kernels/cpu/elementwise_ops.h): its AVX2 body over the tile, tails through masked
// loads and stores, when the CPU has AVX2/FMA, else its scalar formula, which is exactly
// how ew::run_unary / ew::run_binary treat a float32 run, contiguous or not (Note
// [Strided vector ops]). So a fused group gives eager's bits however its runs are cut (a
// broadcast operand cuts them at every row), with no second copy of any formula to drift:
// silu computed with libm's exp here while eager used its vector body differed in 3-7%
// of elements (tests/test_graph_fused_bits.cpp), maximum(0, -0) kept the first zero where
// eager keeps the second, and without AVX2 neg(+0) and sigmoid(x < 0) had other formulas.
// Comparisons and logical ops give 1.0f or 0.0f (bools live in float registers as 0, 1).
inline float reg_value(float v) { return v; }
inline float reg_value(bool b) { return b ? 1.0f : 0.0f; }

template <typename Op>
void unary_op(const Op& op, const float* x, float* y, int64_t n, bool avx2) {
  if constexpr (cpu::ew::has_vec_v<Op>) {
    if (avx2) return cpu::ew::unary_avx2(op, y, x, n);
  }
  for (int64_t i = 0; i < n; ++i) y[i] = reg_value(op(x[i]));
}

template <typename Op>
void binary_op(const Op& op, const float* a, const float* b, float* y, int64_t n, bool avx2) {
  if constexpr (cpu::ew::has_vec_v<Op>) {
    if (avx2) return cpu::ew::binary_avx2<false, false>(op, y, a, b, n);
  }
  for (int64_t i = 0; i < n; ++i) y[i] = reg_value(op(a[i], b[i]));
}

// Note [IEEE ops in zmm]: add, sub, mul, div and sqrt (so reciprocal and rsqrt, 1 / x and
// 1 / sqrt(x)) are correctly rounded, and the comparisons, select, neg, abs, square and
// relu exact (sign-bit operations, a mask, a
// correctly rounded product), so their results do not depend on the vector width: on
// AVX-512 CPUs the interpreter runs them 16 lanes at a time, the same operations as
// their AVX2 bodies in elementwise_ops.h, and still gives eager's bits. (exp, log, tanh,
// sigmoid stay on the AVX2 bodies eager uses.) Adam's update is 13 such instructions per
// tile. neg, abs, square and relu in zmm: a group of neg(x) * y + abs(z) over 8192
// floats, one thread, 3.59 us in the AVX2 bodies, against 3.40 us in the compiler's
// vectorisation of scalar loops before. fashion-mlp's W1 update group (200K elements, 2 threads,
// 2-core VM): 0.154 ms per step in 256-bit loops, 0.132-0.140 ms in zmm; the W2 group
// (32K) 0.034 -> 0.026-0.029 ms. Tiles of 128 to 2048 elements measured: 256 and 512
// best, 1024 and up slower (the program's live tiles no longer fit L1 together).
enum class Zop { Add, Sub, Mul, Div, Sqrt, Gt, Where, Neg, Abs, Square, Relu, Reciprocal, Rsqrt };

template <Zop op>
DUET_TARGET_AVX512 inline __m512 zop(__m512 p, __m512 q, __m512 r) {
  if constexpr (op == Zop::Add) return _mm512_add_ps(p, q);
  if constexpr (op == Zop::Sub) return _mm512_sub_ps(p, q);
  if constexpr (op == Zop::Mul) return _mm512_mul_ps(p, q);
  if constexpr (op == Zop::Div) return _mm512_div_ps(p, q);
  if constexpr (op == Zop::Sqrt) return _mm512_sqrt_ps(p);
  if constexpr (op == Zop::Gt)  // 1 where p > q (false for NaN), else 0
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(p, q, _CMP_GT_OQ), _mm512_set1_ps(1.0f));
  if constexpr (op == Zop::Where)  // p != 0 (true for NaN) ? q : r
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(p, _mm512_setzero_ps(), _CMP_NEQ_UQ), r, q);
  if constexpr (op == Zop::Neg)  // the sign bit flipped (NegOp::vec)
    return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(p), _mm512_set1_epi32(int(0x80000000u))));
  if constexpr (op == Zop::Abs)  // the sign bit cleared (abs256)
    return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(p), _mm512_set1_epi32(0x7fffffff)));
  if constexpr (op == Zop::Square) return _mm512_mul_ps(p, p);
  if constexpr (op == Zop::Reciprocal) return _mm512_div_ps(_mm512_set1_ps(1.0f), p);
  if constexpr (op == Zop::Rsqrt) return _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_sqrt_ps(p));
  if constexpr (op == Zop::Relu)  // p where !(p <= 0) (NaN too), else +0 (ReluOp::vec)
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(p, _mm512_setzero_ps(), _CMP_NLE_UQ), p);
}

// y = op(a, b, c) over n elements; b and c are read only by the ops that take them.
template <Zop op>
DUET_TARGET_AVX512 void run_zmm(const float* a, const float* b, const float* c, float* y, int64_t n) {
  constexpr bool two = op == Zop::Add || op == Zop::Sub || op == Zop::Mul || op == Zop::Div || op == Zop::Gt ||
                       op == Zop::Where;
  constexpr bool three = op == Zop::Where;
  auto at = [](bool used, const float* p, int64_t i, __mmask16 m) {
    return used ? _mm512_maskz_loadu_ps(m, p + i) : _mm512_setzero_ps();
  };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, zop<op>(_mm512_loadu_ps(a + i), two ? _mm512_loadu_ps(b + i) : _mm512_setzero_ps(),
                                    three ? _mm512_loadu_ps(c + i) : _mm512_setzero_ps()));
  if (i < n) {
    const __mmask16 m = __mmask16((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, zop<op>(at(true, a, i, m), at(two, b, i, m), at(three, c, i, m)));
  }
}

void run_instr(const FusedInstr& in, float* const* regs, float* y, int64_t n) {
  const float* a = regs[in.args[0]];
  const float* b = in.args.size() > 1 ? regs[in.args[1]] : nullptr;
  const float* c = in.args.size() > 2 ? regs[in.args[2]] : nullptr;
  const bool avx2 = cpu::has_avx2_fma();
  const bool zmm = cpu::ew::has_avx512();  // Note [IEEE ops in zmm]
  namespace ew = cpu::ew;
  switch (in.op) {
    case OpKind::neg:
      if (zmm) return run_zmm<Zop::Neg>(a, b, c, y, n);
      return unary_op(ew::NegOp{}, a, y, n, avx2);
    case OpKind::abs:
      if (zmm) return run_zmm<Zop::Abs>(a, b, c, y, n);
      return unary_op(ew::AbsOp{}, a, y, n, avx2);
    case OpKind::square:
      if (zmm) return run_zmm<Zop::Square>(a, b, c, y, n);
      return unary_op(ew::SquareOp{}, a, y, n, avx2);
    case OpKind::relu:
      if (zmm) return run_zmm<Zop::Relu>(a, b, c, y, n);
      return unary_op(ew::ReluOp{}, a, y, n, avx2);
    case OpKind::sqrt:
      if (zmm) return run_zmm<Zop::Sqrt>(a, b, c, y, n);
      return unary_op(ew::SqrtOp{}, a, y, n, avx2);
    case OpKind::rsqrt:
      if (zmm) return run_zmm<Zop::Rsqrt>(a, b, c, y, n);
      return unary_op(ew::RsqrtOp{}, a, y, n, avx2);
    case OpKind::reciprocal:
      if (zmm) return run_zmm<Zop::Reciprocal>(a, b, c, y, n);
      return unary_op(ew::ReciprocalOp{}, a, y, n, avx2);
    case OpKind::copy: std::memcpy(y, a, size_t(n) * 4); return;
    case OpKind::cast:  // float32 <-> bool: only a cast to bool changes a register's value
      if (in.attrs.get<DType>("dtype") == DType::Bool)
        for (int64_t i = 0; i < n; ++i) y[i] = reg_value(ew::convert<bool>(a[i]));
      else std::memcpy(y, a, size_t(n) * 4);
      return;
    case OpKind::exp: return unary_op(ew::ExpOp{}, a, y, n, avx2);
    case OpKind::log: return unary_op(ew::LogOp{}, a, y, n, avx2);
    case OpKind::tanh: return unary_op(ew::TanhOp{}, a, y, n, avx2);
    case OpKind::sigmoid: return unary_op(ew::SigmoidOp{}, a, y, n, avx2);
    case OpKind::silu: return unary_op(ew::SiluOp{}, a, y, n, avx2);
    case OpKind::erf: return unary_op(ew::ErfOp{}, a, y, n, avx2);
    case OpKind::gelu:  // eager's gelu_kernel picks the functor the same way
      if (gelu_uses_tanh(in.attrs)) return unary_op(ew::GeluTanhOp{}, a, y, n, avx2);
      return unary_op(ew::GeluErfOp{}, a, y, n, avx2);
    case OpKind::clamp: {
      const ew::ClampOp<float> op{ew::clamp_bound<float>(in.attrs, "min", false),
                                  ew::clamp_bound<float>(in.attrs, "max", true)};
      return unary_op(op, a, y, n, avx2);
    }
    case OpKind::logical_not: return unary_op(ew::LogicalNotOp{}, a, y, n, avx2);
    case OpKind::add:
      if (zmm) return run_zmm<Zop::Add>(a, b, c, y, n);
      return binary_op(ew::AddOp{}, a, b, y, n, avx2);
    case OpKind::sub:
      if (zmm) return run_zmm<Zop::Sub>(a, b, c, y, n);
      return binary_op(ew::SubOp{}, a, b, y, n, avx2);
    case OpKind::mul:
      if (zmm) return run_zmm<Zop::Mul>(a, b, c, y, n);
      return binary_op(ew::MulOp{}, a, b, y, n, avx2);
    case OpKind::div:
      if (zmm) return run_zmm<Zop::Div>(a, b, c, y, n);
      return binary_op(ew::DivOp{}, a, b, y, n, avx2);
    case OpKind::maximum: return binary_op(ew::MaximumOp{}, a, b, y, n, avx2);
    case OpKind::minimum: return binary_op(ew::MinimumOp{}, a, b, y, n, avx2);
    case OpKind::eq: return binary_op(ew::EqOp{}, a, b, y, n, avx2);
    case OpKind::ne: return binary_op(ew::NeOp{}, a, b, y, n, avx2);
    case OpKind::lt: return binary_op(ew::LtOp{}, a, b, y, n, avx2);
    case OpKind::le: return binary_op(ew::LeOp{}, a, b, y, n, avx2);
    case OpKind::gt:
      if (zmm) return run_zmm<Zop::Gt>(a, b, c, y, n);
      return binary_op(ew::GtOp{}, a, b, y, n, avx2);
    case OpKind::ge: return binary_op(ew::GeOp{}, a, b, y, n, avx2);
    case OpKind::logical_and: return binary_op(ew::LogicalAndOp{}, a, b, y, n, avx2);
    case OpKind::logical_or: return binary_op(ew::LogicalOrOp{}, a, b, y, n, avx2);
    case OpKind::where:  // cond is a bool register (0 or 1): eager's select, no arithmetic
      if (zmm) return run_zmm<Zop::Where>(a, b, c, y, n);
      for (int64_t i = 0; i < n; ++i) y[i] = a[i] != 0 ? b[i] : c[i];
      return;
    default: DUET_ASSERT(false, "fused kernel: op ", op_name(in.op), " is not supported by the tile interpreter");
  }
}

// Loads n elements of an operand (float32 or bool, any byte stride) as floats.
void load(const char* p, int64_t stride, DType dt, float* dst, int64_t n) {
  if (dt == DType::Float32) {
    if (stride == 4) std::memcpy(dst, p, size_t(n) * 4);
    else if (stride == 0) std::fill(dst, dst + n, *reinterpret_cast<const float*>(p));
    else for (int64_t i = 0; i < n; ++i) dst[i] = *reinterpret_cast<const float*>(p + i * stride);
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = p[i * stride] ? 1.0f : 0.0f;
  }
}

void store(const float* src, char* p, int64_t stride, DType dt, int64_t n) {
  if (dt == DType::Float32) {
    if (stride == 4) std::memcpy(p, src, size_t(n) * 4);
    else for (int64_t i = 0; i < n; ++i) *reinterpret_cast<float*>(p + i * stride) = src[i];
  } else {
    for (int64_t i = 0; i < n; ++i) p[i * stride] = src[i] != 0;
  }
}

// Where each register of a program lives in the per-thread scratch, in tiles: input k in
// tile k; computed registers share tiles once their values are dead (a register is dead
// after its last reader, unless it is a side store or the result, read after the last
// instruction). Long programs (Adam's update is 13 instructions over 11 inputs) so keep
// their working set within L1 instead of one tile per instruction.
struct ScratchLayout {
  std::vector<int> tile_of;  // per register
  int tiles = 0;
};

ScratchLayout plan_scratch(const FusedProgram& prog) {
  const int n_in = prog.num_inputs, n_code = int(prog.code.size());
  std::vector<int> last_use(size_t(n_in + n_code), -1);
  for (int i = 0; i < n_code; ++i)
    for (int a : prog.code[size_t(i)].args) last_use[size_t(a)] = std::max(last_use[size_t(a)], i);
  for (const FusedProgram::SideStore& st : prog.side_stores) last_use[size_t(st.reg)] = n_code;
  last_use[size_t(n_in + n_code - 1)] = n_code;
  ScratchLayout layout;
  layout.tile_of.resize(size_t(n_in + n_code));
  for (int k = 0; k < n_in; ++k) layout.tile_of[size_t(k)] = k;
  layout.tiles = n_in;
  std::vector<int> free_tiles;
  for (int i = 0; i < n_code; ++i) {
    // The result gets its tile before the inputs that die here free theirs: no instruction
    // writes over its own operands.
    int reg = n_in + i;
    if (free_tiles.empty()) {
      layout.tile_of[size_t(reg)] = layout.tiles++;
    } else {
      layout.tile_of[size_t(reg)] = free_tiles.back();
      free_tiles.pop_back();
    }
    if (last_use[size_t(reg)] < 0) last_use[size_t(reg)] = i;  // never read: free at once
    for (int r = n_in; r <= reg; ++r)
      if (last_use[size_t(r)] == i) {
        free_tiles.push_back(layout.tile_of[size_t(r)]);
        last_use[size_t(r)] = -2;  // freed
      }
  }
  return layout;
}

// Per-thread registers for a program, grown once: runs allocate nothing after the first.
float** thread_registers(const ScratchLayout& layout) {
  thread_local std::vector<float> scratch;
  thread_local std::vector<float*> regs;
  if (scratch.size() < static_cast<size_t>(layout.tiles * kTile)) scratch.resize(static_cast<size_t>(layout.tiles * kTile));
  regs.resize(layout.tile_of.size());
  for (size_t r = 0; r < layout.tile_of.size(); ++r) regs[r] = scratch.data() + layout.tile_of[r] * kTile;
  return regs.data();
}

// Points the input registers at a tile of the inputs (operand k + 1 of the loop): a
// contiguous float32 input is read in place, others are loaded into their register. A
// broadcast scalar is filled once per run of tiles (`filled` remembers from where; input
// tiles are never written by instructions).
void bind_inputs(const FusedProgram& prog, float** regs, char** ptrs, const int64_t* strides, int64_t done,
                 int64_t len, const std::vector<DType>& dtypes, const char** filled) {
  for (int k = 0; k < prog.num_inputs; ++k) {
    char* p = ptrs[k + 1] + done * strides[k + 1];
    if (dtypes[size_t(k)] == DType::Float32 && strides[k + 1] == 4) {
      regs[k] = reinterpret_cast<float*>(p);
    } else if (strides[k + 1] == 0 && dtypes[size_t(k)] == DType::Float32) {
      if (filled[k] != p) load(p, 0, DType::Float32, regs[k], kTile);
      filled[k] = p;
    } else {
      load(p, strides[k + 1], dtypes[size_t(k)], regs[k], len);
    }
  }
}

void run_program(const FusedProgram& prog, float** regs, int64_t len) {
  for (size_t i = 0; i < prog.code.size(); ++i) run_instr(prog.code[i], regs, regs[size_t(prog.num_inputs) + i], len);
}

// Stores the side outputs of n elements, computed at register offset `at`, into the
// states they update, from element `done` of the run at ptrs (Note [Side stores] in
// fusion.cpp): call it once every read of these elements is done.
void store_side_outputs(const FusedProgram& prog, float* const* regs, int64_t at, char* const* ptrs,
                        const int64_t* strides, int64_t done, int64_t n) {
  for (const FusedProgram::SideStore& st : prog.side_stores) {
    const int k = st.operand + 1;
    store(regs[st.reg] + at, ptrs[k] + done * strides[k], strides[k], DType::Float32, n);
  }
}

// Note [Short runs]: a broadcast operand such as log_softmax's [N, 1] row sums cuts a
// group's loop into runs as long as a row (10 elements for fashion-mlp's logits), and
// running the program once per run costs its dispatch per row: 9-11 us for [128, 10].
// Runs shorter than a quarter tile are instead gathered into one tile (each input's run
// loaded at the tile's fill point, the destinations remembered), the program runs once
// per full tile, and the results are scattered back. Every element still goes through
// the same vector bodies, so the bits do not change.
class ShortRuns {
 public:
  ShortRuns(const FusedProgram& prog, const ScratchLayout& layout, const std::vector<DType>& dtypes,
            DType out_dtype)
      : prog_(prog), layout_(layout), dtypes_(dtypes), out_dtype_(out_dtype), nops_(1 + prog.num_inputs) {}

  // A run of n elements at ptrs; the strides are the loop's inner strides, the same for
  // every run.
  void add(char* const* ptrs, const int64_t* strides, int64_t n) {
    if (fill_ + n > kTile || runs_ == kMaxRuns) flush();
    if (fill_ == 0) {
      regs_ = thread_registers(layout_);
      std::copy(strides, strides + nops_, strides_.begin());
    }
    for (int k = 0; k < prog_.num_inputs; ++k)
      load(ptrs[k + 1], strides[k + 1], dtypes_[size_t(k)], regs_[k] + fill_, n);
    Run& r = run_[size_t(runs_++)];
    std::copy(ptrs, ptrs + nops_, r.ptrs.begin());
    r.at = fill_;
    r.n = n;
    fill_ += n;
  }

  void flush() {
    if (fill_ == 0) return;
    run_program(prog_, regs_, fill_);
    const float* result = regs_[prog_.num_inputs + int(prog_.code.size()) - 1];
    for (int i = 0; i < runs_; ++i) {
      const Run& r = run_[size_t(i)];
      store(result + r.at, r.ptrs[0], strides_[0], out_dtype_, r.n);
      store_side_outputs(prog_, regs_, r.at, r.ptrs.data(), strides_.data(), 0, r.n);
    }
    fill_ = 0;
    runs_ = 0;
  }

 private:
  static constexpr int kMaxRuns = 64;
  struct Run {
    std::array<char*, cpu::StridedLoop::kMaxOperands> ptrs;
    int64_t at, n;
  };
  const FusedProgram& prog_;
  const ScratchLayout& layout_;
  const std::vector<DType>& dtypes_;
  const DType out_dtype_;
  const int nops_;
  float** regs_ = nullptr;
  std::array<int64_t, cpu::StridedLoop::kMaxOperands> strides_{};
  int64_t fill_ = 0;
  int runs_ = 0;
  std::array<Run, kMaxRuns> run_;
};

void run_elementwise(const FusedProgram& prog, const ScratchLayout& layout, std::span<const Tensor> inputs,
                     const Tensor& out) {
  cpu::StridedLoop loop(out, inputs);
  const int nregs = prog.num_inputs + int(prog.code.size());
  std::vector<DType> dtypes;
  for (const Tensor& t : inputs) dtypes.push_back(t.dtype());
  if (loop.inner_size() < kTile / 4) {  // Note [Short runs]
    parallel_for(0, loop.numel(), kGrain, [&](int64_t lo, int64_t hi) {
      ShortRuns batch(prog, layout, dtypes, out.dtype());
      loop.run_range(lo, hi, [&](char** ptrs, const int64_t* strides, int64_t n) { batch.add(ptrs, strides, n); });
      batch.flush();
    });
    return;
  }
  const bool out_direct = out.dtype() == DType::Float32;
  loop.run(kGrain, [&](char** ptrs, const int64_t* strides, int64_t n) {
    std::array<const char*, cpu::StridedLoop::kMaxOperands> filled{};
    for (int64_t done = 0; done < n; done += kTile) {
      int64_t len = std::min(kTile, n - done);
      float** regs = thread_registers(layout);
      bind_inputs(prog, regs, ptrs, strides, done, len, dtypes, filled.data());
      // The last instruction writes straight into a contiguous float32 output.
      char* o = ptrs[0] + done * strides[0];
      const bool direct = out_direct && strides[0] == 4;
      if (direct) regs[nregs - 1] = reinterpret_cast<float*>(o);
      run_program(prog, regs, len);
      if (!direct) store(regs[nregs - 1], o, strides[0], out.dtype(), len);
      store_side_outputs(prog, regs, 0, ptrs, strides, done, len);
    }
  });
}

// A reduction over the trailing dims of the program's result: each output element is
// one contiguous row of the (virtual) result, evaluated tile by tile and folded in the
// eager kernel's order (Note [Float32 reduction order] in kernels/cpu/reduction_f32.h:
// a sum in double chains, amax/amin in max_ps chains, long rows of few outputs in the
// same blocks); rows are split across threads.
template <typename Fold, typename Store>
void reduce_rows(const FusedProgram& prog, const ScratchLayout& layout, const cpu::StridedLoop& loop,
                 const std::vector<DType>& dtypes, int64_t rows, int64_t row, bool split, Store store) {
  const int nregs = prog.num_inputs + int(prog.code.size());
  const bool avx2 = cpu::has_avx2_fma();
  parallel_for(0, rows, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(row, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; ++o) {
      Fold fold(split, avx2);
      loop.run_range(o * row, (o + 1) * row, [&](char** ptrs, const int64_t* strides, int64_t n) {
        std::array<const char*, cpu::StridedLoop::kMaxOperands> filled{};
        for (int64_t done = 0; done < n; done += kTile) {
          int64_t len = std::min(kTile, n - done);
          float** regs = thread_registers(layout);
          bind_inputs(prog, regs, ptrs, strides, done, len, dtypes, filled.data());
          run_program(prog, regs, len);
          fold.add(regs[nregs - 1], len);
        }
      });
      store(o, fold);
    }
  });
}

void run_reduction(const FusedProgram& prog, const ScratchLayout& layout, std::span<const Tensor> inputs,
                   const Tensor& out) {
  const Shape& shape = prog.reduce_shape;
  int64_t row = 1;
  for (size_t d = shape.size() - size_t(prog.reduce_dims); d < shape.size(); ++d) row *= shape[d];
  int64_t rows = out.numel();
  if (row == 0) {  // empty rows: sum 0, mean NaN (amax/amin of nothing is refused earlier)
    std::fill(out.data<float>(), out.data<float>() + rows, prog.reduce_op == OpKind::mean ? NAN : 0.0f);
    return;
  }
  // Walk the result's shape with the inputs broadcast into it (a probe output, never written).
  Tensor probe(std::make_shared<TensorImpl>(out.storage(), shape, Shape(shape.size(), 0), out.storage_offset(),
                                            DType::Float32, out.device()));
  cpu::StridedLoop loop(probe, inputs);
  std::vector<DType> dtypes;
  for (const Tensor& t : inputs) dtypes.push_back(t.dtype());
  float* dst = out.data<float>();
  const bool split = cpu::red::splits_rows(rows, row);
  switch (prog.reduce_op) {
    case OpKind::sum:
    case OpKind::mean: {
      const bool mean = prog.reduce_op == OpKind::mean;
      return reduce_rows<cpu::red::RowSumF32>(prog, layout, loop, dtypes, rows, row, split,
                                              [&](int64_t o, cpu::red::RowSumF32& f) {
                                                const double s = f.result();
                                                dst[o] = float(mean ? s / double(row) : s);
                                              });
    }
    case OpKind::amax:
      return reduce_rows<cpu::red::RowMinMaxF32<true>>(
          prog, layout, loop, dtypes, rows, row, split,
          [&](int64_t o, cpu::red::RowMinMaxF32<true>& f) { dst[o] = f.result(); });
    case OpKind::amin:
      return reduce_rows<cpu::red::RowMinMaxF32<false>>(
          prog, layout, loop, dtypes, rows, row, split,
          [&](int64_t o, cpu::red::RowMinMaxF32<false>& f) { dst[o] = f.result(); });
    default: DUET_ASSERT(false, "fused reduction: ", op_name(prog.reduce_op), " is not sum, mean, amax or amin");
  }
}

void run_matmul_epilogue(const FusedProgram& prog, std::span<const Tensor> in, const Tensor& out) {
  // a [..., M, K] with rows that fold (graph/fusion.cpp rows_fold; a view reached at run
  // time that does not is copied first), b [K, N], out [..., M, N] contiguous.
  const Tensor a = matmul_epilogue_rows(in[0]);
  const Tensor &b = in[1], &bias = in[2];
  DUET_ASSERT(out.is_contiguous(), "matmul epilogue: output of shape ", out.sizes(), " is not contiguous");
  const int64_t n = out.size(-1), rows = n ? out.numel() / n : 0;
  cpu::GemmEpilogue epi{bias.data<float>(), prog.act};
  cpu::gemm<float>(rows, n, a.size(-1), 1.0f, a.data<float>(), a.stride(-2), a.stride(-1), b.data<float>(),
                   b.stride(0), b.stride(1), 0.0f, out.data<float>(), n, 1, &epi);
}

// conv2d [-> batch_norm] [-> relu] as one conv call with its store epilogue (Note [Conv
// epilogues] in fusion.cpp).
void run_conv_epilogue(const FusedProgram& prog, std::span<const Tensor> in, const Tensor& out) {
  cpu::conv2d_forward_with_epilogue(in[0], in[1], conv_epilogue_of(prog, in), out, prog.attrs);
}

}  // namespace

cpu::ConvEpilogue conv_epilogue_of(const FusedProgram& prog, std::span<const Tensor> in) {
  DUET_ASSERT(prog.kind == FusedProgram::Kind::ConvEpilogue && int(in.size()) == prog.num_inputs,
              "conv epilogue operands: ", in.size(), " of a ", prog.num_inputs, "-input program");
  cpu::ConvEpilogue epi;
  size_t next = 2;
  if (prog.conv_bias) epi.bias = in[next++];
  if (prog.batch_norm) {
    epi.batch_norm = cpu::ConvEpilogue::BatchNorm{in[next], in[next + 1], in[next + 2], in[next + 3], prog.eps};
  }
  epi.relu = prog.relu;
  return epi;
}

FusedKernel fused_kernel_for(const Node& node) {
  std::shared_ptr<const FusedProgram> prog = node.fused;
  DUET_ASSERT(prog != nullptr, "fused node without a program");
  if (prog->kind == FusedProgram::Kind::MatmulEpilogue)
    return [prog](std::span<const Tensor> in, const Tensor& out) { run_matmul_epilogue(*prog, in, out); };
  if (prog->kind == FusedProgram::Kind::ConvEpilogue)
    return [prog](std::span<const Tensor> in, const Tensor& out) { run_conv_epilogue(*prog, in, out); };
  if (prog->kind == FusedProgram::Kind::BatchNormRelu)
    return [prog](std::span<const Tensor> in, const Tensor& out) { cpu::batch_norm_relu_kernel(in, out, prog->attrs); };
  auto layout = std::make_shared<const ScratchLayout>(plan_scratch(*prog));
  if (prog->kind == FusedProgram::Kind::Reduction)
    return [prog, layout](std::span<const Tensor> in, const Tensor& out) { run_reduction(*prog, *layout, in, out); };
  return [prog, layout](std::span<const Tensor> in, const Tensor& out) { run_elementwise(*prog, *layout, in, out); };
}

}  // namespace duet::graph
