// Tests of the memory-aware schedule (graph/schedule.h) on hand-built graphs: it frees
// big values sooner and the run computes the same values; reads of a state stay before
// the node that overwrites it; random ops keep their order; it never keeps an order whose
// arena is larger; reorder() renumbers every reference and rejects non-permutations.
#include <doctest/doctest.h>

#include <cmath>

#include "graph/executable.h"
#include "graph/fusion.h"
#include "graph/schedule.h"
#include "graph/step_memory.h"
#include "tests/graph_builder.h"

using namespace duet;
using namespace duet::graph;

namespace {

std::vector<float> values(const Tensor& t) { return t.to_vector<float>(); }

// Position of each old value id in an order.
std::vector<size_t> positions(const std::vector<ValueId>& order) {
  std::vector<size_t> pos(order.size());
  for (size_t i = 0; i < order.size(); ++i) pos[size_t(order[i])] = i;
  return pos;
}

}  // namespace

TEST_CASE("schedule: each big value is consumed before the next is made") {
  // Like a backward pass: four "gradients" of x made first, then each reduced. Capture
  // order holds all four at once; consuming each right away holds one.
  Builder b;
  ValueId x = b.input({256, 256});
  std::vector<ValueId> big, small;
  for (int k = 0; k < 4; ++k) big.push_back(b.op(OpKind::mul, {x, b.full({}, double(k + 2))}));
  for (ValueId v : big) small.push_back(b.op(OpKind::sum, {v}, Attrs().set("dims", std::vector<int64_t>{1})));
  b.g.outputs = small;
  Graph original = b.g;

  ScheduleStats s = schedule_for_memory(b.g, PlanStrategy::GreedyBySize);
  b.g.verify();
  CHECK(s.reordered);
  const int64_t one = 256 * 256 * 4;
  CHECK(s.arena_before >= 4 * one);
  CHECK(s.arena_after < 2 * one);
  CHECK(plan_step_memory(b.g, PlanStrategy::GreedyBySize).plan.arena_bytes == s.arena_after);
  // Every mul is now followed by its sum.
  for (size_t i = 0; i < b.g.size(); ++i)
    if (b.g.nodes[i].kind == NodeKind::Op && b.g.nodes[i].op == OpKind::mul) {
      REQUIRE(i + 1 < b.g.size());
      CHECK(b.g.nodes[i + 1].op == OpKind::sum);
      CHECK(b.g.nodes[i + 1].inputs[0] == ValueId(i));
    }

  Tensor xv = randn({256, 256});
  Executable before(original, PlanStrategy::GreedyBySize), after(b.g, PlanStrategy::GreedyBySize);
  std::vector<Tensor> want = before.run({xv}), got = after.run({xv});
  REQUIRE(want.size() == got.size());
  for (size_t i = 0; i < want.size(); ++i) CHECK(values(want[i]) == values(got[i]));
}

TEST_CASE("schedule: a state's readers stay before the node that overwrites it") {
  // p' = p - 1 is written back (computed into p when nothing reads p later) and allocates
  // nothing, so a greedy order alone would run it first; exp(p) and the view-reading
  // sum(transpose(p)) must still see the old p.
  Tensor p = tensor<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  const std::vector<float> p0 = values(p);
  Builder b;
  ValueId x = b.input({2, 3});
  ValueId ps = b.state(p, "p");
  ValueId e = b.op(OpKind::exp, {ps});
  ValueId t = b.op(OpKind::permute, {ps}, Attrs().set("dims", std::vector<int64_t>{1, 0}));
  ValueId st = b.op(OpKind::sum, {b.op(OpKind::mul, {t, b.full({}, 2.0)})}, Attrs().set("dims", std::vector<int64_t>{1}));
  ValueId y = b.op(OpKind::add, {e, x});
  ValueId p2 = b.op(OpKind::sub, {ps, b.full({}, 1.0)});
  b.g.outputs = {y, st};
  b.g.writebacks = {{p2, ps}};

  std::vector<size_t> pos = positions(memory_aware_order(b.g));
  CHECK(pos[size_t(e)] < pos[size_t(p2)]);
  CHECK(pos[size_t(st) - 1] < pos[size_t(p2)]);  // the mul reading the transposed view

  schedule_for_memory(b.g, PlanStrategy::GreedyBySize);
  b.g.verify();
  Executable exe(b.g, PlanStrategy::GreedyBySize);
  CHECK(exe.direct_writebacks() == 1);  // p' still computed straight into p
  std::vector<Tensor> outs = exe.run({zeros({2, 3})});
  std::vector<float> ys = values(outs[0]), sums = values(outs[1]), p1 = values(p);
  for (size_t i = 0; i < p0.size(); ++i) {
    CHECK(ys[i] == doctest::Approx(std::exp(p0[i])));
    CHECK(p1[i] == p0[i] - 1);
  }
  CHECK(sums == std::vector<float>{2 * (1 + 4), 2 * (2 + 5), 2 * (3 + 6)});
}

TEST_CASE("schedule: a group side-storing into a state runs after the state's other readers") {
  // m' = m * 0.5 + x and p' = p - m' fuse into one group that stores m' into m as it
  // goes; exp(m) read the old m before it and must still do so (its sum is the output).
  // Freeing nothing and allocating a buffer, exp would otherwise wait for the group.
  Tensor m = tensor<float>({1, 2, 3, 4}, {4}), p = tensor<float>({10, 20, 30, 40}, {4});
  Builder b;
  ValueId x = b.input({4});
  ValueId sm = b.state(m, "m"), sp = b.state(p, "p");
  ValueId e = b.op(OpKind::exp, {sm});
  ValueId m2 = b.op(OpKind::add, {b.op(OpKind::mul, {sm, b.full({}, 0.5)}), x});
  ValueId p2 = b.op(OpKind::sub, {sp, m2});
  b.g.outputs = {b.op(OpKind::sum, {e}, Attrs().set("dims", std::vector<int64_t>{0}))};
  b.g.writebacks = {{m2, sm}, {p2, sp}};
  FuseOptions no_prologues;
  no_prologues.reduction_prologues = false;
  REQUIRE(fuse(b.g, no_prologues).side_stores == 1);
  ValueId group = kNoValue, exp_node = kNoValue;
  for (size_t v = 0; v < b.g.size(); ++v) {
    if (b.g.nodes[v].kind == NodeKind::Fused) group = ValueId(v);
    if (b.g.nodes[v].kind == NodeKind::Op && b.g.nodes[v].op == OpKind::exp) exp_node = ValueId(v);
  }
  REQUIRE(group != kNoValue);
  REQUIRE(exp_node != kNoValue);
  std::vector<size_t> pos = positions(memory_aware_order(b.g));
  CHECK(pos[size_t(exp_node)] < pos[size_t(group)]);
  schedule_for_memory(b.g, PlanStrategy::GreedyBySize);
  Executable exe(b.g, PlanStrategy::GreedyBySize);
  float got = exe.run({tensor<float>({1, 1, 1, 1}, {4})})[0].item<float>();
  CHECK(got == doctest::Approx(std::exp(1.f) + std::exp(2.f) + std::exp(3.f) + std::exp(4.f)));
  CHECK(values(m) == std::vector<float>{1.5f, 2, 2.5f, 3});
}

TEST_CASE("schedule: a greedy order with a bigger arena is not kept") {
  // Greedy makes the five small s_i first (each allocates least), then big while they
  // all wait for t: 1.5 MB at once where capture order needs about 1 MB.
  Builder b;
  ValueId X = b.input({256, 1024}), Y = b.input({256, 100});
  const Attrs all = Attrs().set("dims", std::vector<int64_t>{0, 1});
  ValueId big = b.op(OpKind::exp, {X});
  ValueId t = b.op(OpKind::sum, {big}, all);
  std::vector<ValueId> outs;
  for (int i = 0; i < 5; ++i) {
    ValueId si = b.op(OpKind::mul, {Y, b.full({}, double(i + 2))});
    outs.push_back(b.op(OpKind::sum, {b.op(OpKind::mul, {si, t})}, all));
  }
  b.g.outputs = outs;
  const std::string before = b.g.str();
  std::vector<ValueId> order = memory_aware_order(b.g);
  std::vector<size_t> pos = positions(order);
  REQUIRE(pos[size_t(big)] > pos[size_t(big) + 3]);  // the heuristic did move big after an s_i
  Graph candidate = b.g;
  reorder(candidate, order);
  const int64_t greedy = plan_step_memory(candidate, PlanStrategy::GreedyBySize).plan.arena_bytes;
  ScheduleStats s = schedule_for_memory(b.g, PlanStrategy::GreedyBySize);
  CHECK(greedy > s.arena_before);
  CHECK_FALSE(s.reordered);
  CHECK(s.arena_after == s.arena_before);
  CHECK(b.g.str() == before);
}

TEST_CASE("schedule: random ops keep capture order; other factories move freely") {
  // Smaller allocations come first in a greedy order; random draws must not swap, since
  // each takes the next counters of the generator.
  Builder b;
  ValueId big = b.randn({64, 64}), small = b.randn({4});
  ValueId fill_big = b.full({64, 64}, 1.0), fill_small = b.full({4}, 1.0);
  auto reduce = [&](ValueId v) { return b.op(OpKind::sum, {v}, Attrs().set("dims", std::vector<int64_t>{0})); };
  b.g.outputs = {reduce(big), reduce(small), reduce(fill_big), reduce(fill_small)};
  std::vector<size_t> pos = positions(memory_aware_order(b.g));
  CHECK(pos[size_t(big)] < pos[size_t(small)]);
  CHECK(pos[size_t(fill_small)] < pos[size_t(fill_big)]);
}

TEST_CASE("schedule: an order that is already best is kept") {
  Builder b;
  ValueId x = b.input({32, 32});
  ValueId y = b.op(OpKind::sum, {b.op(OpKind::exp, {x})}, Attrs().set("dims", std::vector<int64_t>{1}));
  b.g.outputs = {y};
  Graph before = b.g;
  ScheduleStats s = schedule_for_memory(b.g, PlanStrategy::GreedyBySize);
  CHECK_FALSE(s.reordered);
  CHECK(s.arena_after == s.arena_before);
  CHECK(b.g.str() == before.str());
}

TEST_CASE("reorder renumbers inputs, outputs and write-backs; rejects non-permutations") {
  Tensor m = zeros({3});
  Builder b;
  ValueId x = b.input({3});
  ValueId ms = b.state(m, "m");
  ValueId a = b.op(OpKind::exp, {x});
  ValueId c = b.op(OpKind::add, {ms, x});
  b.g.outputs = {a};
  b.g.writebacks = {{c, ms}};
  std::vector<ValueId> remap = reorder(b.g, {ms, x, c, a});
  b.g.verify();
  CHECK(remap == std::vector<ValueId>{1, 0, 3, 2});
  CHECK(b.g.node(0).kind == NodeKind::State);
  CHECK(b.g.node(2).inputs == std::vector<ValueId>{0, 1});
  CHECK(b.g.node(3).inputs == std::vector<ValueId>{1});
  CHECK(b.g.outputs == std::vector<ValueId>{3});
  CHECK(b.g.writebacks[0].value == 2);
  CHECK(b.g.writebacks[0].state == 0);
  CHECK_THROWS_AS(reorder(b.g, {0, 0, 1, 2}), InternalError);
  CHECK_THROWS_AS(reorder(b.g, {0, 1, 2}), InternalError);
}
