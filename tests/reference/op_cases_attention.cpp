// Op-table cases for the fused attention ops: causal and not, L != S, E != Ev, batch
// dims of 0 to 2, one tile and several (past 64 query rows and 128 keys), empty sequences,
// transposed and strided operands, float32 and float64, and a case split across threads.
#include "tests/reference/op_cases.h"
#include "tests/reference/reference_attention.h"

#include <cmath>

namespace duet::cases {

void attention_cases(OpKind op, const CaseSink& sink) {
  Inputs in(811);
  struct S {
    Shape batch;
    int64_t L, S, E, Ev;
    bool causal;
    bool threads = false;
  };
  const std::vector<S> shapes = {{{2}, 5, 5, 4, 4, true},         {{2, 3}, 3, 7, 5, 2, false},
                                 {{}, 6, 4, 3, 3, true},          {{1}, 70, 150, 8, 6, true},
                                 {{1}, 130, 130, 4, 4, false},    {{2}, 0, 3, 4, 4, false},
                                 {{2}, 3, 0, 4, 4, false},        {{4, 2}, 64, 64, 16, 16, true, true}};
  for (DType dt : {DType::Float32, DType::Float64})
    for (const S& s : shapes)
      for (Layout l : {Layout::Contiguous, Layout::Transposed, Layout::Strided}) {
        if (l != Layout::Contiguous && (dt != DType::Float32 || s.threads)) continue;
        auto shape = [&](int64_t rows, int64_t cols) {
          Shape sh = s.batch;
          sh.push_back(rows);
          sh.push_back(cols);
          return sh;
        };
        const Domain dom = domain(-1.5, 1.5);
        Tensor q = in.make(dt, shape(s.L, s.E), l, dom), k = in.make(dt, shape(s.S, s.E), l, dom);
        Tensor v = in.make(dt, shape(s.S, s.Ev), l, dom);
        const double scale = 1.0 / std::sqrt(double(s.E)) * 1.3;
        const Attrs attrs = Attrs().set("causal", s.causal).set("scale", scale);
        const ref::Tol tol = ref::scaled(ref::default_tol(dt), 8);
        const std::string desc = describe(dt, shape(s.L, s.E), l) + " x " + std::to_string(s.S) + " keys" +
                                 (s.causal ? ", causal" : "");
        const RefTensor rq = ref::read(q), rk = ref::read(k), rv = ref::read(v);
        if (op == OpKind::attention) {
          sink({desc, {q, k, v}, attrs, ref::attention(rq, rk, rv, s.causal, scale), tol, false, s.threads});
        } else {
          // The flat forward output and its gradient: [..., L, Ev] values, then the rows'
          // log-sum-exp (any values: the op reads them as they are).
          int64_t rows = s.L;
          for (int64_t b : s.batch) rows *= b;
          const Shape flat{rows * (s.Ev + 1)};
          const Layout fl = l == Layout::Contiguous ? l : Layout::Strided;
          Tensor dout = in.make(dt, flat, fl, dom), out = in.make(dt, flat, fl, dom);
          sink({desc, {dout, q, k, v, out}, attrs,
                ref::attention_backward(ref::read(dout), rq, rk, rv, ref::read(out), s.causal, scale), tol, false,
                s.threads});
        }
      }
}

}  // namespace duet::cases
