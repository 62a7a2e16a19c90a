// Op-table cases for index_select, gather, scatter_add, cat and one_hot: every dim,
// int32 and int64 indices with repeats, non-contiguous inputs and indices, 0-dim and
// size-0 tensors. Values move without arithmetic (except scatter_add), so most compare
// exactly.
#include "tests/reference/op_cases.h"

namespace duet::cases {
namespace {

constexpr DType kIndexDTypes[] = {DType::Int64, DType::Int32};
const ref::Tol kExact{};

}  // namespace

void index_select_cases(OpKind op, const CaseSink& sink) {
  Inputs in(501);
  const Shape xs = {5, 4, 3};
  for (DType dt : kAllDTypes)
    for (DType it : kIndexDTypes)
      for (int64_t dim : {0, 1, 2, -1}) {
        int64_t n = xs[size_t(dim < 0 ? dim + 3 : dim)];
        bool main = dt == DType::Float32 && it == DType::Int64;
        for (Layout xl : {Layout::Contiguous, Layout::Transposed, Layout::Strided}) {
          if (!main && xl != Layout::Contiguous) continue;
          for (Layout il : {Layout::Contiguous, Layout::Strided}) {
            if (!main && il != Layout::Contiguous) continue;
            Tensor x = in.make(dt, xs, xl);
            Tensor idx = in.index(it, {7}, n, il);  // 7 > n: repeats
            sink({describe(dt, xs, xl) + " dim=" + std::to_string(dim) + " index " + describe(it, {7}, il), {x, idx},
                  Attrs().set("dim", dim), ref::index_select(ref::read(x), dim, ref::read(idx)), kExact});
          }
        }
      }
  auto emit = [&](Tensor x, Tensor idx, int64_t dim, bool threads = false) {
    sink({describe(x) + " dim=" + std::to_string(dim) + " index " + describe(idx), {x, idx}, Attrs().set("dim", dim),
          ref::index_select(ref::read(x), dim, ref::read(idx)), kExact, false, threads});
  };
  emit(in.make(DType::Float64, {5, 4}), in.index(DType::Int64, {}, 4), 1);    // 0-dim index keeps the dim
  emit(in.make(DType::Float64, {5, 4}), in.index(DType::Int64, {0}, 4), 1);   // empty index
  emit(in.make(DType::Float64, {0, 4}), in.index(DType::Int64, {3}, 4), 1);   // empty input
  emit(in.make(DType::Int32, {}), in.index(DType::Int64, {}, 1), 0);         // 0-dim input
  emit(in.make(DType::Int32, {}), in.index(DType::Int64, {1}, 1), 0);
  emit(in.make(DType::Float32, {1, 1, 7}), in.index(DType::Int32, {4}, 1), 1);
  emit(in.make(DType::Float32, {4, 3, 6}, Layout::Expanded), in.index(DType::Int64, {5}, 3), 1);
  emit(in.make(DType::Float32, {2000, 40}), in.index(DType::Int64, {3000}, 2000), 0, true);
  emit(in.make(DType::Float32, {40, 2000}), in.index(DType::Int64, {3000}, 2000), 1, true);
}

void gather_cases(OpKind op, const CaseSink& sink) {
  Inputs in(502);
  const Shape xs = {4, 5, 3};
  for (DType dt : kAllDTypes)
    for (DType it : kIndexDTypes)
      for (int64_t dim : {0, 1, 2, -1}) {
        int64_t d = dim < 0 ? dim + 3 : dim;
        Shape is = {3, 4, 2};  // smaller than x in the other dims, larger in `dim`
        is[size_t(d)] = 6;
        bool main = dt == DType::Float32 && it == DType::Int64;
        for (Layout xl : {Layout::Contiguous, Layout::Transposed, Layout::Strided})
          for (Layout il : {Layout::Contiguous, Layout::Transposed, Layout::Expanded}) {
            if (!main && (xl != Layout::Contiguous || il != Layout::Contiguous)) continue;
            Tensor x = in.make(dt, xs, xl);
            Tensor idx = in.index(it, is, xs[size_t(d)], il);
            sink({describe(dt, xs, xl) + " dim=" + std::to_string(dim) + " index " + describe(it, is, il), {x, idx},
                  Attrs().set("dim", dim), ref::gather(ref::read(x), dim, ref::read(idx)), kExact});
          }
      }
  auto emit = [&](Tensor x, Tensor idx, int64_t dim, bool threads = false) {
    sink({describe(x) + " dim=" + std::to_string(dim) + " index " + describe(idx), {x, idx}, Attrs().set("dim", dim),
          ref::gather(ref::read(x), dim, ref::read(idx)), kExact, false, threads});
  };
  emit(in.make(DType::Float64, {}), in.index(DType::Int64, {}, 1), 0);
  emit(in.make(DType::Float64, {4, 5}), in.index(DType::Int64, {0, 5}, 4), 0);
  emit(in.make(DType::Float64, {4, 5}), in.index(DType::Int64, {4, 0}, 5), 1);
  emit(in.make(DType::Float64, {1, 1, 7}), in.index(DType::Int64, {1, 1, 3}, 7), 2);
  emit(in.make(DType::Float32, {300, 200}), in.index(DType::Int64, {400, 200}, 300), 0, true);
  emit(in.make(DType::Float32, {300, 200}), in.index(DType::Int64, {300, 250}, 200), 1, true);
}

void scatter_add_cases(OpKind op, const CaseSink& sink) {
  Inputs in(503);
  const Shape xs = {4, 5, 3};
  for (DType dt : {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::Float16})
    for (DType it : kIndexDTypes)
      for (int64_t dim : {0, 1, 2, -1}) {
        int64_t d = dim < 0 ? dim + 3 : dim;
        Shape is = {3, 4, 2}, ss = {4, 4, 3};  // index <= src everywhere, <= x outside `dim`
        is[size_t(d)] = 6;
        ss[size_t(d)] = 7;
        bool main = dt == DType::Float32 && it == DType::Int64;
        for (Layout xl : {Layout::Contiguous, Layout::Transposed})
          for (Layout il : {Layout::Contiguous, Layout::Strided, Layout::Expanded})
            for (Layout sl : {Layout::Contiguous, Layout::Transposed}) {
              if (!main && (xl != Layout::Contiguous || il != Layout::Contiguous || sl != Layout::Contiguous)) continue;
              Tensor x = in.make(dt, xs, xl), src = in.make(dt, ss, sl);
              Tensor idx = in.index(it, is, xs[size_t(d)], il);
              sink({describe(dt, xs, xl) + " dim=" + std::to_string(dim) + " index " + describe(it, is, il) +
                        " src " + describe(dt, ss, sl),
                    {x, idx, src}, Attrs().set("dim", dim),
                    ref::scatter_add(ref::read(x), dim, ref::read(idx), ref::read(src)),
                    ref::scaled(ref::default_tol(dt), 4)});
            }
      }
  auto emit = [&](Tensor x, Tensor idx, Tensor src, int64_t dim, bool threads = false) {
    sink({describe(x) + " dim=" + std::to_string(dim) + " index " + describe(idx) + " src " + describe(src),
          {x, idx, src}, Attrs().set("dim", dim),
          ref::scatter_add(ref::read(x), dim, ref::read(idx), ref::read(src)),
          ref::scaled(ref::default_tol(x.dtype()), 4), false, threads});
  };
  emit(in.make(DType::Float64, {}), in.index(DType::Int64, {}, 1), in.make(DType::Float64, {}), 0);
  emit(in.make(DType::Float64, {4, 5}), in.index(DType::Int64, {0, 5}, 4), in.make(DType::Float64, {2, 5}), 0);
  emit(in.make(DType::Float64, {0, 5}), in.index(DType::Int64, {0, 5}, 1), in.make(DType::Float64, {0, 5}), 0);
  emit(in.make(DType::Int64, {1, 1, 7}), in.index(DType::Int64, {1, 1, 9}, 7), in.make(DType::Int64, {1, 1, 9}), 2);
  emit(in.make(DType::Float32, {300, 200}), in.index(DType::Int64, {400, 200}, 300),
       in.make(DType::Float32, {400, 200}), 0, true);
  emit(in.make(DType::Int64, {300, 200}), in.index(DType::Int64, {300, 250}, 200), in.make(DType::Int64, {300, 250}),
       1, true);
}

void cat_cases(OpKind op, const CaseSink& sink) {
  Inputs in(504);
  struct Part {
    DType dt;
    Shape shape;
    Layout layout;
  };
  auto emit = [&](const std::vector<Part>& parts, int64_t dim, bool threads = false) {
    std::vector<Tensor> xs;
    std::vector<RefTensor> rs;
    std::string desc;
    DType out = parts[0].dt;
    for (const Part& p : parts) {
      xs.push_back(in.make(p.dt, p.shape, p.layout));
      rs.push_back(ref::read(xs.back()));
      desc += (desc.empty() ? "" : ", ") + describe(p.dt, p.shape, p.layout);
      out = ref::promote(out, p.dt);
    }
    sink({"[" + desc + "] dim=" + std::to_string(dim), xs, Attrs().set("dim", dim), ref::cat(rs, dim, out),
          ref::default_tol(out), false, threads});
  };
  const Layout C = Layout::Contiguous, T = Layout::Transposed, S = Layout::Strided, E = Layout::Expanded;
  for (DType dt : kAllDTypes) {
    emit({{dt, {2, 3}, C}, {dt, {4, 3}, C}}, 0);
    emit({{dt, {2, 3}, C}, {dt, {2, 1}, C}, {dt, {2, 0}, C}, {dt, {2, 5}, T}}, 1);
    emit({{dt, {3, 2}, T}, {dt, {3, 5}, S}}, -1);
    emit({{dt, {2, 3, 4}, C}}, -1);
    emit({{dt, {0, 3}, C}, {dt, {2, 3}, E}}, 0);
    emit({{dt, {2, 3, 4}, S}, {dt, {2, 1, 4}, C}, {dt, {2, 2, 4}, T}}, 1);
  }
  emit({{DType::Float32, {2, 3}, C}, {DType::Float64, {1, 3}, C}}, 0);
  emit({{DType::Int32, {2}, C}, {DType::Float32, {3}, C}}, 0);
  emit({{DType::Int64, {2, 2}, C}, {DType::Bool, {2, 1}, C}, {DType::Int32, {2, 3}, T}}, 1);
  emit({{DType::Float16, {2, 2}, C}, {DType::BFloat16, {1, 2}, C}}, 0);
  emit({{DType::Float32, {0, 3}, C}, {DType::Float32, {0, 3}, C}}, 0);
  emit({{DType::Float32, {500, 64}, C}, {DType::Float32, {300, 64}, T}}, 0, true);
  emit({{DType::Float32, {400, 33}, C}, {DType::Float32, {400, 131}, S}}, 1, true);
}

void one_hot_cases(OpKind op, const CaseSink& sink) {
  Inputs in(505);
  auto emit = [&](DType it, const Shape& shape, Layout layout, int64_t classes, bool threads = false) {
    Tensor idx = in.index(it, shape, classes, layout);
    sink({describe(it, shape, layout) + " num_classes=" + std::to_string(classes), {idx},
          Attrs().set("num_classes", classes), ref::one_hot(ref::read(idx), classes), kExact, false, threads});
  };
  for (DType it : kIndexDTypes) {
    emit(it, {5}, Layout::Contiguous, 4);
    emit(it, {2, 3}, Layout::Contiguous, 3);
    emit(it, {3, 4}, Layout::Transposed, 5);
    emit(it, {3, 4}, Layout::Strided, 2);
    emit(it, {4, 3}, Layout::Expanded, 6);
    emit(it, {}, Layout::Contiguous, 3);
    emit(it, {0}, Layout::Contiguous, 3);
    emit(it, {1, 1}, Layout::Contiguous, 1);
  }
  emit(DType::Int64, {70000}, Layout::Contiguous, 3, true);
}

}  // namespace duet::cases
