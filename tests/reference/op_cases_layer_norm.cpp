// Op-table cases for layer normalisation's ops: 1 to 3 normalised dims of 2-D to 4-D
// inputs, rows of 1 value and rows longer than a vector's lanes, with and without weight
// and bias, transposed and strided operands, float32 and float64, and a case large
// enough to be split across threads.
#include "tests/reference/op_cases.h"
#include "tests/reference/reference_layer_norm.h"

namespace duet::cases {

void layer_norm_cases(OpKind op, const CaseSink& sink) {
  Inputs in(711);
  struct S {
    Shape x;
    int64_t k;
    bool threads = false;
  };
  const std::vector<S> shapes = {{{6, 10}, 1},   {{3, 4, 5}, 2}, {{2, 3, 4, 5}, 3}, {{5, 1}, 1},
                                 {{4, 37}, 1},   {{2, 0, 6}, 1}, {{768, 128}, 1, true}};
  const double eps = 1e-5;
  for (DType dt : {DType::Float32, DType::Float64})
    for (const S& s : shapes)
      for (Layout l : {Layout::Contiguous, Layout::Transposed, Layout::Strided}) {
        if (l != Layout::Contiguous && (dt != DType::Float32 || s.threads)) continue;
        const Shape w_shape(s.x.end() - s.k, s.x.end());
        const Layout wl = l == Layout::Strided ? l : Layout::Contiguous;
        Tensor x = in.make(dt, s.x, l), dy = in.make(dt, s.x, l);
        Tensor w = in.make(dt, w_shape, wl), b = in.make(dt, w_shape, wl);
        const RefTensor rx = ref::read(x), rdy = ref::read(dy), rw = ref::read(w), rb = ref::read(b);
        const ref::Tol tol = ref::scaled(ref::default_tol(dt), 8);
        const Attrs attrs = Attrs().set("normalized_dims", s.k).set("eps", eps);
        const std::string desc = describe(dt, s.x, l) + " over " + std::to_string(s.k) + " dims";
        switch (op) {
          case OpKind::layer_norm:
            sink({desc, {x, w, b}, attrs, ref::layer_norm(rx, &rw, &rb, s.k, eps), tol, false, s.threads});
            sink({desc + ", weight only", {x, w}, attrs, ref::layer_norm(rx, &rw, nullptr, s.k, eps), tol});
            sink({desc + ", no affine", {x}, attrs, ref::layer_norm(rx, nullptr, nullptr, s.k, eps), tol});
            break;
          case OpKind::layer_norm_backward:
            sink({desc, {dy, x, w}, attrs, ref::layer_norm_backward(rdy, rx, &rw, s.k, eps), tol, false, s.threads});
            sink({desc + ", no weight", {dy, x}, attrs, ref::layer_norm_backward(rdy, rx, nullptr, s.k, eps), tol});
            break;
          default:
            sink({desc, {dy, x}, attrs, ref::layer_norm_backward_affine(rdy, rx, s.k, eps), tol, false, s.threads});
        }
      }
}

}  // namespace duet::cases
