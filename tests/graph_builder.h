// A hand-built graph for tests of graph passes: nodes added one by one, op metas from the
// ops' shape functions (so a Builder graph passes verify() unless a test breaks it).
//
//   Builder b;
//   ValueId x = b.input({2, 3});
//   ValueId y = b.op(OpKind::exp, {x});
//   b.g.outputs = {y};
#pragma once

#include "core/dispatch.h"
#include "core/functions.h"
#include "graph/ir.h"

namespace duet::graph {

inline Tensor probe(const TensorMeta& m) {
  return Tensor(std::make_shared<TensorImpl>(nullptr, m.shape, contiguous_strides(m.shape), 0, m.dtype, m.device));
}

// Builds graphs node by node; op metas come from the shape functions.
struct Builder {
  Graph g;
  int next_input = 0;

  ValueId input(Shape shape, DType dt = DType::Float32) {
    Node n;
    n.kind = NodeKind::Input;
    n.input_index = next_input++;
    n.meta = {std::move(shape), dt, Device::cpu()};
    return g.add(std::move(n));
  }
  ValueId state(const Tensor& t, std::string name) {
    Node n;
    n.kind = NodeKind::State;
    n.state = t.impl_ptr();
    n.name = std::move(name);
    n.meta = {t.sizes(), t.dtype(), t.device()};
    return g.add(std::move(n));
  }
  ValueId op(OpKind k, std::vector<ValueId> inputs, Attrs attrs = {}) {
    std::vector<Tensor> probes;
    for (ValueId v : inputs) probes.push_back(probe(g.node(v).meta));
    Node n;
    n.kind = NodeKind::Op;
    n.op = k;
    n.meta = infer_meta(k, probes, attrs);
    n.inputs = std::move(inputs);
    n.attrs = std::move(attrs);
    return g.add(std::move(n));
  }
  ValueId full(Shape shape, double value, DType dt = DType::Float32) {
    return op(OpKind::full, {}, Attrs().set("shape", shape).set("value", value).set("dtype", dt));
  }
  ValueId randn(Shape shape, int64_t seed = 7) {
    return op(OpKind::rand_normal, {},
              Attrs().set("shape", shape).set("mean", 0.0).set("std", 1.0).set("seed", seed).set("offset", int64_t(0)));
  }
};

}  // namespace duet::graph
