// The fusion pass (see fusion.h): matmul and conv epilogues and batch norm + ReLU first,
// then elementwise groups, then reduction prologues.
#include "graph/fusion.h"

#include <algorithm>

#include "core/ops/gelu_approximation.h"
#include "graph/lifetimes.h"
#include "graph/lowering.h"
#include "kernels/cpu/strided_loop.h"

namespace duet::graph {

bool fusable_elementwise_op(OpKind op) {
  switch (op) {
    case OpKind::neg: case OpKind::abs: case OpKind::square: case OpKind::relu: case OpKind::exp:
    case OpKind::log: case OpKind::sqrt: case OpKind::rsqrt: case OpKind::reciprocal: case OpKind::tanh:
    case OpKind::sigmoid: case OpKind::silu: case OpKind::erf: case OpKind::gelu: case OpKind::clamp:
    case OpKind::copy: case OpKind::cast:
    case OpKind::add: case OpKind::sub: case OpKind::mul: case OpKind::div: case OpKind::maximum:
    case OpKind::minimum: case OpKind::eq: case OpKind::ne: case OpKind::lt: case OpKind::le: case OpKind::gt:
    case OpKind::ge: case OpKind::where: case OpKind::logical_not: case OpKind::logical_and:
    case OpKind::logical_or:
      return true;
    default:
      return false;
  }
}

namespace {

bool f32_or_bool(DType t) { return t == DType::Float32 || t == DType::Bool; }

// An elementwise node the tile interpreter can run: float32/bool in and out.
bool fusable(const Graph& g, const Node& n) {
  if (n.kind != NodeKind::Op || !fusable_elementwise_op(n.op) || !f32_or_bool(n.meta.dtype)) return false;
  for (ValueId in : n.inputs)
    if (!f32_or_bool(g.node(in).meta.dtype)) return false;
  return true;
}

std::vector<bool> pinned_values(const Graph& g) {
  std::vector<bool> pinned(g.size(), false);
  for (ValueId v : g.outputs) pinned[size_t(v)] = true;
  for (const WriteBack& w : g.writebacks) pinned[size_t(w.value)] = true;
  return pinned;
}

// Rebuilds g keeping nodes not in `absorbed`, replacing each group root by its Fused node.
void rewrite(Graph& g, const std::vector<bool>& absorbed, std::vector<std::pair<ValueId, Node>>& fused_roots) {
  std::sort(fused_roots.begin(), fused_roots.end(), [](auto& a, auto& b) { return a.first < b.first; });
  size_t next = 0;
  for (size_t v = 0; v < g.size(); ++v)
    if (next < fused_roots.size() && fused_roots[next].first == ValueId(v)) g.nodes[v] = std::move(fused_roots[next++].second);
  std::vector<bool> keep(g.size());
  for (size_t v = 0; v < g.size(); ++v) keep[v] = !absorbed[v];
  compact(g, keep);
}

}  // namespace

bool rows_fold(const Shape& shape, const Shape& strides) {
  const size_t r = shape.size();
  if (r == 2) return true;
  if (shape[r - 2] == 1) return false;
  int64_t expect = strides[r - 2] * shape[r - 2];
  for (size_t d = r - 2; d-- > 0;) {
    if (shape[d] != 1 && strides[d] != expect) return false;
    expect *= shape[d];
  }
  return true;
}

Tensor matmul_epilogue_rows(const Tensor& a) { return rows_fold(a.sizes(), a.strides()) ? a : a.contiguous(); }

namespace {

// Note [Matmul epilogues]: add(matmul(a, b), bias) [-> relu | gelu] becomes one GEMM call
// whose stores add the bias and apply the activation (kernels/cpu/gemm.h): b is a matrix,
// a a matrix or a stack of them whose rows fold into one (a Linear layer on [B, T, C]
// activations), bias one value per output column. The activation joins only when the sum
// has no other user: relu's backward reads relu's output, so a training step's
// matmul + bias + relu fuses whole, while gelu's backward reads gelu's input, the sum, so
// in training the sum is stored and gelu stays its own kernel; inference, evaluation and
// the cached decoding step fuse all three (Note [GELU epilogue] in
// kernels/cpu/gemm_activation.cpp for the bits). GELU epilogues are CPU-only
// (FuseOptions::matmul_gelu).
int fuse_matmul_epilogues(Graph& g, bool gelu) {
  auto uses = users(g);
  auto pinned = pinned_values(g);
  auto strides = value_strides(g);
  std::vector<bool> absorbed(g.size(), false);
  std::vector<std::pair<ValueId, Node>> roots;
  for (size_t v = 0; v < g.size(); ++v) {
    const Node& add = g.nodes[v];
    if (add.kind != NodeKind::Op || add.op != OpKind::add || add.meta.dtype != DType::Float32) continue;
    ValueId mm = add.inputs[0], bias = add.inputs[1];
    const Node& m = g.node(mm);
    if (m.kind != NodeKind::Op || m.op != OpKind::matmul || m.meta.shape.size() < 2 || uses[size_t(mm)].size() != 1 ||
        pinned[size_t(mm)])
      continue;
    const TensorMeta& am = g.node(m.inputs[0]).meta;
    if (am.shape.size() != m.meta.shape.size() || g.node(m.inputs[1]).meta.shape.size() != 2 ||
        !rows_fold(am.shape, strides[size_t(m.inputs[0])]))
      continue;
    const TensorMeta& bm = g.node(bias).meta;
    int64_t n = m.meta.shape.back();
    if (bm.dtype != DType::Float32 || bm.shape != Shape{n} || strides[size_t(bias)] != Shape{1}) continue;
    if (add.meta.shape != m.meta.shape) continue;
    // An optional activation that is the sum's only user.
    ValueId root = ValueId(v);
    cpu::Activation act = cpu::Activation::None;
    if (uses[v].size() == 1 && !pinned[v]) {
      const Node& r = g.node(uses[v][0]);
      if (r.kind == NodeKind::Op && r.op == OpKind::relu) act = cpu::Activation::Relu;
      if (gelu && r.kind == NodeKind::Op && r.op == OpKind::gelu)
        act = gelu_uses_tanh(r.attrs) ? cpu::Activation::GeluTanh : cpu::Activation::Gelu;
      if (act != cpu::Activation::None) root = uses[v][0];
    }
    Node f;
    f.kind = NodeKind::Fused;
    f.inputs = {m.inputs[0], m.inputs[1], bias};
    f.meta = m.meta;
    f.name = act == cpu::Activation::Relu ? "matmul+bias+relu"
             : act == cpu::Activation::None ? "matmul+bias"
                                             : "matmul+bias+gelu";
    auto prog = std::make_shared<FusedProgram>();
    prog->kind = FusedProgram::Kind::MatmulEpilogue;
    prog->num_inputs = 3;
    prog->act = act;
    f.fused = prog;
    absorbed[size_t(mm)] = true;
    if (act != cpu::Activation::None) absorbed[v] = true;
    roots.emplace_back(root, std::move(f));
  }
  int count = int(roots.size());
  if (count) rewrite(g, absorbed, roots);
  return count;
}

// Note [Conv epilogues]: conv2d [-> batch_norm] [-> relu] becomes one conv call whose
// store epilogue adds the bias, normalises and rectifies (kernels/cpu/conv.h), so the conv
// output and the batch-norm output never make a round trip through memory of their own.
//   - Bits: the epilogue runs eager's operations on eager's values in eager's order (the
//     batch-norm formula is one function, kernels/cpu/batch_norm.h, called by both); the
//     batch norm is not folded into the weights, which would round differently.
//   - Where: per (sample, group) block right after its GEMM, while the block is in cache;
//     not inside the GEMM's micro-kernel, whose epilogue takes a bias per column of C while
//     a conv's channels are its rows.
//   - When: each absorbed value has the next node as its only user and is no output or
//     write-back. relu saves its output for backward (autograd's grad_relu), so a
//     training step's conv -> relu fuses; batch norm's backward reads its input, so in
//     training conv -> batch_norm does not (eval mode and inference do), while
//     batch_norm -> relu does in both (batch_norm_relu groups).
//   - Both devices: the CUDA conv kernels store through the same epilogue (kernels/cuda/
//     fused_kernels.h, epilogue.cuh), with the CUDA batch-norm kernel's formula.
int fuse_conv_epilogues(Graph& g) {
  auto uses = users(g);
  auto pinned = pinned_values(g);
  std::vector<bool> absorbed(g.size(), false);
  std::vector<std::pair<ValueId, Node>> roots;
  // The only user of v when it is an op of kind `op` reading v first, and v is not pinned.
  auto sole_user = [&](ValueId v, OpKind op) {
    if (uses[size_t(v)].size() != 1 || pinned[size_t(v)]) return kNoValue;
    const ValueId u = uses[size_t(v)][0];
    const Node& n = g.node(u);
    return n.kind == NodeKind::Op && n.op == op && n.inputs[0] == v ? u : kNoValue;
  };
  for (size_t v = 0; v < g.size(); ++v) {
    const Node& conv = g.nodes[v];
    if (conv.kind != NodeKind::Op || conv.op != OpKind::conv2d || absorbed[v]) continue;
    ValueId root = ValueId(v);
    const ValueId bn = sole_user(root, OpKind::batch_norm);
    if (bn != kNoValue) root = bn;
    const ValueId relu = sole_user(root, OpKind::relu);
    if (relu != kNoValue) root = relu;
    if (root == ValueId(v)) continue;
    auto prog = std::make_shared<FusedProgram>();
    prog->kind = FusedProgram::Kind::ConvEpilogue;
    prog->attrs = conv.attrs;
    prog->conv_bias = conv.inputs.size() == 3;
    prog->batch_norm = bn != kNoValue;
    prog->relu = relu != kNoValue;
    Node f;
    f.kind = NodeKind::Fused;
    f.inputs = conv.inputs;
    f.name = prog->conv_bias ? "conv2d+bias" : "conv2d";
    if (bn != kNoValue) {
      const Node& b = g.node(bn);
      f.inputs.insert(f.inputs.end(), b.inputs.begin() + 1, b.inputs.end());
      prog->eps = b.attrs.get_number("eps");
      f.name += "+batch_norm";
      absorbed[size_t(bn)] = bn != root;
    }
    if (relu != kNoValue) f.name += "+relu";
    prog->num_inputs = int(f.inputs.size());
    f.meta = g.node(root).meta;
    f.fused = prog;
    absorbed[v] = true;
    roots.emplace_back(root, std::move(f));
  }
  int count = int(roots.size());
  if (count) rewrite(g, absorbed, roots);
  return count;
}

// batch_norm -> relu, the batch norm's value used by the relu alone: one batch-norm kernel
// that rectifies as it stores (kernels/cpu/batch_norm.h, kernels/cuda/fused_kernels.h).
int fuse_batch_norm_relus(Graph& g) {
  auto uses = users(g);
  auto pinned = pinned_values(g);
  std::vector<bool> absorbed(g.size(), false);
  std::vector<std::pair<ValueId, Node>> roots;
  for (size_t v = 0; v < g.size(); ++v) {
    const Node& bn = g.nodes[v];
    if (bn.kind != NodeKind::Op || bn.op != OpKind::batch_norm || uses[v].size() != 1 || pinned[v]) continue;
    const ValueId relu = uses[v][0];
    const Node& r = g.node(relu);
    if (r.kind != NodeKind::Op || r.op != OpKind::relu) continue;
    auto prog = std::make_shared<FusedProgram>();
    prog->kind = FusedProgram::Kind::BatchNormRelu;
    prog->num_inputs = int(bn.inputs.size());
    prog->attrs = bn.attrs;
    prog->relu = true;
    Node f;
    f.kind = NodeKind::Fused;
    f.inputs = bn.inputs;
    f.meta = r.meta;
    f.name = "batch_norm+relu";
    f.fused = prog;
    absorbed[v] = true;
    roots.emplace_back(relu, std::move(f));
  }
  int count = int(roots.size());
  if (count) rewrite(g, absorbed, roots);
  return count;
}

// The tile interpreter walks the output and its inputs together (StridedLoop).
constexpr size_t kMaxFusedInputs = cpu::StridedLoop::kMaxOperands - 1;

// Distinct values from outside the group that `members` plus `extra` read, plus the
// states the group stores into (each is an operand of the fused kernel).
size_t count_externals(const Graph& g, const std::vector<ValueId>& members, ValueId extra,
                       const std::vector<int>& group, int id, const std::vector<ValueId>& stores) {
  std::vector<ValueId> ext;
  auto add = [&](ValueId in) {
    if (group[size_t(in)] != id && std::find(ext.begin(), ext.end(), in) == ext.end()) ext.push_back(in);
  };
  for (ValueId m : members)
    for (ValueId in : g.node(m).inputs) add(in);
  for (ValueId in : g.node(extra).inputs) add(in);
  for (ValueId s : stores) add(s);
  return ext.size();
}

// Note [Side stores]: an optimizer step updates several states from the same inputs.
// Adam computes m' and v', each written back to its state, and then p' from them; as
// separate kernels, m' and v' are stored and read again by p''s kernel. Instead p''s group
// absorbs them and stores each into its state as a side output, after each tile, once
// every read of that tile is done. Allowed when the value is written back once and is no
// output; the state has its meta, is contiguous float32, is read by no node after the
// group (which would see the new value) and never through a view (a view reads other
// elements than the one being written). The write-back then leaves the graph.
struct WritebackIndex {
  std::vector<int> writes;        // per value: how many write-backs store it
  std::vector<ValueId> target;    // per value: the state of (one of) them
  std::vector<bool> is_output;
  std::vector<ValueId> root;      // value_buffers(): the value whose memory each value is
};

WritebackIndex index_writebacks(const Graph& g) {
  WritebackIndex w{std::vector<int>(g.size(), 0), std::vector<ValueId>(g.size(), kNoValue),
                   std::vector<bool>(g.size(), false), value_buffers(g)};
  for (const WriteBack& b : g.writebacks) {
    w.writes[size_t(b.value)]++;
    w.target[size_t(b.value)] = b.state;
  }
  for (ValueId o : g.outputs) w.is_output[size_t(o)] = true;
  return w;
}

// The state that value v can be side-stored into by the group rooted at r, or kNoValue.
// `group` is the root of the group each node already joined (-1: none yet); groups are
// built from the last node back, so a reader of the state that sits before r but joined
// a group rooted after r would run after the store: that rules the store out too.
ValueId side_store_target(const Graph& g, const WritebackIndex& w, const std::vector<std::vector<ValueId>>& uses,
                          const std::vector<int>& group, ValueId v, ValueId r) {
  if (w.is_output[size_t(v)] || w.writes[size_t(v)] != 1) return kNoValue;
  const ValueId s = w.target[size_t(v)];
  // The fused node, at r's place, takes the state as an input: it must be defined before
  // r (capture appends the states of .grad buffers it creates after the code that uses them).
  if (s > r) return kNoValue;
  const Node& state = g.node(s);
  const Node& value = g.node(v);
  if (state.kind != NodeKind::State || state.meta.shape != value.meta.shape || state.meta.dtype != DType::Float32 ||
      value.meta.dtype != DType::Float32 || !Tensor(state.state).is_contiguous())
    return kNoValue;
  for (size_t x = 0; x < g.size(); ++x) {
    if (w.root[x] != s) continue;
    for (ValueId u : uses[x])
      if (u > r || group[size_t(u)] > r || ValueId(x) != s) return kNoValue;
  }
  return s;
}

void fuse_elementwise(Graph& g, bool allow_side_stores, FusionStats& stats) {
  auto uses = users(g);
  auto pinned = pinned_values(g);
  const WritebackIndex wb = index_writebacks(g);
  std::vector<int> group(g.size(), -1);
  std::vector<bool> absorbed(g.size(), false), side_stored(g.size(), false);
  std::vector<std::pair<ValueId, Node>> roots;
  for (size_t r = g.size(); r-- > 0;) {
    if (group[r] != -1 || !fusable(g, g.nodes[r])) continue;
    int id = int(r);
    group[r] = id;
    std::vector<ValueId> members{ValueId(r)}, frontier{ValueId(r)};
    std::vector<std::pair<ValueId, ValueId>> stores;  // (member, state) side stores
    std::vector<ValueId> store_states;
    while (!frontier.empty()) {
      ValueId c = frontier.back();
      frontier.pop_back();
      for (ValueId u : g.node(c).inputs) {
        const Node& p = g.node(u);
        if (group[size_t(u)] != -1 || !fusable(g, p) || p.meta.shape != g.nodes[r].meta.shape) continue;
        ValueId store = kNoValue;
        if (pinned[size_t(u)]) {
          if (allow_side_stores) store = side_store_target(g, wb, uses, group, u, ValueId(r));
          if (store == kNoValue) continue;
        }
        bool only_group_users = std::all_of(uses[size_t(u)].begin(), uses[size_t(u)].end(),
                                            [&](ValueId w) { return group[size_t(w)] == id; });
        if (!only_group_users) continue;
        group[size_t(u)] = id;
        if (store != kNoValue) store_states.push_back(store);
        if (count_externals(g, members, u, group, id, store_states) > kMaxFusedInputs) {
          group[size_t(u)] = -1;
          if (store != kNoValue) store_states.pop_back();
          continue;
        }
        if (store != kNoValue) stores.emplace_back(u, store);
        members.push_back(u);
        frontier.push_back(u);
      }
    }
    if (members.size() < 2) continue;
    std::sort(members.begin(), members.end());
    // Registers: external inputs first (then the states stored into that no member
    // reads), then one per member in order.
    std::vector<ValueId> externals;
    std::vector<int> reg(g.size(), -1);
    auto add_external = [&](ValueId in) {
      if (group[size_t(in)] != id && std::find(externals.begin(), externals.end(), in) == externals.end())
        externals.push_back(in);
    };
    for (ValueId m : members)
      for (ValueId in : g.node(m).inputs) add_external(in);
    for (ValueId s : store_states) add_external(s);
    for (size_t i = 0; i < externals.size(); ++i) reg[size_t(externals[i])] = int(i);
    auto prog = std::make_shared<FusedProgram>();
    prog->num_inputs = int(externals.size());
    std::string name;
    for (ValueId m : members) {
      const Node& n = g.node(m);
      FusedInstr ins{n.op, n.attrs, {}};
      for (ValueId in : n.inputs) ins.args.push_back(reg[size_t(in)]);
      reg[size_t(m)] = prog->num_inputs + int(prog->code.size());
      prog->code.push_back(std::move(ins));
      name += (name.empty() ? "" : "+") + std::string(op_name(n.op));
      if (m != ValueId(r)) absorbed[size_t(m)] = true;
    }
    std::string store_names;
    for (auto [m, state] : stores) {
      int operand = reg[size_t(state)];
      prog->side_stores.push_back({reg[size_t(m)], operand});
      side_stored[size_t(m)] = true;
      store_names += (store_names.empty() ? "; stores into input " : ", ") + std::to_string(operand);
    }
    Node f;
    f.kind = NodeKind::Fused;
    f.inputs = externals;
    f.meta = g.nodes[r].meta;
    f.name = name + store_names;
    f.fused = prog;
    roots.emplace_back(ValueId(r), std::move(f));
    stats.elementwise_groups++;
    stats.fused_elementwise_nodes += int(members.size());
    stats.side_stores += int(stores.size());
  }
  if (roots.empty()) return;
  // Side-stored values are gone; so are their write-backs (the kernel does them).
  std::erase_if(g.writebacks, [&](const WriteBack& w) { return side_stored[size_t(w.value)]; });
  rewrite(g, absorbed, roots);
}

// The number of trailing dims a reduction node reduces, or 0 when its dims are not a
// trailing run (or keepdim changes nothing we rely on: both forms are fine).
int trailing_reduce_dims(const Graph& g, const Node& r) {
  int64_t nd = int64_t(g.node(r.inputs[0]).meta.shape.size());
  auto dims = wrap_dims(r.attrs.get_or<std::vector<int64_t>>("dims", {}), nd, "fusion");
  if (nd == 0) return 0;
  for (size_t i = 0; i < dims.size(); ++i)
    if (dims[i] != nd - int64_t(dims.size()) + int64_t(i)) return 0;
  return int(dims.size());
}


int fuse_reduction_prologues(Graph& g) {
  auto uses = users(g);
  auto pinned = pinned_values(g);
  const std::vector<ValueId> root = value_buffers(g);
  const auto writers = side_store_writers(g);
  // Absorbing the producer moves its reads to the reduction's place: not past a group
  // that side-stores into a state the producer reads (it would read the new value).
  auto reads_state_stored_between = [&](const std::vector<ValueId>& reads, ValueId from, ValueId to) {
    for (ValueId x : reads)
      for (ValueId w : writers[size_t(root[size_t(x)])])
        if (w > from && w < to) return true;
    return false;
  };
  std::vector<bool> absorbed(g.size(), false);
  std::vector<std::pair<ValueId, Node>> roots;
  for (size_t v = 0; v < g.size(); ++v) {
    const Node& r = g.nodes[v];
    bool reduce = r.kind == NodeKind::Op && (r.op == OpKind::sum || r.op == OpKind::mean || r.op == OpKind::amax ||
                                             r.op == OpKind::amin);
    if (!reduce || r.meta.dtype != DType::Float32) continue;
    ValueId in = r.inputs[0];
    const Node& p = g.node(in);
    if (uses[size_t(in)].size() != 1 || pinned[size_t(in)] || p.meta.dtype != DType::Float32) continue;
    int k = trailing_reduce_dims(g, r);
    if (k == 0) continue;
    std::shared_ptr<FusedProgram> prog;
    std::vector<ValueId> inputs;
    if (p.kind == NodeKind::Fused && p.fused->kind == FusedProgram::Kind::Elementwise && p.fused->side_stores.empty()) {
      prog = std::make_shared<FusedProgram>(*p.fused);
      inputs = p.inputs;
    } else if (fusable(g, p)) {  // a single elementwise op
      prog = std::make_shared<FusedProgram>();
      prog->num_inputs = int(p.inputs.size());
      FusedInstr ins{p.op, p.attrs, {}};
      for (size_t i = 0; i < p.inputs.size(); ++i) ins.args.push_back(int(i));
      prog->code.push_back(std::move(ins));
      inputs = p.inputs;
    } else {
      continue;
    }
    if (reads_state_stored_between(inputs, in, ValueId(v))) continue;
    prog->kind = FusedProgram::Kind::Reduction;
    prog->reduce_op = r.op;
    prog->reduce_shape = p.meta.shape;
    prog->reduce_dims = k;
    Node f;
    f.kind = NodeKind::Fused;
    f.inputs = inputs;
    f.meta = r.meta;
    f.name = (p.kind == NodeKind::Fused ? p.name : std::string(op_name(p.op))) + "+" + op_name(r.op);
    f.fused = prog;
    absorbed[size_t(in)] = true;
    roots.emplace_back(ValueId(v), std::move(f));
  }
  int count = int(roots.size());
  if (count) rewrite(g, absorbed, roots);
  return count;
}

}  // namespace

std::vector<std::vector<ValueId>> side_store_writers(const Graph& g) {
  std::vector<std::vector<ValueId>> writers(g.size());
  for (size_t v = 0; v < g.size(); ++v) {
    const Node& n = g.nodes[v];
    if (n.kind != NodeKind::Fused) continue;
    for (const FusedProgram::SideStore& st : n.fused->side_stores)
      writers[size_t(n.inputs[size_t(st.operand)])].push_back(ValueId(v));
  }
  return writers;
}

FuseOptions fuse_options_for(Device device, bool side_stores) {
  FuseOptions o;
  o.side_stores = side_stores;
  if (!device.is_cpu()) {
    o.reduction_prologues = false;
    o.matmul_gelu = false;
  }
  return o;
}

FusionStats fuse(Graph& g, const FuseOptions& options) {
  FusionStats stats;
  if (options.matmul_epilogues) stats.matmul_epilogues = fuse_matmul_epilogues(g, options.matmul_gelu);
  // Before elementwise groups, which would otherwise take the relus.
  if (options.conv_epilogues) stats.conv_epilogues = fuse_conv_epilogues(g);
  if (options.batch_norm_relu) stats.batch_norm_relus = fuse_batch_norm_relus(g);
  fuse_elementwise(g, options.side_stores, stats);
  if (options.reduction_prologues) stats.reduction_prologues = fuse_reduction_prologues(g);
  return stats;
}

}  // namespace duet::graph
