// Lowering passes before execution: explicit casts and copies (see lowering.h).
#include "graph/lowering.h"

#include "core/type_promotion.h"

namespace duet::graph {
namespace {

Tensor probe(const TensorMeta& m, const Shape& strides) {
  return Tensor(std::make_shared<TensorImpl>(nullptr, m.shape, strides, 0, m.dtype, m.device));
}

Tensor probe(const TensorMeta& m) { return probe(m, contiguous_strides(m.shape)); }

// The dtype each input of an elementwise node must arrive in (or nullopt: leave it).
std::optional<DType> wanted_dtype(const Graph& g, const Node& n, size_t i) {
  if (n.kind != NodeKind::Op || !op_def(n.op).has(kElementwise)) return std::nullopt;
  DType have = g.node(n.inputs[i]).meta.dtype;
  DType want;
  switch (n.op) {
    case OpKind::add: case OpKind::sub: case OpKind::mul: case OpKind::div: case OpKind::pow:
    case OpKind::maximum: case OpKind::minimum:
      want = n.meta.dtype;
      break;
    case OpKind::eq: case OpKind::ne: case OpKind::lt: case OpKind::le: case OpKind::gt: case OpKind::ge:
      want = result_type(probe(g.node(n.inputs[0]).meta), probe(g.node(n.inputs[1]).meta));
      break;
    case OpKind::where:
      if (i == 0) return std::nullopt;
      want = n.meta.dtype;
      break;
    default:
      return std::nullopt;
  }
  return have == want ? std::nullopt : std::optional<DType>(want);
}

}  // namespace

std::vector<Shape> value_strides(const Graph& g) {
  std::vector<Shape> strides(g.size());
  for (size_t v = 0; v < g.size(); ++v) {
    const Node& n = g.nodes[v];
    if (n.kind == NodeKind::State) {
      strides[v] = n.state->strides_;
    } else if (n.kind == NodeKind::Op && op_def(n.op).view) {
      std::vector<Tensor> ins;
      for (ValueId in : n.inputs) ins.push_back(probe(g.node(in).meta, strides[size_t(in)]));
      if (n.op == OpKind::reshape) {
        auto s = view_strides(ins[0].sizes(), ins[0].strides(), n.meta.shape);
        strides[v] = s ? *s : contiguous_strides(n.meta.shape);
      } else {
        strides[v] = op_def(n.op).view(ins, n.attrs, n.meta).strides();
      }
    } else {
      strides[v] = contiguous_strides(n.meta.shape);
    }
  }
  return strides;
}

void lower_for_cpu(Graph& g) {
  std::vector<Shape> strides = value_strides(g);
  Graph out;
  std::vector<ValueId> remap(g.size(), kNoValue);
  for (size_t v = 0; v < g.size(); ++v) {
    Node n = g.nodes[v];
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      ValueId old_in = n.inputs[i];
      ValueId in = remap[size_t(old_in)];
      if (auto want = wanted_dtype(g, g.nodes[v], i)) {
        Node cast;
        cast.op = OpKind::cast;
        cast.attrs.set("dtype", *want);
        cast.inputs = {in};
        cast.meta = {g.node(old_in).meta.shape, *want, g.node(old_in).meta.device};
        in = out.add(std::move(cast));
      }
      if (n.kind == NodeKind::Op && n.op == OpKind::reshape &&
          !view_strides(g.node(old_in).meta.shape, strides[size_t(old_in)], n.meta.shape)) {
        Node copy;
        copy.op = OpKind::copy;
        copy.inputs = {in};
        copy.meta = g.node(old_in).meta;
        in = out.add(std::move(copy));
      }
      n.inputs[i] = in;
    }
    remap[v] = out.add(std::move(n));
  }
  for (ValueId o : g.outputs) out.outputs.push_back(remap[size_t(o)]);
  for (const WriteBack& w : g.writebacks) out.writebacks.push_back({remap[size_t(w.value)], remap[size_t(w.state)]});
  g = std::move(out);
}

}  // namespace duet::graph
