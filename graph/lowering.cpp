// Lowering passes before execution: explicit casts and copies (see lowering.h).
#include "graph/lowering.h"

#include <algorithm>

#include "core/type_promotion.h"
#include "graph/lifetimes.h"
#include "graph/passes/pass.h"

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
      } else if (n.op == OpKind::as_strided) {  // over a contiguous copy when it must be
        strides[v] = n.attrs.get<std::vector<int64_t>>("stride");
      } else {
        strides[v] = op_def(n.op).view(ins, n.attrs, n.meta).strides();
      }
    } else {
      strides[v] = contiguous_strides(n.meta.shape);
    }
  }
  return strides;
}

// copy(permute(matmul(a, b), [1, 0])) -> matmul(b^T, a^T): the transposed product is
// computed in the layout wanted instead of being copied into it (a weight's gradient
// through a transposed-weight view). Returns the new value, or kNoValue.
ValueId transposed_matmul(const Graph& g, const std::vector<std::vector<ValueId>>& uses, const Node& copy,
                          const std::vector<ValueId>& remap, Graph& out) {
  if (copy.kind != NodeKind::Op || copy.op != OpKind::copy) return kNoValue;
  ValueId pv = copy.inputs[0];
  const Node& p = g.node(pv);
  if (p.kind != NodeKind::Op || p.op != OpKind::permute || uses[size_t(pv)].size() != 1) return kNoValue;
  const Node& m = g.node(p.inputs[0]);
  if (m.kind != NodeKind::Op || m.op != OpKind::matmul || m.meta.shape.size() != 2 ||
      uses[size_t(p.inputs[0])].size() != 1)
    return kNoValue;
  const TensorMeta &a = g.node(m.inputs[0]).meta, &b = g.node(m.inputs[1]).meta;
  if (a.shape.size() != 2 || b.shape.size() != 2) return kNoValue;
  auto transpose = [&](ValueId v, const TensorMeta& meta) {
    Node t;
    t.op = OpKind::permute;
    t.attrs.set("dims", std::vector<int64_t>{1, 0});
    t.inputs = {remap[size_t(v)]};
    t.meta = {{meta.shape[1], meta.shape[0]}, meta.dtype, meta.device};
    return out.add(std::move(t));
  };
  ValueId bt = transpose(m.inputs[1], b), at = transpose(m.inputs[0], a);
  Node mm;
  mm.op = OpKind::matmul;
  mm.inputs = {bt, at};
  mm.meta = copy.meta;
  return out.add(std::move(mm));
}

void lower_for_cpu(Graph& g) {
  std::vector<Shape> strides = value_strides(g);
  auto uses = users(g);
  Graph out;
  std::vector<ValueId> remap(g.size(), kNoValue);
  for (size_t v = 0; v < g.size(); ++v) {
    if (ValueId t = transposed_matmul(g, uses, g.nodes[v], remap, out); t != kNoValue) {
      remap[v] = t;
      continue;
    }
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
      const bool must_copy =
          n.kind == NodeKind::Op &&
          ((n.op == OpKind::reshape && !view_strides(g.node(old_in).meta.shape, strides[size_t(old_in)], n.meta.shape)) ||
           (n.op == OpKind::as_strided && !is_contiguous(g.node(old_in).meta.shape, strides[size_t(old_in)])));
      if (must_copy) {
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
  out.written_inputs = g.written_inputs;
  out.random_counters = g.random_counters;
  g = std::move(out);
  dead_code_elimination(g);  // the matmuls and permutes a rewrite replaced
}

void copy_escaping_aliases(Graph& g) {
  const std::vector<ValueId> root = value_buffers(g);
  std::vector<bool> overwritten(g.size(), false);
  for (const WriteBack& w : g.writebacks) overwritten[size_t(w.state)] = true;
  for (size_t v = 0; v < g.size(); ++v) {
    const Node& n = g.nodes[v];
    if (n.kind == NodeKind::Input &&
        std::find(g.written_inputs.begin(), g.written_inputs.end(), n.input_index) != g.written_inputs.end())
      overwritten[v] = true;
  }
  std::erase_if(g.writebacks, [](const WriteBack& w) { return w.value == w.state; });
  const std::vector<Shape> strides = value_strides(g);
  const size_t before = g.size();
  std::vector<ValueId> copy_of(before, kNoValue);
  std::vector<std::pair<ValueId, ValueId>> extra_copies;  // (value, a further copy of it)
  auto copied = [&](ValueId v) {
    if (copy_of[size_t(v)] == kNoValue) {
      Node c;
      c.op = OpKind::copy;
      c.inputs = {v};
      c.meta = g.node(v).meta;
      copy_of[size_t(v)] = g.add(std::move(c));
    }
    return copy_of[size_t(v)];
  };
  // Each output is one storage of eager mode; two that passes merged (CSE of two clones,
  // x + 0 forwarded to x) must not come back sharing memory, so a root already taken by
  // an earlier output gets a copy of its own (not the shared `copied`).
  std::vector<bool> taken(before, false);
  for (ValueId& o : g.outputs) {
    const ValueId r = root[size_t(o)];
    const Node& rn = g.node(r);
    const bool own = rn.kind != NodeKind::State && rn.kind != NodeKind::Input && r == o &&
                     is_contiguous(g.node(o).meta.shape, strides[size_t(o)]);
    if (own && !taken[size_t(r)]) {
      taken[size_t(r)] = true;
    } else if (!own && copy_of[size_t(o)] == kNoValue) {
      o = copied(o);
    } else {
      Node c;
      c.op = OpKind::copy;
      c.inputs = {o};
      c.meta = g.node(o).meta;
      const ValueId source = o;
      o = g.add(std::move(c));
      extra_copies.emplace_back(source, o);
    }
  }
  for (WriteBack& w : g.writebacks)
    if (overwritten[size_t(root[size_t(w.value)])]) w.value = copied(w.value);
  if (g.size() == before) return;
  // Each copy right after the value it copies, before anything can overwrite it.
  std::vector<ValueId> order;
  for (size_t v = 0; v < before; ++v) {
    order.push_back(ValueId(v));
    if (copy_of[v] != kNoValue) order.push_back(copy_of[v]);
    for (auto [source, c] : extra_copies)
      if (size_t(source) == v) order.push_back(c);
  }
  reorder(g, order);
}

}  // namespace duet::graph
