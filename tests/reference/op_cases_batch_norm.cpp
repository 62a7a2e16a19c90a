// Op-table cases for batch normalisation's ops: 2-D, 3-D and 4-D inputs, transposed and
// strided inputs and per-channel vectors, float32 and float64, eval and training forms of
// the backward, and a case large enough to be split across threads.
#include "tests/reference/op_cases.h"
#include "tests/reference/reference_batch_norm.h"

namespace duet::cases {

void batch_norm_cases(OpKind op, const CaseSink& sink) {
  Inputs in(701);
  struct S {
    Shape x;
    bool threads = false;
  };
  const std::vector<S> shapes = {{{4, 3, 5, 6}}, {{6, 4}}, {{2, 3, 7}}, {{2, 5, 1, 1}}, {{1, 2, 3, 3}},
                                 {{32, 16, 14, 14}, true}};
  const double eps = 1e-5;
  for (DType dt : {DType::Float32, DType::Float64})
    for (size_t i = 0; i < shapes.size(); ++i)
      for (Layout l : {Layout::Contiguous, Layout::Transposed, Layout::Strided}) {
        if (l != Layout::Contiguous && (dt != DType::Float32 || shapes[i].threads)) continue;
        const Shape& xs = shapes[i].x;
        const int64_t C = xs[1];
        const Layout vl = l == Layout::Strided ? l : Layout::Contiguous;  // per-channel vectors
        Tensor x = in.make(dt, xs, l), dy = in.make(dt, xs, l);
        Tensor mean = in.make(dt, {C}, vl), var = in.make(dt, {C}, vl, domain(0.1, 2));
        Tensor weight = in.make(dt, {C}, vl), bias = in.make(dt, {C}, vl);
        const ref::Tol tol = ref::scaled(ref::default_tol(dt), 8);
        const std::string desc = describe(dt, xs, l);
        const Attrs e = Attrs().set("eps", eps);
        switch (op) {
          case OpKind::batch_norm_stats:
            sink({desc, {x}, {}, ref::batch_norm_stats(ref::read(x)), tol, false, shapes[i].threads});
            break;
          case OpKind::batch_norm:
            sink({desc, {x, mean, var, weight, bias}, Attrs(e).set("training", true),
                  ref::batch_norm(ref::read(x), ref::read(mean), ref::read(var), ref::read(weight), ref::read(bias), eps),
                  tol, false, shapes[i].threads});
            break;
          case OpKind::batch_norm_backward_reduce:
            sink({desc, {dy, x, mean, var}, e,
                  ref::batch_norm_backward_reduce(ref::read(dy), ref::read(x), ref::read(mean), ref::read(var), eps), tol,
                  false, shapes[i].threads});
            break;
          default:
            for (bool training : {true, false}) {
              Tensor sums = in.make(dt, {2, C});
              sink({desc + (training ? " training" : " eval"), {dy, x, mean, var, weight, sums},
                    Attrs(e).set("training", training),
                    ref::batch_norm_backward(ref::read(dy), ref::read(x), ref::read(mean), ref::read(var),
                                             ref::read(weight), ref::read(sums), eps, training),
                    tol, false, shapes[i].threads});
            }
        }
      }
}

}  // namespace duet::cases
