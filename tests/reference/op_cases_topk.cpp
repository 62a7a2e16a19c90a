// Op-table cases for topk_indices: every dim of 1-D to 3-D inputs, k from 0 to the dim's
// size, largest and smallest, ties, NaNs and infinities, float and integer dtypes, and
// transposed and strided layouts.
#include "tests/reference/op_cases.h"
#include "tests/reference/reference_topk.h"

namespace duet::cases {

void topk_cases(OpKind, const CaseSink& sink) {
  Inputs in(721);
  const std::vector<Shape> shapes = {{7}, {4, 6}, {3, 5, 4}, {5, 1}};
  // Values on a coarse grid, so that ties are common.
  const Domain coarse = domain(-3, 3, 1);
  for (DType dt : {DType::Float32, DType::Float64, DType::Int64, DType::Int32, DType::Float16})
    for (const Shape& shape : shapes)
      for (Layout l : {Layout::Contiguous, Layout::Transposed, Layout::Strided}) {
        if (l != Layout::Contiguous && (dt != DType::Float32 || shape.size() < 2)) continue;
        Tensor x = in.make(dt, shape, l, coarse);
        for (int64_t dim = 0; dim < int64_t(shape.size()); ++dim)
          for (int64_t k : {int64_t(0), int64_t(1), shape[size_t(dim)] / 2, shape[size_t(dim)]})
            for (bool largest : {true, false})
              sink({describe(dt, shape, l) + " dim " + std::to_string(dim) + " k " + std::to_string(k) +
                        (largest ? " largest" : " smallest"),
                    {x}, Attrs().set("k", k).set("dim", dim).set("largest", largest),
                    ref::topk_indices(ref::read(x), dim, k, largest), ref::default_tol(DType::Int64)});
      }
  // NaN and infinities order as the largest values (NaN above +inf), dim -1.
  const Tensor special = from_values(DType::Float32, {2, 5}, {1, NAN, -INFINITY, INFINITY, 1, NAN, 0, 2, NAN, -1});
  for (bool largest : {true, false})
    sink({std::string("NaN and inf, ") + (largest ? "largest" : "smallest"), {special},
          Attrs().set("k", int64_t(5)).set("dim", int64_t(-1)).set("largest", largest),
          ref::topk_indices(ref::read(special), 1, 5, largest), ref::default_tol(DType::Int64)});
  const Tensor scalar = from_values(DType::Float32, {}, {4});
  sink({"0-dim", {scalar}, Attrs().set("k", int64_t(1)).set("dim", int64_t(0)).set("largest", true),
        ref::topk_indices(ref::read(scalar), 0, 1, true), ref::default_tol(DType::Int64)});
}

}  // namespace duet::cases
