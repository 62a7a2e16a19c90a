// Algebraic simplification: local rewrites that remove work. The rules:
//
//   x * 1, 1 * x, x + (-0), (-0) + x, x - 0, x / 1  -> x
//       when the constant is a folded constant (or a `full`) whose values are all exactly
//       1 (or that zero), and the result's meta (shape, dtype, device) equals x's:
//       otherwise the op broadcasts or promotes and must stay. Each rule gives x's bits
//       for every x: x + (+0) turns -0.0 into +0.0, so for floats only -0.0 is the
//       identity of addition (and +0.0 that of subtraction); integers have one zero.
//   neg(neg(x))                    -> x
//   permute(permute(x, p), q)      -> permute(x, p∘q), or x when that is the identity
//   permute(x, identity)           -> x
//   reshape(reshape(x))            -> reshape(x)
//   reshape(x) to x's shape        -> x
//   expand(x) to x's shape         -> x
//   slice(x) keeping all of x      -> x
//   cast(x) to x's dtype           -> x
//   copy(x) stays: it may be a needed contiguous() or clone().
// An arithmetic identity, neg(neg(x)) and a cast forward only to a dense x (their results
// are dense, and values keep eager's layouts: Note [Graph values keep eager's layouts] in
// graph/capture.cpp); reshape chains merge only through a reshape that is a view.
//
// Forwarding a node to x rewires its uses (through a canonical-value map, applied to
// later nodes' inputs as the sweep reaches them, so the pass is linear) and leaves the
// node dead for dead_code_elimination(). Merging rewrites (permute/reshape chains) edit
// the outer node in place. A value that leaves the step (an output or a write-back value)
// is never forwarded to a State that is itself written back: the write-backs run after
// the step and would change what the output, or a later write-back, reads.
#include <cmath>
#include <vector>

#include "graph/lowering.h"
#include "graph/passes/pass.h"

namespace duet::graph {
namespace {

bool same_meta(const TensorMeta& a, const TensorMeta& b) {
  return a.shape == b.shape && a.dtype == b.dtype && a.device == b.device;
}

// Whether every element of value v is exactly c, zeros by sign (v a constant of known values).
bool is_all(const Graph& g, ValueId v, double c) {
  auto same = [c](double x) { return x == c && std::signbit(x) == std::signbit(c); };
  const Node& n = g.node(v);
  if (n.kind == NodeKind::Op && n.op == OpKind::full) return n.attrs.has("value") && same(n.attrs.get_number("value"));
  if (!is_constant_node(n) || !n.state->device_.is_cpu()) return false;
  Tensor t(n.state);
  if (t.numel() > kMaxFoldElements) return false;
  for (double x : t.to_vector<double>())
    if (!same(x)) return false;
  return true;
}

// The zero that leaves every x of the result's dtype unchanged under addition.
bool is_additive_identity(const Graph& g, ValueId v, DType result) {
  return is_all(g, v, -0.0) || (!is_floating(result) && is_all(g, v, 0.0));
}

// The operand that op(in0, in1) passes through unchanged, or kNoValue.
ValueId identity_operand(const Graph& g, const Node& n) {
  ValueId a = n.inputs[0], b = n.inputs[1];
  auto passes = [&](ValueId x) { return same_meta(g.node(x).meta, n.meta) ? x : kNoValue; };
  switch (n.op) {
    case OpKind::mul:
      if (is_all(g, b, 1.0) && passes(a) != kNoValue) return a;
      if (is_all(g, a, 1.0) && passes(b) != kNoValue) return b;
      return kNoValue;
    case OpKind::add:
      if (is_additive_identity(g, b, n.meta.dtype) && passes(a) != kNoValue) return a;
      if (is_additive_identity(g, a, n.meta.dtype) && passes(b) != kNoValue) return b;
      return kNoValue;
    case OpKind::sub: return is_all(g, b, 0.0) ? passes(a) : kNoValue;
    case OpKind::div: return is_all(g, b, 1.0) ? passes(a) : kNoValue;
    default: return kNoValue;
  }
}

bool is_op(const Node& n, OpKind op) { return n.kind == NodeKind::Op && n.op == op; }

std::vector<int64_t> wrapped_dims(const std::vector<int64_t>& dims) {
  std::vector<int64_t> out = dims;
  for (int64_t& d : out)
    if (d < 0) d += int64_t(dims.size());
  return out;
}

bool is_identity(const std::vector<int64_t>& dims) {
  for (size_t i = 0; i < dims.size(); ++i)
    if (dims[i] != int64_t(i)) return false;
  return true;
}

class Simplifier {
 public:
  explicit Simplifier(Graph& g)
      : g_(g), strides_(value_strides(g)), canon_(g.size()), escapes_(g.size(), false), written_(g.size(), false) {
    for (size_t i = 0; i < g.size(); ++i) canon_[i] = ValueId(i);
    for (ValueId v : g.outputs) escapes_[size_t(v)] = true;
    for (const WriteBack& w : g.writebacks) escapes_[size_t(w.value)] = written_[size_t(w.state)] = true;
  }

  void run() {
    for (size_t i = 0; i < g_.size(); ++i) {
      Node& n = g_.nodes[i];
      for (ValueId& in : n.inputs) in = canon_[size_t(in)];
      if (n.kind != NodeKind::Op) continue;
      ValueId to = rewrite(n);
      if (to != kNoValue) forward(ValueId(i), to);
    }
    for (ValueId& v : g_.outputs) v = canon_[size_t(v)];
    for (WriteBack& w : g_.writebacks) w.value = canon_[size_t(w.value)];
  }

 private:
  // Applies the rules to node i: edits it in place, and/or returns the value it equals.
  ValueId rewrite(Node& n) {
    const Node* in0 = n.inputs.empty() ? nullptr : &g_.node(n.inputs[0]);
    switch (n.op) {
      case OpKind::add:
      case OpKind::sub:
      case OpKind::mul:
      case OpKind::div: return dense(identity_operand(g_, n));
      case OpKind::neg: return is_op(*in0, OpKind::neg) ? dense(in0->inputs[0]) : kNoValue;
      case OpKind::permute: {
        std::vector<int64_t> q = wrapped_dims(n.attrs.get<std::vector<int64_t>>("dims"));
        if (is_op(*in0, OpKind::permute)) {
          // y = permute(x, p): y.dim(k) is x.dim(p[k]); z = permute(y, q): z.dim(k) is x.dim(p[q[k]]).
          std::vector<int64_t> p = wrapped_dims(in0->attrs.get<std::vector<int64_t>>("dims"));
          for (int64_t& d : q) d = p[size_t(d)];
          n.inputs = {in0->inputs[0]};
          n.attrs = Attrs().set("dims", q);
          in0 = &g_.node(n.inputs[0]);
        }
        return is_identity(q) ? n.inputs[0] : kNoValue;
      }
      case OpKind::reshape: {
        // Merged only when the inner reshape is a view: a copying one gives the outer a
        // dense input, which the merged reshape might not.
        if (is_op(*in0, OpKind::reshape) &&
            view_strides(g_.node(in0->inputs[0]).meta.shape, strides_[size_t(in0->inputs[0])], in0->meta.shape)) {
          bool view_only = n.attrs.get_or<bool>("view_only", false) && in0->attrs.get_or<bool>("view_only", false);
          Attrs a;
          a.set("shape", n.meta.shape);
          if (view_only) a.set("view_only", true);
          n.inputs = {in0->inputs[0]};
          n.attrs = std::move(a);
          in0 = &g_.node(n.inputs[0]);
        }
        return in0->meta.shape == n.meta.shape ? n.inputs[0] : kNoValue;
      }
      case OpKind::expand: return same_meta(in0->meta, n.meta) ? n.inputs[0] : kNoValue;
      case OpKind::cast: return same_meta(in0->meta, n.meta) ? dense(n.inputs[0]) : kNoValue;
      case OpKind::slice:
        return n.attrs.get_or<int64_t>("step", 1) == 1 && in0->meta.shape == n.meta.shape ? n.inputs[0] : kNoValue;
      default: return kNoValue;
    }
  }

  // An op's result is dense; forwarding it to x must keep that layout (Note [Graph values
  // keep eager's layouts] in graph/capture.cpp).
  ValueId dense(ValueId x) const {
    if (x == kNoValue) return x;
    return is_contiguous(g_.node(x).meta.shape, strides_[size_t(x)]) ? x : kNoValue;
  }

  void forward(ValueId from, ValueId to) {
    if (escapes_[size_t(from)] && written_[size_t(to)]) return;
    canon_[size_t(from)] = to;
    if (escapes_[size_t(from)]) escapes_[size_t(to)] = true;
  }

  Graph& g_;
  std::vector<Shape> strides_;  // each value's strides when run (graph/lowering.h)
  std::vector<ValueId> canon_;
  std::vector<bool> escapes_;  // an output or a write-back value
  std::vector<bool> written_;  // a write-back target
};

}  // namespace

void algebraic_simplification(Graph& g) { Simplifier(g).run(); }

}  // namespace duet::graph
