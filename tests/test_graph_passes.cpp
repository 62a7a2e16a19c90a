// Tests of the graph optimisation passes (graph/passes/): each pass alone on small
// hand-built graphs (structure, node counts, verify()), folded values, random ops left
// alone, write-back chains and inputs kept, and the pipeline end to end: the optimised
// graph, evaluated by a tiny reference interpreter, gives the captured graph's results.
// Also fusion's side stores (state updates stored by the group that reads them).
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/dispatch.h"
#include "core/functions.h"
#include "graph/executable.h"
#include "graph/fusion.h"
#include "graph/passes/pipeline.h"
#include "tests/graph_builder.h"

using namespace duet;
using namespace duet::graph;

namespace {

size_t count_op(const Graph& g, OpKind k) {
  size_t n = 0;
  for (const Node& node : g.nodes) n += node.kind == NodeKind::Op && node.op == k;
  return n;
}
size_t count_kind(const Graph& g, NodeKind k) {
  size_t n = 0;
  for (const Node& node : g.nodes) n += node.kind == k;
  return n;
}

// A reference interpreter: every node through run_kernel, in order.
std::vector<Tensor> evaluate(const Graph& g, const std::vector<Tensor>& inputs) {
  std::vector<Tensor> vals(g.size());
  for (size_t i = 0; i < g.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.kind == NodeKind::Input) {
      vals[i] = inputs[size_t(n.input_index)];
    } else if (n.kind == NodeKind::State) {
      vals[i] = Tensor(n.state);
    } else {
      std::vector<Tensor> args;
      for (ValueId v : n.inputs) args.push_back(vals[size_t(v)]);
      vals[i] = run_kernel(n.op, args, n.attrs, n.meta);
    }
  }
  std::vector<Tensor> out;
  for (ValueId v : g.outputs) out.push_back(vals[size_t(v)]);
  for (const WriteBack& w : g.writebacks) out.push_back(vals[size_t(w.value)]);
  return out;
}

void check_same_values(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].sizes() == b[i].sizes());
    CHECK(a[i].dtype() == b[i].dtype());
    std::vector<double> x = a[i].to_vector<double>(), y = b[i].to_vector<double>();
    REQUIRE(x.size() == y.size());
    for (size_t k = 0; k < x.size(); ++k) CHECK(x[k] == doctest::Approx(y[k]).epsilon(1e-6));
  }
}

Tensor values_f32(std::vector<float> v, Shape shape) { return tensor<float>(std::move(v), shape); }

}  // namespace

TEST_CASE("dce drops dead nodes, keeps inputs, outputs and write-back chains") {
  Builder b;
  ValueId x = b.input({4});
  ValueId unused = b.input({2});  // never read: still part of the step's signature
  ValueId w = b.state(zeros({4}), "w");
  ValueId m = b.state(zeros({4}), "m");  // written back, read by nothing
  ValueId e = b.op(OpKind::exp, {x});
  ValueId dead = b.op(OpKind::neg, {x});
  b.op(OpKind::sin, {dead});
  ValueId upd = b.op(OpKind::add, {w, e});
  ValueId mupd = b.op(OpKind::mul, {e, e});
  ValueId y = b.op(OpKind::relu, {e});
  Graph& g = b.g;
  g.outputs = {y};
  g.writebacks = {{upd, w}, {mupd, m}};
  g.verify();

  dead_code_elimination(g);
  g.verify();
  CHECK(g.size() == 8);  // x, unused, w, m, exp, add, mul, relu
  CHECK(count_op(g, OpKind::neg) == 0);
  CHECK(count_op(g, OpKind::sin) == 0);
  CHECK(count_kind(g, NodeKind::Input) == 2);
  CHECK(g.node(1).input_index == 1);
  CHECK(g.node(1).meta.shape == Shape{2});
  REQUIRE(g.writebacks.size() == 2);
  CHECK(g.node(g.writebacks[0].state).name == "w");
  CHECK(g.node(g.writebacks[0].value).op == OpKind::add);
  CHECK(g.node(g.writebacks[1].state).name == "m");
  CHECK(g.node(g.writebacks[1].value).op == OpKind::mul);
  CHECK(g.node(g.outputs[0]).op == OpKind::relu);
  (void)unused;
  (void)mupd;

  // Idempotent.
  std::string once = g.str();
  dead_code_elimination(g);
  CHECK(g.str() == once);
}

TEST_CASE("dce of a graph with no outputs keeps only inputs") {
  Builder b;
  ValueId x = b.input({3});
  b.op(OpKind::exp, {x});
  b.state(zeros({3}), "p");
  dead_code_elimination(b.g);
  b.g.verify();
  CHECK(b.g.size() == 1);
  CHECK(b.g.node(0).kind == NodeKind::Input);
}

TEST_CASE("cse merges identical ops, commutative operands and same states") {
  Builder b;
  ValueId x = b.input({2, 3});
  ValueId x2 = b.input({2, 3});  // same meta, different argument: never merged
  Tensor param = ones({2, 3});
  ValueId s1 = b.state(param, "p");
  ValueId e1 = b.op(OpKind::exp, {x});
  ValueId e2 = b.op(OpKind::exp, {x});
  ValueId n1 = b.op(OpKind::neg, {e1});
  ValueId n2 = b.op(OpKind::neg, {e2});  // a duplicate once e2 -> e1
  ValueId a1 = b.op(OpKind::add, {n1, x2});
  ValueId a2 = b.op(OpKind::add, {x2, n2});  // commutative
  ValueId s2 = b.state(param, "p_again");   // same TensorImpl
  ValueId d1 = b.op(OpKind::sub, {a1, s1});
  ValueId d2 = b.op(OpKind::sub, {s2, a2});  // not commutative: stays
  ValueId r0 = b.op(OpKind::sum, {d1}, Attrs().set("dims", std::vector<int64_t>{0}).set("keepdim", false));
  ValueId r1 = b.op(OpKind::sum, {d1}, Attrs().set("dims", std::vector<int64_t>{1}).set("keepdim", false));
  ValueId r1b = b.op(OpKind::sum, {d1}, Attrs().set("dims", std::vector<int64_t>{1}).set("keepdim", false));
  ValueId u = b.op(OpKind::exp, {x2});
  Graph& g = b.g;
  g.outputs = {r0, r1, r1b, d2, u};
  g.writebacks = {{d1, s2}};
  g.verify();
  size_t before = g.size();

  common_subexpression_elimination(g);
  g.verify();
  CHECK(g.size() == before - 5);  // e2, n2, a2, s2, r1b
  CHECK(count_op(g, OpKind::exp) == 2);
  CHECK(count_op(g, OpKind::neg) == 1);
  CHECK(count_op(g, OpKind::add) == 1);
  CHECK(count_op(g, OpKind::sub) == 2);
  CHECK(count_op(g, OpKind::sum) == 2);
  CHECK(count_kind(g, NodeKind::Input) == 2);
  CHECK(count_kind(g, NodeKind::State) == 1);
  CHECK(g.outputs[1] == g.outputs[2]);
  CHECK(g.outputs[0] != g.outputs[1]);
  // The write-back to the merged state now targets the surviving one.
  REQUIRE(g.writebacks.size() == 1);
  CHECK(g.node(g.writebacks[0].state).name == "p");
  CHECK(g.node(g.writebacks[0].value).op == OpKind::sub);
  // Both subs now read the one state.
  for (const Node& n : g.nodes)
    if (n.kind == NodeKind::Op && n.op == OpKind::sub)
      CHECK((g.node(n.inputs[0]).kind == NodeKind::State || g.node(n.inputs[1]).kind == NodeKind::State));
}

TEST_CASE("cse never merges random ops") {
  Builder b;
  ValueId r1 = b.randn({3});
  ValueId r2 = b.randn({3});  // identical attrs, still two draws
  ValueId e1 = b.op(OpKind::exp, {r1});
  ValueId e2 = b.op(OpKind::exp, {r2});
  b.g.outputs = {e1, e2};
  common_subexpression_elimination(b.g);
  b.g.verify();
  CHECK(b.g.size() == 4);
  CHECK(count_op(b.g, OpKind::rand_normal) == 2);
  CHECK(b.g.outputs[0] != b.g.outputs[1]);
}

TEST_CASE("constant folding evaluates constant subgraphs into const states") {
  Builder b;
  ValueId x = b.input({3});
  ValueId two = b.full({3}, 2.0);
  ValueId idx = b.op(OpKind::arange, {}, Attrs().set("start", 0.0).set("end", 3.0).set("step", 1.0));
  ValueId idxf = b.op(OpKind::cast, {idx}, Attrs().set("dtype", DType::Float32));
  ValueId c = b.op(OpKind::add, {two, idxf});  // [2, 3, 4]
  ValueId y = b.op(OpKind::mul, {x, c});       // depends on x: stays
  ValueId r = b.randn({3});
  ValueId rr = b.op(OpKind::add, {r, two});    // random input: stays
  ValueId p = b.state(values_f32({1, 2, 3}, {3}), "param");
  ValueId pe = b.op(OpKind::exp, {p});         // a parameter is not a constant
  ValueId big = b.full({int64_t(1) << 17}, 0.0);
  ValueId bigsum = b.op(OpKind::sum, {big}, Attrs().set("dims", std::vector<int64_t>{}).set("keepdim", false));
  Graph& g = b.g;
  g.outputs = {y, rr, pe, bigsum};
  g.verify();

  constant_folding(g);
  g.verify();
  CHECK(g.size() == 12);  // folding rewrites nodes in place
  for (ValueId v : {two, idx, idxf, c}) {
    CHECK(g.node(v).kind == NodeKind::State);
    CHECK(is_constant_node(g.node(v)));
    CHECK(g.node(v).name.rfind("const", 0) == 0);
  }
  CHECK(g.node(idx).meta.dtype == DType::Int64);
  CHECK(Tensor(g.node(c).state).to_vector<double>() == std::vector<double>{2, 3, 4});
  CHECK(Tensor(g.node(c).state).dtype() == DType::Float32);
  CHECK(g.node(y).kind == NodeKind::Op);
  CHECK(g.node(r).kind == NodeKind::Op);
  CHECK(g.node(rr).kind == NodeKind::Op);
  CHECK(g.node(pe).kind == NodeKind::Op);
  CHECK(!is_constant_node(g.node(p)));
  CHECK(g.node(big).kind == NodeKind::Op);
  CHECK(g.node(bigsum).kind == NodeKind::Op);

  dead_code_elimination(g);
  g.verify();
  CHECK(count_op(g, OpKind::arange) == 0);
  CHECK(count_op(g, OpKind::cast) == 0);
  CHECK(count_kind(g, NodeKind::State) == 3);  // two (read by rr), c, param
}

TEST_CASE("constant folding of views, reductions and other dtypes") {
  Builder b;
  ValueId e = b.op(OpKind::eye, {}, Attrs().set("n", int64_t(2)).set("m", int64_t(3)).set("dtype", DType::Float64));
  ValueId t = b.op(OpKind::permute, {e}, Attrs().set("dims", std::vector<int64_t>{1, 0}));
  ValueId s = b.op(OpKind::sum, {t}, Attrs().set("dims", std::vector<int64_t>{1}).set("keepdim", true));
  ValueId i = b.full({2}, 5.0, DType::Int32);
  ValueId lt = b.op(OpKind::lt, {i, b.full({}, 6.0, DType::Int32)});
  b.g.outputs = {t, s, lt};
  constant_folding(b.g);
  b.g.verify();
  // The view stays a view of the folded constant (values keep eager's layouts); what it
  // views, and the ops after it, fold.
  CHECK(b.g.node(t).kind == NodeKind::Op);
  REQUIRE(b.g.node(e).kind == NodeKind::State);
  CHECK(Tensor(b.g.node(e).state).to_vector<double>() == std::vector<double>{1, 0, 0, 0, 1, 0});
  REQUIRE(b.g.node(s).kind == NodeKind::State);
  REQUIRE(b.g.node(lt).kind == NodeKind::State);
  CHECK(Tensor(b.g.node(s).state).to_vector<double>() == std::vector<double>{1, 1, 0});
  CHECK(Tensor(b.g.node(s).state).dtype() == DType::Float64);
  CHECK(Tensor(b.g.node(lt).state).to_vector<bool>() == std::vector<bool>{true, true});
}

TEST_CASE("constant folding leaves nodes on another device") {
  Builder b;
  ValueId f = b.op(OpKind::full, {}, Attrs().set("shape", Shape{2}).set("value", 1.0).set("device", Device::cuda(0)));
  b.g.outputs = {f};
  constant_folding(b.g);
  b.g.verify();
  CHECK(b.g.node(f).kind == NodeKind::Op);
}

TEST_CASE("simplification removes identity arithmetic only when nothing broadcasts or promotes") {
  Builder b;
  ValueId x = b.input({2, 3});
  ValueId xi = b.input({2, 3}, DType::Int32);
  ValueId one = b.full({}, 1.0);
  ValueId zero_row = b.full({3}, 0.0);
  ValueId neg_zero_row = b.full({3}, -0.0);  // the identity of float addition: x + (-0) is x for every x
  ValueId zero_big = b.full({4, 2, 3}, -0.0);
  ValueId two = b.full({}, 2.0);
  ValueId mixed = b.state(values_f32({1, 1, 2}, {3}), "const_mixed");  // looks const, not all ones
  constant_folding(b.g);
  // "const"-named states made by hand count as constants too: mark `mixed` by its name.
  REQUIRE(is_constant_node(b.g.node(one)));
  REQUIRE(is_constant_node(b.g.node(mixed)));

  ValueId m1 = b.op(OpKind::mul, {x, one});
  ValueId m2 = b.op(OpKind::mul, {one, m1});
  ValueId a1 = b.op(OpKind::add, {m2, neg_zero_row});
  ValueId a2 = b.op(OpKind::add, {neg_zero_row, a1});
  ValueId s1 = b.op(OpKind::sub, {a2, zero_row});
  ValueId d1 = b.op(OpKind::div, {s1, one});
  ValueId out1 = b.op(OpKind::exp, {d1});           // becomes exp(x)
  ValueId keep1 = b.op(OpKind::add, {x, zero_big});  // broadcasts to [4, 2, 3]
  ValueId keep2 = b.op(OpKind::mul, {xi, one});      // int32 * float32 promotes
  ValueId keep3 = b.op(OpKind::mul, {x, two});
  ValueId keep4 = b.op(OpKind::mul, {x, mixed});
  ValueId keep5 = b.op(OpKind::sub, {zero_row, x});  // 0 - x is not x
  ValueId keep6 = b.op(OpKind::div, {one, x});
  ValueId keep7 = b.op(OpKind::add, {x, zero_row});  // -0 + (+0) is +0: not the identity
  ValueId big_one = b.op(OpKind::full, {}, Attrs().set("shape", Shape{300, 300}).set("value", 1.0));
  ValueId xb = b.input({300, 300});
  ValueId m3 = b.op(OpKind::mul, {xb, big_one});     // an unfolded full still counts
  Graph& g = b.g;
  g.outputs = {out1, keep1, keep2, keep3, keep4, keep5, keep6, m3, keep7};
  g.verify();

  algebraic_simplification(g);
  g.verify();
  CHECK(g.node(out1).inputs[0] == x);
  CHECK(g.outputs[0] == out1);
  for (size_t k = 1; k <= 6; ++k) CHECK(g.node(g.outputs[k]).kind == NodeKind::Op);
  CHECK(g.outputs[7] == xb);
  CHECK(g.outputs[8] == keep7);

  dead_code_elimination(g);
  g.verify();
  CHECK(count_op(g, OpKind::div) == 1);
  CHECK(count_op(g, OpKind::sub) == 1);
  CHECK(count_op(g, OpKind::mul) == 3);
  CHECK(count_op(g, OpKind::add) == 2);
}

TEST_CASE("simplification of neg, cast, expand, slice and reshape chains") {
  Builder b;
  ValueId x = b.input({2, 3});
  ValueId n1 = b.op(OpKind::neg, {x});
  ValueId n2 = b.op(OpKind::neg, {n1});
  ValueId n3 = b.op(OpKind::neg, {n2});
  ValueId n4 = b.op(OpKind::neg, {n3});               // -> x
  ValueId c = b.op(OpKind::cast, {n4}, Attrs().set("dtype", DType::Float32));  // -> x
  ValueId c2 = b.op(OpKind::cast, {c}, Attrs().set("dtype", DType::Float64));  // stays
  ValueId e = b.op(OpKind::expand, {c}, Attrs().set("shape", std::vector<int64_t>{-1, 3}));  // -> x
  ValueId e2 = b.op(OpKind::expand, {e}, Attrs().set("shape", std::vector<int64_t>{4, 2, 3}));  // stays
  ValueId sl = b.op(OpKind::slice, {e}, Attrs().set("dim", int64_t(1)).set("start", int64_t(0)));  // -> x
  ValueId sl2 = b.op(OpKind::slice, {sl}, Attrs().set("dim", int64_t(1)).set("start", int64_t(1)));  // stays
  ValueId r1 = b.op(OpKind::reshape, {sl}, Attrs().set("shape", std::vector<int64_t>{6}));
  ValueId r2 = b.op(OpKind::reshape, {r1}, Attrs().set("shape", std::vector<int64_t>{3, -1}).set("view_only", true));
  ValueId r3 = b.op(OpKind::reshape, {r2}, Attrs().set("shape", std::vector<int64_t>{-1, 3}));  // -> x
  ValueId r4 = b.op(OpKind::reshape, {x}, Attrs().set("shape", std::vector<int64_t>{1, 6}));
  ValueId r5 = b.op(OpKind::reshape, {r4}, Attrs().set("shape", std::vector<int64_t>{6, 1}));  // reshape(x, [6, 1])
  ValueId cp = b.op(OpKind::copy, {r3});               // kept
  Graph& g = b.g;
  g.outputs = {c2, e2, sl2, r5, cp};
  g.verify();

  algebraic_simplification(g);
  g.verify();
  CHECK(g.node(c2).inputs[0] == x);
  CHECK(g.node(e2).inputs[0] == x);
  CHECK(g.node(sl2).inputs[0] == x);
  CHECK(g.node(r5).inputs[0] == x);
  CHECK(g.node(r5).attrs.get<std::vector<int64_t>>("shape") == std::vector<int64_t>{6, 1});
  CHECK(!g.node(r5).attrs.has("view_only"));
  CHECK(g.node(r2).inputs[0] == x);  // merged in place; view_only only when both were
  CHECK(!g.node(r2).attrs.has("view_only"));
  CHECK(g.node(cp).kind == NodeKind::Op);
  CHECK(g.node(cp).inputs[0] == x);

  dead_code_elimination(g);
  g.verify();
  CHECK(g.size() == 6);  // x, c2, e2, sl2, r5, copy
  CHECK(count_op(g, OpKind::neg) == 0);
  CHECK(count_op(g, OpKind::reshape) == 1);
}

TEST_CASE("simplification composes permutes") {
  Tensor real = zeros({2, 3, 5, 7});
  std::vector<std::vector<int64_t>> perms = {{1, 2, 0, 3}, {3, 2, 1, 0}, {0, -1, 1, 2}, {2, 0, 3, 1}};
  for (const auto& p : perms)
    for (const auto& q : perms) {
      Builder b;
      ValueId x = b.input({2, 3, 5, 7});
      ValueId a = b.op(OpKind::permute, {x}, Attrs().set("dims", p));
      ValueId c = b.op(OpKind::permute, {a}, Attrs().set("dims", q));
      ValueId y = b.op(OpKind::relu, {c});
      b.g.outputs = {y};
      algebraic_simplification(b.g);
      dead_code_elimination(b.g);
      b.g.verify();
      Tensor expect = real.permute(p).permute(q);
      ValueId in = b.g.node(b.g.outputs[0]).inputs[0];
      if (b.g.node(in).kind == NodeKind::Input) {
        CHECK(expect.strides() == real.strides());
        CHECK(b.g.size() == 2);
      } else {
        const Node& n = b.g.node(in);
        REQUIRE(n.op == OpKind::permute);
        CHECK(n.inputs[0] == 0);
        CHECK(real.permute(n.attrs.get<std::vector<int64_t>>("dims")).strides() == expect.strides());
        CHECK(b.g.size() == 3);
      }
    }
  Builder b;
  ValueId x = b.input({2, 3});
  ValueId id = b.op(OpKind::permute, {x}, Attrs().set("dims", std::vector<int64_t>{0, 1}));
  b.g.outputs = {id};
  algebraic_simplification(b.g);
  CHECK(b.g.outputs[0] == x);
}

TEST_CASE("simplification does not forward an output to a state that is written back") {
  Builder b;
  ValueId s = b.state(values_f32({1, 2}, {2}), "w");
  ValueId one = b.state(values_f32({1}, {}), "const_one");
  ValueId v = b.op(OpKind::mul, {s, one});  // the old value of w, returned
  ValueId upd = b.op(OpKind::add, {s, s});
  ValueId t = b.op(OpKind::mul, {s, one});  // read inside the step only: fine to forward
  ValueId u = b.op(OpKind::exp, {t});
  b.g.outputs = {v, u};
  b.g.writebacks = {{upd, s}};
  algebraic_simplification(b.g);
  b.g.verify();
  CHECK(b.g.outputs[0] == v);
  CHECK(b.g.node(u).inputs[0] == s);
}

TEST_CASE("pipeline: optimised graph computes the same values, dumps every stage") {
  Builder b;
  ValueId x = b.input({4, 3});
  ValueId bias = b.input({3});
  ValueId w = b.state(values_f32({.5f, -1.f, 2.f, .25f, 0.f, 3.f}, {3, 2}), "fc.weight");
  ValueId half = b.full({}, 0.5);
  ValueId two = b.full({}, 2.0);
  ValueId one = b.op(OpKind::mul, {half, two});
  ValueId zero = b.op(OpKind::sub, {one, b.full({}, 1.0)});
  ValueId xs = b.op(OpKind::mul, {x, one});
  ValueId xb = b.op(OpKind::add, {xs, bias});
  ValueId xt = b.op(OpKind::permute, {xb}, Attrs().set("dims", std::vector<int64_t>{1, 0}));
  ValueId xtt = b.op(OpKind::permute, {xt}, Attrs().set("dims", std::vector<int64_t>{1, 0}));
  ValueId h1 = b.op(OpKind::matmul, {xtt, w});
  ValueId xb2 = b.op(OpKind::add, {bias, x});  // the same as xb once x*1 is gone
  ValueId h2 = b.op(OpKind::matmul, {xb2, w});
  ValueId h = b.op(OpKind::add, {h1, b.op(OpKind::add, {h2, zero})});
  ValueId noise = b.randn({4, 2}, 3);
  ValueId out = b.op(OpKind::add, {h, b.op(OpKind::mul, {noise, zero})});  // noise*0 stays (not the identity)
  ValueId wn = b.op(OpKind::sub, {w, b.op(OpKind::mul, {w, b.full({3, 2}, 0.1)})});
  b.op(OpKind::exp, {h});  // dead
  Graph& g = b.g;
  g.outputs = {out, h};
  g.writebacks = {{wn, w}};
  g.verify();
  Graph original = g;

  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("duet-passes-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  PipelineOptions opts;
  opts.verify = true;
  opts.dump_dir = dir.string();
  std::vector<PassStats> stats = run_passes(g, opts);
  g.verify();

  REQUIRE(stats.size() >= 5);
  CHECK(stats[0].name == "dce");
  CHECK(stats[1].name == "cse");
  CHECK(stats[2].name == "constant_folding");
  CHECK(stats[3].name == "simplify");
  CHECK(stats[4].name == "dce");
  CHECK(stats.front().nodes_before == original.size());
  CHECK(stats.back().nodes_after == g.size());
  for (size_t k = 1; k < stats.size(); ++k) CHECK(stats[k].nodes_before == stats[k - 1].nodes_after);
  CHECK(!format_pass_stats(stats).empty());

  CHECK(std::filesystem::exists(dir / "00-captured.txt"));
  CHECK(std::filesystem::exists(dir / "00-captured.dot"));
  CHECK(std::filesystem::exists(dir / "01-dce.txt"));
  CHECK(std::filesystem::exists(dir / "03-constant_folding.dot"));
  std::ifstream last(dir / (std::string(stats.size() < 10 ? "0" : "") + std::to_string(stats.size()) + "-dce.txt"));
  std::stringstream text;
  text << last.rdbuf();
  CHECK(text.str() == g.str());
  std::filesystem::remove_all(dir);

  // What is left: x, bias, w, add(x, bias), matmul, const 0, add(h2, 0) (+0 is not the
  // identity of float addition), add(h, h), randn, mul, add, const 0.1, mul, sub.
  CHECK(count_op(g, OpKind::matmul) == 1);
  CHECK(count_op(g, OpKind::permute) == 0);
  CHECK(count_op(g, OpKind::exp) == 0);
  CHECK(count_op(g, OpKind::full) == 0);
  CHECK(count_op(g, OpKind::rand_normal) == 1);
  CHECK(count_kind(g, NodeKind::Input) == 2);
  CHECK(g.size() == 14);

  std::vector<Tensor> inputs = {values_f32({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {4, 3}),
                                values_f32({.5f, -.5f, 1.f}, {3})};
  check_same_values(evaluate(original, inputs), evaluate(g, inputs));

  // Running the pipeline again changes nothing.
  std::string once = g.str();
  run_passes(g, {});
  CHECK(g.str() == once);
}

TEST_CASE("pipeline on a large graph: duplicated layers collapse, passes stay linear") {
  // 2000 copies of the same 8-op block over one input: everything merges into one block.
  Builder b;
  ValueId x = b.input({8, 4});
  ValueId w = b.state(ones({4, 4}), "w");
  std::vector<ValueId> outs;
  for (int k = 0; k < 2000; ++k) {
    ValueId t = b.op(OpKind::permute, {w}, Attrs().set("dims", std::vector<int64_t>{1, 0}));
    ValueId tt = b.op(OpKind::permute, {t}, Attrs().set("dims", std::vector<int64_t>{1, 0}));
    ValueId m = b.op(OpKind::matmul, {x, tt});
    ValueId n = b.op(OpKind::neg, {b.op(OpKind::neg, {m})});
    ValueId one = b.full({}, 1.0);
    ValueId y = b.op(OpKind::mul, {n, one});
    outs.push_back(b.op(OpKind::relu, {y}));
  }
  b.g.outputs = outs;
  PipelineOptions opts;
  opts.verify = false;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<PassStats> stats = run_passes(b.g, opts);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  b.g.verify();
  CHECK(stats.front().nodes_before == 2 + 2000 * 8);
  CHECK(b.g.size() == 4);  // x, w, matmul(x, w), relu
  for (ValueId v : b.g.outputs) CHECK(v == 3);
  MESSAGE("pipeline on ", stats.front().nodes_before, " nodes: ", ms, " ms");
}

namespace {

// An optimizer-like update over states m and p from input g:
//   m' = m * 0.9 + g          (written back to m)
//   p' = p - m' * 0.1         (written back to p; the group root)
// plus, when `late_reader`, an output neg(m) of the OLD m placed after the update,
// and, when `view_reader`, m' computed from a transposed view of m instead.
struct UpdateGraph {
  Builder b;
  Tensor m = values_f32({1, 2, 3, 4, 5, 6}, {2, 3}), p = values_f32({6, 5, 4, 3, 2, 1}, {2, 3});
  Tensor g = values_f32({0.5f, -1, 2, 0, 1, -2}, {2, 3});

  UpdateGraph(bool late_reader, bool view_reader) {
    ValueId gv = b.input({2, 3});
    ValueId ms = b.state(m, "m"), ps = b.state(p, "p");
    ValueId m_read = ms;
    if (view_reader)  // m read through a view (a double transpose)
      m_read = b.op(OpKind::permute, {b.op(OpKind::permute, {ms}, Attrs().set("dims", std::vector<int64_t>{1, 0}))},
                    Attrs().set("dims", std::vector<int64_t>{1, 0}));
    ValueId m2 = b.op(OpKind::add, {b.op(OpKind::mul, {m_read, b.state(full({}, 0.9), "beta")}), gv});
    ValueId p2 = b.op(OpKind::sub, {ps, b.op(OpKind::mul, {m2, b.state(full({}, 0.1), "lr")})});
    b.g.outputs = {p2};
    if (late_reader) b.g.outputs.push_back(b.op(OpKind::neg, {ms}));
    b.g.writebacks = {{m2, ms}, {p2, ps}};
  }
};

std::vector<float> expected_m(const Tensor& m0, const Tensor& g) {
  std::vector<float> m = m0.to_vector<float>(), gv = g.to_vector<float>();
  for (size_t i = 0; i < m.size(); ++i) m[i] = m[i] * 0.9f + gv[i];
  return m;
}

}  // namespace

TEST_CASE("fusion: a state update joins the group that reads it, as a side store") {
  UpdateGraph u(false, false);
  std::vector<float> m0 = u.m.to_vector<float>(), p0 = u.p.to_vector<float>();
  FusionStats stats = fuse(u.b.g);
  u.b.g.verify();
  CHECK(stats.side_stores == 1);
  CHECK(count_kind(u.b.g, NodeKind::Fused) == 1);
  CHECK(u.b.g.writebacks.size() == 1);  // p's; m is stored by the kernel
  Executable exe(u.b.g, PlanStrategy::GreedyBySize);
  CHECK(exe.side_stores() == 1);
  CHECK(exe.kernel_steps() == 1);
  auto version = u.m.storage()->version();
  for (int run = 0; run < 2; ++run) {
    std::vector<float> m_want = expected_m(u.m, u.g), p_want = u.p.to_vector<float>();
    for (size_t i = 0; i < p_want.size(); ++i) p_want[i] -= m_want[i] * 0.1f;
    exe.run({u.g});
    std::vector<float> m_got = u.m.to_vector<float>(), p_got = u.p.to_vector<float>();
    for (size_t i = 0; i < m_want.size(); ++i) {
      CHECK(m_got[i] == doctest::Approx(m_want[i]).epsilon(1e-6));
      CHECK(p_got[i] == doctest::Approx(p_want[i]).epsilon(1e-6));
    }
  }
  CHECK(u.m.storage()->version() > version);  // in-place updates are visible to autograd's checks
  CHECK(m0 != u.m.to_vector<float>());
  CHECK(p0 != u.p.to_vector<float>());
}

TEST_CASE("fusion: no side store when the old state is read after the group or through a view") {
  for (bool view : {false, true}) {
    UpdateGraph u(!view, view);
    std::vector<float> m0 = u.m.to_vector<float>();
    std::vector<float> m_want = expected_m(u.m, u.g);
    FusionStats stats = fuse(u.b.g);
    u.b.g.verify();
    CHECK(stats.side_stores == 0);
    CHECK(u.b.g.writebacks.size() == 2);
    Executable exe(u.b.g, PlanStrategy::GreedyBySize);
    std::vector<Tensor> outs = exe.run({u.g});
    std::vector<float> m_got = u.m.to_vector<float>();
    for (size_t i = 0; i < m_want.size(); ++i) CHECK(m_got[i] == doctest::Approx(m_want[i]).epsilon(1e-6));
    if (!view) {  // the late reader saw the old m
      std::vector<float> late = outs[1].to_vector<float>();
      for (size_t i = 0; i < m0.size(); ++i) CHECK(late[i] == -m0[i]);
    }
  }
}
