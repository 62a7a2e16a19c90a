// Test cases of as_strided and as_strided_scatter: windows that step, transpose,
// broadcast (stride 0, reading only), start at an offset and cover size-0 and 0-dim
// shapes, over contiguous and non-contiguous inputs of every dtype.
#include "tests/reference/op_cases.h"

namespace duet::cases {

void strided_cases(OpKind op, const CaseSink& sink) {
  Inputs in(707);
  struct W {
    Shape from;
    Shape size, stride;
    int64_t offset;
    bool overlapping;  // a window that reads an element twice: as_strided only
  };
  const std::vector<W> windows = {
      {{4, 5}, {2, 3}, {5, 1}, 6, false},  {{4, 5}, {5, 4}, {1, 5}, 0, false}, {{20}, {3, 2}, {6, 2}, 1, false},
      {{3, 4}, {4, 3}, {0, 4}, 0, true},   {{6}, {}, {}, 5, false},            {{2, 3}, {0, 2}, {1, 1}, 0, false},
      {{2, 3, 4}, {2, 2, 2}, {12, 4, 2}, 1, false}, {{3, 3}, {3, 2}, {1, 1}, 0, true}};
  for (DType dt : {DType::Float32, DType::Int64, DType::Bool, DType::BFloat16}) {
    for (const W& w : windows) {
      for (Layout layout : {Layout::Contiguous, Layout::Transposed}) {
        if (layout == Layout::Transposed && w.from.size() < 2) continue;
        Attrs a = Attrs().set("size", w.size).set("stride", w.stride).set("offset", w.offset);
        Tensor x = in.make(dt, w.from, layout);
        std::string d = describe(dt, w.from, layout) + " " + a.str();
        if (op == OpKind::as_strided) {
          sink({d, {x}, a, ref::as_strided(ref::read(x), w.size, w.stride, w.offset), {},
                layout == Layout::Contiguous});
        } else if (!w.overlapping) {
          Tensor src = in.make(dt, w.size, w.size.size() >= 2 ? Layout::Transposed : Layout::Contiguous);
          sink({d, {x, src}, a, ref::as_strided_scatter(ref::read(x), ref::read(src), w.size, w.stride, w.offset), {}});
        }
      }
    }
  }
}

}  // namespace duet::cases
