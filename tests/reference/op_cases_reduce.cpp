// Op-table cases for reductions (sum ... std, argmax/argmin), softmax/log_softmax and
// matmul: reduced dims in every position, keepdim, 0-dim/size-0/size-1 inputs,
// non-contiguous inputs and a case large enough to be split across threads.
#include <cmath>

#include "tests/reference/op_cases.h"

namespace duet::cases {
namespace {

struct ShapeLayout {
  Shape shape;
  Layout layout;
};

ref::Reduce reduce_kind(OpKind op) {
  switch (op) {
    case OpKind::sum: return ref::Reduce::Sum;
    case OpKind::mean: return ref::Reduce::Mean;
    case OpKind::prod: return ref::Reduce::Prod;
    case OpKind::amax: return ref::Reduce::Max;
    case OpKind::amin: return ref::Reduce::Min;
    case OpKind::var: return ref::Reduce::Var;
    case OpKind::std: return ref::Reduce::Std;
    default: throw std::logic_error("reduce_kind: not a reduction");
  }
}

std::string dims_str(const std::vector<int64_t>& dims, bool keepdim) {
  return " dims=" + shape_str(dims) + (keepdim ? " keepdim" : "");
}

}  // namespace

void reduce_cases(OpKind op, const CaseSink& sink) {
  ref::Reduce kind = reduce_kind(op);
  bool floating_only = op == OpKind::mean || op == OpKind::var || op == OpKind::std;
  bool minmax = op == OpKind::amax || op == OpKind::amin;
  Domain dom = op == OpKind::prod ? domain(0.8, 1.25) : domain(-3, 3);
  if (op == OpKind::prod) dom.int_lo = -2, dom.int_hi = 2;
  std::vector<double> corrections = {1};
  if (op == OpKind::var || op == OpKind::std) corrections = {1, 0, 2};
  Inputs in(uint32_t(op) * 31 + 5);

  auto emit = [&](DType dt, const ShapeLayout& sl, std::vector<int64_t> dims, bool keepdim, double correction,
                  bool threads) {
    Tensor x = in.make(dt, sl.shape, sl.layout, dom);
    DType out = dt;
    if ((op == OpKind::sum || op == OpKind::prod) && !ref::is_float(dt)) out = DType::Int64;
    Attrs attrs = Attrs().set("dims", dims).set("keepdim", keepdim);
    std::string desc = describe(dt, sl.shape, sl.layout) + dims_str(dims, keepdim);
    if (op == OpKind::var || op == OpKind::std) {
      attrs.set("correction", correction);
      desc += " correction=" + std::to_string(int(correction));
    }
    RefTensor want = ref::reduce(ref::read(x), dims, keepdim, kind, out, correction);
    sink({desc, {x}, attrs, want, ref::scaled(ref::default_tol(out), 4), false, threads});
  };

  const std::vector<std::vector<int64_t>> dim_sets = {{}, {0}, {1}, {-1}, {0, 2}, {2, 1}};
  const std::vector<ShapeLayout> layouts = {
      {{3, 4, 5}, Layout::Contiguous}, {{3, 4, 5}, Layout::Transposed}, {{3, 4, 5}, Layout::Strided}};
  for (DType dt : kAllDTypes) {
    if (floating_only && !ref::is_float(dt)) continue;
    if (minmax && dt == DType::Bool) continue;
    bool main = dt == DType::Float32 || dt == DType::Float64 || dt == DType::Int32 || dt == DType::Int64;
    for (double c : corrections)
      for (const auto& sl : layouts)
        for (const auto& dims : dim_sets)
          for (bool keepdim : {false, true}) {
            if (!main && (sl.layout != Layout::Contiguous || dims.size() > 1)) continue;
            if (c != 1 && keepdim) continue;
            emit(dt, sl, dims, keepdim, c, false);
          }
    if (!main) continue;
    // 0-dim (dims {} and {0} both reduce its single element), size 0, size-1 dims, expanded.
    emit(dt, {{}, Layout::Contiguous}, {}, false, 1, false);
    emit(dt, {{}, Layout::Contiguous}, {0}, true, 1, false);
    if (!minmax) emit(dt, {{0, 3}, Layout::Contiguous}, {0}, false, 1, false);
    if (!minmax) emit(dt, {{0, 3}, Layout::Contiguous}, {}, true, 1, false);
    emit(dt, {{0, 3}, Layout::Contiguous}, {1}, false, 1, false);
    emit(dt, {{1, 1, 7}, Layout::Contiguous}, {0, 1}, false, 1, false);
    emit(dt, {{1, 1, 7}, Layout::Contiguous}, {2}, true, 1, false);
    emit(dt, {{4, 3, 6}, Layout::Expanded}, {0}, false, 1, false);
    emit(dt, {{4, 3, 6}, Layout::Expanded}, {1, 2}, false, 1, false);
  }
  // Large enough to be split across threads, in each reduction direction.
  for (const auto& dims : std::vector<std::vector<int64_t>>{{0}, {1}, {}}) {
    if (op == OpKind::prod && dims.empty()) continue;  // 75k factors over/underflow
    emit(DType::Float32, {{300, 250}, Layout::Contiguous}, dims, false, 1, true);
  }
  emit(DType::Float64, {{250, 300}, Layout::Transposed}, {1}, false, 1, true);
}

void arg_reduce_cases(OpKind op, const CaseSink& sink) {
  bool is_max = op == OpKind::argmax;
  Inputs in(uint32_t(op) * 17 + 3);
  // Values on a coarse grid so ties are common: the first occurrence must win.
  Domain dom = domain(-2, 2, 0.5);
  auto emit = [&](DType dt, const ShapeLayout& sl, std::optional<int64_t> dim, bool keepdim, bool threads) {
    Tensor x = in.make(dt, sl.shape, sl.layout, dom);
    Attrs attrs = Attrs().set("keepdim", keepdim);
    std::string desc = describe(dt, sl.shape, sl.layout) + (dim ? " dim=" + std::to_string(*dim) : " flattened") +
                       (keepdim ? " keepdim" : "");
    if (dim) attrs.set("dim", *dim);
    sink({desc, {x}, attrs, ref::arg_reduce(ref::read(x), dim, keepdim, is_max), {}, false, threads});
  };
  const std::vector<ShapeLayout> layouts = {
      {{3, 4, 5}, Layout::Contiguous}, {{3, 4, 5}, Layout::Transposed}, {{3, 4, 5}, Layout::Strided}};
  const std::vector<std::optional<int64_t>> dims = {std::nullopt, 0, 1, -1};
  for (DType dt : {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::Float16, DType::BFloat16}) {
    bool main = dt != DType::Float16 && dt != DType::BFloat16;
    for (const auto& sl : layouts)
      for (const auto& d : dims)
        for (bool keepdim : {false, true})
          if (main || sl.layout == Layout::Contiguous) emit(dt, sl, d, keepdim, false);
    if (!main) continue;
    emit(dt, {{}, Layout::Contiguous}, std::nullopt, false, false);
    emit(dt, {{}, Layout::Contiguous}, 0, true, false);
    emit(dt, {{0, 3}, Layout::Contiguous}, 1, false, false);
    emit(dt, {{1, 1, 7}, Layout::Contiguous}, 0, true, false);
    emit(dt, {{1, 1, 7}, Layout::Contiguous}, std::nullopt, true, false);
    emit(dt, {{4, 3, 6}, Layout::Expanded}, 0, false, false);
  }
  for (const auto& d : std::vector<std::optional<int64_t>>{0, 1, std::nullopt})
    emit(DType::Float32, {{300, 250}, Layout::Contiguous}, d, false, true);
}

void softmax_cases(OpKind op, const CaseSink& sink) {
  bool log = op == OpKind::log_softmax;
  Inputs in(uint32_t(op) * 13 + 1);
  auto emit = [&](DType dt, const ShapeLayout& sl, int64_t dim, Domain dom, bool threads) {
    Tensor x = in.make(dt, sl.shape, sl.layout, dom);
    std::string desc = describe(dt, sl.shape, sl.layout) + " dim=" + std::to_string(dim);
    if (dom.hi > 10) desc += " values to " + std::to_string(int(dom.hi));
    sink({desc, {x}, Attrs().set("dim", dim), ref::softmax(ref::read(x), dim, log),
          ref::scaled(ref::default_tol(dt), 4), false, threads});
  };
  Domain dom = domain(-5, 5);
  for (DType dt : {DType::Float32, DType::Float64}) {
    for (Layout l : {Layout::Contiguous, Layout::Transposed, Layout::Strided})
      for (int64_t dim : {0, 1, 2, -1}) emit(dt, {{3, 4, 5}, l}, dim, dom, false);
    emit(dt, {{}, Layout::Contiguous}, 0, dom, false);
    emit(dt, {{}, Layout::Contiguous}, -1, dom, false);
    emit(dt, {{0, 5}, Layout::Contiguous}, 1, dom, false);
    emit(dt, {{3, 0}, Layout::Contiguous}, 1, dom, false);
    emit(dt, {{1, 1, 7}, Layout::Contiguous}, -1, dom, false);
    emit(dt, {{1, 1, 7}, Layout::Contiguous}, 0, dom, false);
    emit(dt, {{4, 3, 6}, Layout::Expanded}, 0, dom, false);
    emit(dt, {{5, 1031}, Layout::Contiguous}, -1, dom, false);
    // Exponents far outside float's range: only a max-subtracted softmax survives.
    emit(dt, {{6, 40}, Layout::Contiguous}, 1, domain(-200, 200), false);
  }
  for (DType dt : {DType::Float16, DType::BFloat16}) {
    emit(dt, {{3, 4, 5}, Layout::Contiguous}, -1, dom, false);
    emit(dt, {{3, 4, 5}, Layout::Transposed}, 0, dom, false);
  }
  emit(DType::Float32, {{256, 300}, Layout::Contiguous}, -1, dom, true);
  emit(DType::Float32, {{256, 300}, Layout::Contiguous}, 0, dom, true);
}

void matmul_cases(OpKind op, const CaseSink& sink) {
  struct MM {
    ShapeLayout a, b;
    bool threads = false;
  };
  const Layout C = Layout::Contiguous, T = Layout::Transposed, S = Layout::Strided, E = Layout::Expanded;
  const std::vector<MM> cases = {
      {{{3, 4}, C}, {{4, 5}, C}},
      {{{4}, C}, {{4}, C}},                       // dot: 0-dim result
      {{{4}, C}, {{4, 5}, C}},                    // vector @ matrix
      {{{3, 4}, C}, {{4}, C}},                    // matrix @ vector
      {{{5}, C}, {{2, 5, 3}, C}},                 // vector @ batch
      {{{2, 3, 4}, C}, {{4}, S}},                 // batch @ vector
      {{{2, 3, 4}, C}, {{4, 5}, C}},              // batch @ matrix
      {{{2, 1, 3, 4}, C}, {{5, 4, 6}, C}},        // broadcast batch dims: [2, 5, 3, 6]
      {{{0, 4}, C}, {{4, 5}, C}},                 // size 0 rows
      {{{3, 0}, C}, {{0, 5}, C}},                 // empty inner dim: zeros
      {{{3, 4}, C}, {{4, 0}, C}},
      {{{1, 1}, C}, {{1, 1}, C}},
      {{{6, 5}, T}, {{5, 7}, S}},                 // transposed and strided operands
      {{{6, 5}, S}, {{5, 7}, T}},
      {{{3, 4, 5}, E}, {{5, 2}, C}},              // 0-stride batch
      {{{2, 33, 17}, C}, {{2, 17, 40}, T}},
      {{{65, 129}, C}, {{129, 67}, C}, true},     // past any block size; threaded
      {{{64, 256}, T}, {{256, 48}, C}, true},
  };
  Inputs in(2024);
  for (DType dt : {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16})
    for (size_t i = 0; i < cases.size(); ++i) {
      const MM& mm = cases[i];
      bool half = dt == DType::Float16 || dt == DType::BFloat16;
      if (half && i != 0 && i != 6 && i != 12) continue;
      Tensor a = in.make(dt, mm.a.shape, mm.a.layout, domain(-1, 1));
      Tensor b = in.make(dt, mm.b.shape, mm.b.layout, domain(-1, 1));
      RefTensor want = ref::matmul(ref::read(a), ref::read(b));
      sink({describe(dt, mm.a.shape, mm.a.layout) + " @ " + describe(dt, mm.b.shape, mm.b.layout), {a, b}, {}, want,
            ref::scaled(ref::default_tol(dt), 4), false, mm.threads && !half});
    }
}

}  // namespace duet::cases
