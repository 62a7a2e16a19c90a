// Graph IR utilities: text and DOT forms, the verifier, use lists, compaction.
#include "graph/ir.h"

#include <sstream>

#include "core/dispatch.h"

namespace duet::graph {
namespace {

std::string meta_str(const TensorMeta& m) {
  std::string s = std::string(dtype_name(m.dtype)) + shape_str(m.shape);
  if (!m.device.is_cpu()) s += "@" + m.device.str();
  return s;
}

std::string node_label(const Node& n) {
  switch (n.kind) {
    case NodeKind::Input: return "input " + std::to_string(n.input_index);
    case NodeKind::State: return "state \"" + n.name + "\"";
    case NodeKind::Fused: return "fused[" + n.name + "]";
    case NodeKind::Op: return op_name(n.op);
  }
  return "?";
}

}  // namespace

size_t Graph::compute_nodes() const {
  size_t n = 0;
  for (const Node& node : nodes)
    if (node.kind == NodeKind::Op || node.kind == NodeKind::Fused) ++n;
  return n;
}

Device Graph::device() const {
  const Device d = nodes.empty() ? Device::cpu() : nodes[0].meta.device;
  for (size_t v = 0; v < nodes.size(); ++v)
    DUET_CHECK(nodes[v].meta.device == d, "graph: a compiled step runs on one device, but %0 is on ", d, " and %", v,
               " on ", nodes[v].meta.device);
  return d;
}

std::string Graph::str() const {
  std::ostringstream os;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    os << "%" << i << " = " << node_label(n);
    if (!n.inputs.empty()) {
      os << "(";
      for (size_t k = 0; k < n.inputs.size(); ++k) os << (k ? ", " : "") << "%" << n.inputs[k];
      os << ")";
    }
    if (!n.attrs.items().empty()) os << " {" << n.attrs.str() << "}";
    os << " : " << meta_str(n.meta) << "\n";
  }
  for (ValueId v : outputs) os << "output %" << v << "\n";
  for (const WriteBack& w : writebacks) os << "write %" << w.value << " -> %" << w.state << "\n";
  return os.str();
}

std::string Graph::dot() const {
  std::ostringstream os;
  os << "digraph duet {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n";
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    const char* color = n.kind == NodeKind::Input ? "lightblue"
                        : n.kind == NodeKind::State ? "lightyellow"
                        : n.kind == NodeKind::Fused ? "palegreen"
                                                    : "white";
    std::string label = node_label(n);
    for (char& c : label)
      if (c == '"') c = '\'';
    os << "  n" << i << " [label=\"%" << i << " " << label << "\\n" << meta_str(n.meta) << "\", style=filled, fillcolor="
       << color << "];\n";
    for (ValueId in : n.inputs) os << "  n" << in << " -> n" << i << ";\n";
  }
  for (size_t k = 0; k < outputs.size(); ++k)
    os << "  out" << k << " [label=\"output " << k << "\", shape=oval];\n  n" << outputs[k] << " -> out" << k << ";\n";
  for (const WriteBack& w : writebacks)
    os << "  n" << w.value << " -> n" << w.state << " [style=dashed, label=\"write\"];\n";
  os << "}\n";
  return os.str();
}

void Graph::verify() const {
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    for (ValueId in : n.inputs)
      DUET_ASSERT(in >= 0 && size_t(in) < i, "graph: %", i, " uses %", in, ", which is not defined before it");
    switch (n.kind) {
      case NodeKind::Input: DUET_ASSERT(n.input_index >= 0 && n.inputs.empty(), "graph: bad input node %", i); break;
      case NodeKind::State: DUET_ASSERT(n.state != nullptr && n.inputs.empty(), "graph: state node %", i, " has no tensor"); break;
      case NodeKind::Fused: DUET_ASSERT(n.fused != nullptr, "graph: fused node %", i, " has no program"); break;
      case NodeKind::Op: {
        const OpDef& def = op_def(n.op);
        DUET_ASSERT(def.arity == kVariadic || int(n.inputs.size()) == def.arity, "graph: %", i, " ", def.name,
                    " has ", n.inputs.size(), " inputs");
        // The meta recorded must be what the shape function infers from the input metas.
        std::vector<Tensor> probes;
        for (ValueId in : n.inputs) {
          const TensorMeta& m = nodes[size_t(in)].meta;
          probes.emplace_back(std::make_shared<TensorImpl>(nullptr, m.shape, contiguous_strides(m.shape), 0, m.dtype,
                                                           m.device));
        }
        TensorMeta inferred = infer_meta(n.op, probes, n.attrs);
        DUET_ASSERT(inferred.shape == n.meta.shape && inferred.dtype == n.meta.dtype, "graph: %", i, " ", def.name,
                    " records ", meta_str(n.meta), " but its shape function gives ", meta_str(inferred));
        break;
      }
    }
  }
  for (ValueId v : outputs) DUET_ASSERT(v >= 0 && size_t(v) < nodes.size(), "graph: output %", v, " out of range");
  for (const WriteBack& w : writebacks) {
    DUET_ASSERT(w.value >= 0 && size_t(w.value) < nodes.size() && w.state >= 0 && size_t(w.state) < nodes.size(),
                "graph: write-back out of range");
    DUET_ASSERT(nodes[size_t(w.state)].kind == NodeKind::State, "graph: write-back target %", w.state, " is not state");
    DUET_ASSERT(nodes[size_t(w.value)].meta.shape == nodes[size_t(w.state)].meta.shape, "graph: write-back %", w.value,
                " -> %", w.state, " changes the shape");
  }
}

std::vector<std::vector<ValueId>> users(const Graph& g) {
  std::vector<std::vector<ValueId>> out(g.size());
  for (size_t i = 0; i < g.size(); ++i)
    for (ValueId in : g.nodes[i].inputs) out[size_t(in)].push_back(ValueId(i));
  return out;
}

std::vector<ValueId> compact(Graph& g, const std::vector<bool>& keep) {
  std::vector<ValueId> remap(g.size(), kNoValue);
  std::vector<Node> kept;
  for (size_t i = 0; i < g.size(); ++i) {
    if (!keep[i]) continue;
    remap[i] = ValueId(kept.size());
    kept.push_back(std::move(g.nodes[i]));
  }
  auto map = [&](ValueId v) {
    DUET_ASSERT(remap[size_t(v)] != kNoValue, "graph compaction dropped %", v, ", which is still used");
    return remap[size_t(v)];
  };
  for (Node& n : kept)
    for (ValueId& in : n.inputs) in = map(in);
  for (ValueId& v : g.outputs) v = map(v);
  for (WriteBack& w : g.writebacks) w = {map(w.value), map(w.state)};
  g.nodes = std::move(kept);
  return remap;
}

std::vector<ValueId> reorder(Graph& g, const std::vector<ValueId>& order) {
  DUET_ASSERT(order.size() == g.size(), "graph reorder: ", order.size(), " places for ", g.size(), " nodes");
  std::vector<ValueId> remap(g.size(), kNoValue);
  for (size_t i = 0; i < order.size(); ++i) {
    DUET_ASSERT(order[i] >= 0 && size_t(order[i]) < g.size() && remap[size_t(order[i])] == kNoValue,
                "graph reorder: the order is not a permutation (%", order[i], ")");
    remap[size_t(order[i])] = ValueId(i);
  }
  std::vector<Node> nodes;
  nodes.reserve(g.size());
  for (ValueId old : order) nodes.push_back(std::move(g.nodes[size_t(old)]));
  for (Node& n : nodes)
    for (ValueId& in : n.inputs) in = remap[size_t(in)];
  for (ValueId& v : g.outputs) v = remap[size_t(v)];
  for (WriteBack& w : g.writebacks) w = {remap[size_t(w.value)], remap[size_t(w.state)]};
  g.nodes = std::move(nodes);
  return remap;
}

void replace_uses(Graph& g, ValueId from, ValueId to) {
  for (Node& n : g.nodes)
    for (ValueId& in : n.inputs)
      if (in == from) in = to;
  for (ValueId& v : g.outputs)
    if (v == from) v = to;
  for (WriteBack& w : g.writebacks)
    if (w.value == from) w.value = to;
}

}  // namespace duet::graph
