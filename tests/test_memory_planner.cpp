// Tests for the static memory planner (graph/memory_planner.h) and graph buffer lifetimes
// (graph/lifetimes.h): request lists with known optimal arenas (chains, in-place chains,
// diamonds), alignment, pinned and zero-byte buffers, the validator rejecting unsound
// plans, random lifetimes (validator passes, arena >= lower bound), greedy quality on
// model-like chains, and lifetimes of small hand-built graphs (views, outputs, in-place).
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "core/error.h"
#include "graph/lifetimes.h"
#include "graph/memory_planner.h"

using namespace duet;
using namespace duet::graph;

namespace {

BufferRequest req(int64_t bytes, int32_t first, int32_t last, int32_t src = -1, bool pinned = false) {
  BufferRequest r;
  r.bytes = bytes;
  r.first_step = first;
  r.last_step = last;
  r.inplace_source = src;
  r.pinned = pinned;
  return r;
}

MemoryPlan plan_checked(const std::vector<BufferRequest>& reqs, PlanStrategy s, int64_t alignment = 64) {
  MemoryPlan p = plan_memory(reqs, s, alignment);
  check_plan(reqs, p);
  return p;
}

// A chain: buffer i is made on step i and read on step i + 1 (the last one is an output).
std::vector<BufferRequest> chain(int n, int64_t bytes, bool inplace) {
  std::vector<BufferRequest> r;
  for (int i = 0; i < n; ++i) r.push_back(req(bytes, i, i + 1 < n ? i + 1 : i, inplace && i > 0 ? i - 1 : -1));
  return r;
}

}  // namespace

TEST_CASE("planner: empty request list") {
  std::vector<BufferRequest> none;
  for (PlanStrategy s : {PlanStrategy::Naive, PlanStrategy::GreedyBySize}) {
    MemoryPlan p = plan_checked(none, s);
    CHECK(p.offsets.empty());
    CHECK(p.arena_bytes == 0);
    CHECK(p.naive_bytes == 0);
    CHECK(p.lower_bound_bytes == 0);
    CHECK(p.inplace_reuses == 0);
  }
}

TEST_CASE("planner: naive gives every buffer its own aligned slot") {
  std::vector<BufferRequest> r = {req(100, 0, 1), req(64, 1, 2), req(1, 2, 3), req(0, 3, 3), req(200, 0, 3)};
  MemoryPlan p = plan_checked(r, PlanStrategy::Naive);
  CHECK(p.strategy == "naive");
  CHECK(p.naive_bytes == 100 + 64 + 1 + 200);
  CHECK(p.arena_bytes == 128 + 64 + 64 + 256);
  CHECK(p.offsets == std::vector<int64_t>{0, 128, 192, 0, 256});
}

TEST_CASE("planner: a chain of equal buffers needs two, one with in-place") {
  const int64_t s = 4096;
  MemoryPlan p = plan_checked(chain(12, s, false), PlanStrategy::GreedyBySize);
  CHECK(p.strategy == "greedy");
  CHECK(p.arena_bytes == 2 * s);
  CHECK(p.lower_bound_bytes == 2 * s);
  CHECK(p.naive_bytes == 12 * s);
  CHECK(p.inplace_reuses == 0);

  MemoryPlan q = plan_checked(chain(12, s, true), PlanStrategy::GreedyBySize);
  CHECK(q.arena_bytes == s);
  CHECK(q.lower_bound_bytes == s);
  CHECK(q.inplace_reuses == 11);
  for (int64_t off : q.offsets) CHECK(off == 0);

  // Naive ignores lifetimes, and reports the in-place pairs it happens to have (none).
  MemoryPlan n = plan_checked(chain(12, s, true), PlanStrategy::Naive);
  CHECK(n.arena_bytes == 12 * s);
  CHECK(n.inplace_reuses == 0);
}

TEST_CASE("planner: in-place hints are used only when legal") {
  SUBCASE("source smaller than the user") {
    std::vector<BufferRequest> r = {req(128, 0, 1), req(256, 1, 2, 0)};
    MemoryPlan p = plan_checked(r, PlanStrategy::GreedyBySize);
    CHECK(!inplace_is_legal(r, 1));
    CHECK(p.inplace_reuses == 0);
    CHECK(p.arena_bytes == 384);
    CHECK(p.lower_bound_bytes == 384);
  }
  SUBCASE("source larger than the user: the user sits inside it") {
    std::vector<BufferRequest> r = {req(256, 0, 1), req(128, 1, 2, 0), req(128, 2, 3)};
    MemoryPlan p = plan_checked(r, PlanStrategy::GreedyBySize);
    CHECK(p.inplace_reuses == 1);
    CHECK(p.offsets[1] == p.offsets[0]);
    CHECK(p.arena_bytes == 256);
    CHECK(p.lower_bound_bytes == 256);
  }
  SUBCASE("source still alive after the user's first step") {
    std::vector<BufferRequest> r = {req(128, 0, 2), req(128, 1, 2, 0)};
    CHECK(!inplace_is_legal(r, 1));
    MemoryPlan p = plan_checked(r, PlanStrategy::GreedyBySize);
    CHECK(p.inplace_reuses == 0);
    CHECK(p.arena_bytes == 256);
  }
  SUBCASE("pinned source, self reference, out-of-range") {
    std::vector<BufferRequest> r = {req(128, 0, 1, -1, true), req(128, 1, 2, 0), req(128, 2, 3, 2)};
    CHECK(!inplace_is_legal(r, 1));
    CHECK(!inplace_is_legal(r, 2));
    MemoryPlan p = plan_checked(r, PlanStrategy::GreedyBySize);
    CHECK(p.inplace_reuses == 0);
    std::vector<BufferRequest> bad = {req(128, 0, 1), req(128, 1, 2, 5)};
    CHECK_THROWS_AS(plan_memory(bad, PlanStrategy::GreedyBySize), InternalError);
  }
  SUBCASE("two users claim the same source: only one gets it") {
    std::vector<BufferRequest> r = {req(128, 0, 1), req(128, 1, 2, 0), req(128, 1, 2, 0)};
    MemoryPlan p = plan_checked(r, PlanStrategy::GreedyBySize);
    CHECK(p.inplace_reuses == 1);
    CHECK(p.arena_bytes == 256);
    CHECK(p.lower_bound_bytes == 256);
  }
}

TEST_CASE("planner: diamond") {
  // a -> (b, c) -> d: on step 2 a, b and c are live; on step 3 b, c and d.
  const int64_t s = 1024;
  std::vector<BufferRequest> r = {req(s, 0, 2), req(s, 1, 3), req(s, 2, 3), req(s, 3, 4), req(s, 4, 4)};
  MemoryPlan p = plan_checked(r, PlanStrategy::GreedyBySize);
  CHECK(p.lower_bound_bytes == 3 * s);
  CHECK(p.arena_bytes == 3 * s);
  // d may reuse b in place (b dies on d's step): the pair is counted once.
  r[3].inplace_source = 1;
  MemoryPlan q = plan_checked(r, PlanStrategy::GreedyBySize);
  CHECK(q.lower_bound_bytes == 2 * s + s);  // step 2 still holds a, b, c
  CHECK(q.arena_bytes == 3 * s);
  CHECK(q.inplace_reuses == 1);
}

TEST_CASE("planner: alignment") {
  std::vector<BufferRequest> r = {req(100, 0, 1), req(33, 0, 1), req(7, 1, 2), req(300, 2, 3), req(1, 0, 3)};
  for (int64_t align : {1, 8, 64, 256, 4096}) {
    CAPTURE(align);
    for (PlanStrategy s : {PlanStrategy::Naive, PlanStrategy::GreedyBySize}) {
      MemoryPlan p = plan_checked(r, s, align);
      CHECK(p.alignment == align);
      CHECK(p.arena_bytes % align == 0);
      for (int64_t off : p.offsets) CHECK(off % align == 0);
    }
  }
  // Step 2 holds 7 + 300 + 1 bytes; with no padding greedy reaches that.
  MemoryPlan tight = plan_checked(r, PlanStrategy::GreedyBySize, 1);
  CHECK(tight.lower_bound_bytes == 308);
  CHECK(tight.arena_bytes == 308);
  CHECK_THROWS_AS(plan_memory(r, PlanStrategy::GreedyBySize, 48), InternalError);
}

TEST_CASE("planner: pinned and zero-byte buffers stay out of the arena") {
  std::vector<BufferRequest> r = {req(1 << 20, 0, 5, -1, true), req(256, 1, 2), req(0, 1, 4), req(256, 2, 3, 1),
                                  req(512, 0, 5, -1, true)};
  for (PlanStrategy s : {PlanStrategy::Naive, PlanStrategy::GreedyBySize}) {
    MemoryPlan p = plan_checked(r, s);
    CHECK(p.offsets[0] == -1);
    CHECK(p.offsets[4] == -1);
    CHECK(p.offsets[2] == 0);
    CHECK(p.naive_bytes == 512);
  }
  MemoryPlan g = plan_checked(r, PlanStrategy::GreedyBySize);
  CHECK(g.arena_bytes == 256);
  CHECK(g.lower_bound_bytes == 256);
}

TEST_CASE("planner: check_plan rejects unsound plans") {
  std::vector<BufferRequest> r = {req(128, 0, 1), req(128, 1, 2), req(128, 3, 4), req(64, 0, 4, -1, true)};
  MemoryPlan good = plan_checked(r, PlanStrategy::GreedyBySize);
  CHECK(good.arena_bytes == 256);

  MemoryPlan p = good;
  p.offsets[1] = p.offsets[0];  // live together on step 1
  CHECK_THROWS_AS(check_plan(r, p), InternalError);
  p = good;
  p.offsets[1] = p.offsets[0] + 64;  // partial overlap
  p.arena_bytes = 512;
  CHECK_THROWS_AS(check_plan(r, p), InternalError);
  p = good;
  p.offsets[2] = 32;  // misaligned
  CHECK_THROWS_AS(check_plan(r, p), InternalError);
  p = good;
  p.offsets[2] = good.arena_bytes;  // past the end
  CHECK_THROWS_AS(check_plan(r, p), InternalError);
  p = good;
  p.offsets[3] = 0;  // pinned buffers have no offset
  CHECK_THROWS_AS(check_plan(r, p), InternalError);
  p = good;
  p.offsets.pop_back();
  CHECK_THROWS_AS(check_plan(r, p), InternalError);

  // Sharing is allowed for a legal in-place pair at the same offset, and only then.
  std::vector<BufferRequest> ip = {req(128, 0, 1), req(128, 1, 2, 0)};
  MemoryPlan shared;
  shared.offsets = {0, 0};
  shared.arena_bytes = 128;
  CHECK_NOTHROW(check_plan(ip, shared));
  ip[0].last_step = 2;  // the source outlives the user's first step: no longer legal
  CHECK_THROWS_AS(check_plan(ip, shared), InternalError);
}

TEST_CASE("planner: random lifetimes") {
  std::mt19937 rng(1234);
  for (int iter = 0; iter < 300; ++iter) {
    const int n = int(rng() % 80);
    const int steps = 1 + int(rng() % 40);
    std::vector<BufferRequest> r;
    for (int i = 0; i < n; ++i) {
      int32_t first = int32_t(rng() % steps);
      int32_t last = first + int32_t(rng() % 8);
      int64_t bytes = rng() % 5 == 0 ? int64_t(rng() % 100) : int64_t(1 + rng() % 5000);
      BufferRequest b = req(bytes, first, last, -1, rng() % 10 == 0);
      if (i > 0 && rng() % 3 == 0) {
        // Often legal (a source dying on this step), sometimes not.
        int32_t src = int32_t(rng() % i);
        if (rng() % 2 == 0) b.first_step = r[size_t(src)].last_step, b.last_step = b.first_step + int32_t(rng() % 6);
        b.inplace_source = src;
      }
      r.push_back(b);
    }
    int64_t sum = 0, sum_aligned = 0;
    for (const BufferRequest& b : r)
      if (!b.pinned) sum += b.bytes, sum_aligned += (b.bytes + 63) / 64 * 64;
    CAPTURE(iter);
    MemoryPlan naive = plan_checked(r, PlanStrategy::Naive);
    CHECK(naive.naive_bytes == sum);
    CHECK(naive.arena_bytes == sum_aligned);
    MemoryPlan greedy = plan_checked(r, PlanStrategy::GreedyBySize);
    CHECK(greedy.naive_bytes == sum);
    CHECK(greedy.arena_bytes >= greedy.lower_bound_bytes);
    CHECK(greedy.arena_bytes <= naive.arena_bytes);
    const int64_t align = int64_t(1) << (rng() % 8);
    MemoryPlan other = plan_checked(r, PlanStrategy::GreedyBySize, align);
    CHECK(other.arena_bytes >= other.lower_bound_bytes);
  }
}

TEST_CASE("planner: greedy is near the lower bound on model-like chains") {
  // Forward chains of layers with varying activation sizes, residual connections (a value
  // read again three steps later) and in-place elementwise ops.
  std::mt19937 rng(42);
  const int64_t sizes[] = {4096, 16384, 65536, 16384, 8192, 262144};
  for (int iter = 0; iter < 50; ++iter) {
    std::vector<BufferRequest> r;
    const int n = 20 + int(rng() % 60);
    for (int i = 0; i < n; ++i) {
      const int64_t bytes = sizes[(size_t(i) / 4 + rng() % 2) % 6];
      BufferRequest b = req(bytes, i, std::min(i + 1, n - 1));
      if (i % 4 == 0) b.last_step = std::min(i + 3, n - 1);  // residual
      if (i > 0 && r.back().last_step == i && r.back().bytes >= bytes && rng() % 2) b.inplace_source = i - 1;
      r.push_back(b);
    }
    CAPTURE(iter);
    MemoryPlan p = plan_checked(r, PlanStrategy::GreedyBySize);
    CHECK(p.arena_bytes >= p.lower_bound_bytes);
    CHECK(double(p.arena_bytes) <= 1.10 * double(p.lower_bound_bytes));
  }
}

TEST_CASE("planner: describe") {
  MemoryPlan p = plan_checked(chain(8, 1 << 20, true), PlanStrategy::GreedyBySize);
  CHECK(describe(p) == "greedy: arena 1.05 MB, naive 8.39 MB, lower bound 1.05 MB (1.00x), 7 in-place reuses");
  MemoryPlan q = plan_checked({req(100, 0, 0)}, PlanStrategy::Naive);
  CHECK(describe(q) == "naive: arena 128 B, naive 100 B, lower bound 100 B (1.28x), 0 in-place reuses");
  MemoryPlan e = plan_checked({}, PlanStrategy::GreedyBySize);
  CHECK(describe(e) == "greedy: arena 0 B, naive 0 B, lower bound 0 B (-), 0 in-place reuses");
}

// ---- lifetimes of graphs

namespace {

Node input_node(int index, Shape shape, DType dt = DType::Float32) {
  Node n;
  n.kind = NodeKind::Input;
  n.input_index = index;
  n.meta.shape = std::move(shape);
  n.meta.dtype = dt;
  return n;
}

Node state_node(const char* name, Shape shape) {
  Node n;
  n.kind = NodeKind::State;
  n.name = name;
  n.meta.shape = shape;
  n.state = std::make_shared<TensorImpl>(nullptr, shape, contiguous_strides(shape), 0, DType::Float32, Device());
  return n;
}

Node op_node(OpKind op, std::vector<ValueId> inputs, Shape shape, Attrs attrs = {}, DType dt = DType::Float32) {
  Node n;
  n.kind = NodeKind::Op;
  n.op = op;
  n.inputs = std::move(inputs);
  n.attrs = std::move(attrs);
  n.meta.shape = std::move(shape);
  n.meta.dtype = dt;
  return n;
}

}  // namespace

TEST_CASE("lifetimes: empty graph") {
  Graph g;
  CHECK(compute_lifetimes(g).empty());
  CHECK(value_buffers(g).empty());
}

TEST_CASE("lifetimes: chain with views, state, in-place and outputs") {
  Graph g;
  g.add(input_node(0, {4, 8}));                                                          // %0
  g.add(state_node("w", {8, 16}));                                                       // %1
  g.add(op_node(OpKind::matmul, {0, 1}, {4, 16}));                                       // %2
  g.add(op_node(OpKind::relu, {2}, {4, 16}));                                            // %3 in place of %2
  g.add(op_node(OpKind::reshape, {3}, {64}, Attrs().set("shape", std::vector<int64_t>{64})));  // %4 view of %3
  g.add(op_node(OpKind::exp, {4}, {64}));                                                // %5 input is a view
  g.add(op_node(OpKind::add, {5, 5}, {64}));                                             // %6 in place of %5
  g.add(op_node(OpKind::reshape, {6}, {8, 8}, Attrs().set("shape", std::vector<int64_t>{8, 8})));  // %7 view of %6
  g.add(op_node(OpKind::sum, {7}, {}, Attrs().set("dims", std::vector<int64_t>{}).set("keepdim", false)));  // %8
  g.outputs = {7};
  g.verify();

  std::vector<BufferRequest> r = compute_lifetimes(g);
  REQUIRE(r.size() == 9);
  CHECK(r[0].pinned);
  CHECK(r[1].pinned);
  CHECK(r[0].bytes == 4 * 8 * 4);
  CHECK(r[0].last_step == 2);
  CHECK(r[2].bytes == 4 * 16 * 4);
  CHECK(r[2].first_step == 2);
  CHECK(r[2].last_step == 3);
  CHECK(r[3].inplace_source == 2);
  CHECK(r[3].last_step == 5);  // extended through the view %4 to its use at %5
  CHECK(r[4].bytes == 0);
  CHECK(r[4].first_step == 4);
  CHECK(r[5].inplace_source == -1);  // its first input is a view
  CHECK(r[5].last_step == 6);
  CHECK(r[6].inplace_source == 5);  // add(x, x) may overwrite x
  CHECK(r[6].last_step == 8);       // the output %7 views it: alive to the end
  CHECK(r[7].bytes == 0);
  CHECK(r[7].last_step == 8);
  CHECK(r[8].bytes == 4);
  CHECK(r[8].last_step == 8);  // unused: dies where it is made
  for (size_t i = 0; i < r.size(); ++i) CHECK(r[i].first_step == int32_t(i));

  std::vector<ValueId> buf = value_buffers(g);
  CHECK(buf == std::vector<ValueId>{0, 1, 2, 3, 3, 5, 6, 6, 8});

  MemoryPlan p = plan_checked(r, PlanStrategy::GreedyBySize);
  CHECK(p.inplace_reuses == 2);
  CHECK(p.naive_bytes == 256 + 256 + 256 + 256 + 4);
  CHECK(p.arena_bytes >= p.lower_bound_bytes);

  // The caller can veto in-place reuse.
  std::vector<BufferRequest> none = compute_lifetimes(g, [](const Node&, size_t) { return false; });
  for (const BufferRequest& b : none) CHECK(b.inplace_source == -1);
}

TEST_CASE("lifetimes: chains of views of inputs, write-backs, outputs never overwritten") {
  Graph g;
  g.add(input_node(0, {6, 4}));                                                                  // %0
  g.add(state_node("m", {4, 6}));                                                                // %1
  g.add(op_node(OpKind::permute, {0}, {4, 6}, Attrs().set("dims", std::vector<int64_t>{1, 0})));  // %2 view of %0
  g.add(op_node(OpKind::reshape, {2}, {24}, Attrs().set("shape", std::vector<int64_t>{24})));     // %3 view of view
  g.add(op_node(OpKind::neg, {3}, {24}));                                                        // %4
  g.add(op_node(OpKind::relu, {4}, {24}));                                                       // %5 (output)
  g.add(op_node(OpKind::neg, {5}, {24}));                                                        // %6: %5 escapes
  g.add(op_node(OpKind::mul, {1, 1}, {4, 6}));                                                   // %7 (write-back)
  g.add(op_node(OpKind::abs, {6}, {24}));                                                        // %8 in place of %6
  g.outputs = {5, 8};
  g.writebacks = {{7, 1}};
  g.verify();

  std::vector<BufferRequest> r = compute_lifetimes(g);
  std::vector<ValueId> buf = value_buffers(g);
  CHECK(buf[2] == 0);
  CHECK(buf[3] == 0);
  CHECK(r[0].last_step == 4);  // through the chain of views
  CHECK(r[2].bytes == 0);
  CHECK(r[3].bytes == 0);
  CHECK(r[4].inplace_source == -1);  // its input is a view of a pinned input
  CHECK(r[5].inplace_source == 4);
  CHECK(r[5].last_step == 8);  // output
  CHECK(r[6].inplace_source == -1);  // %5 is an output: it must not be overwritten
  CHECK(r[7].inplace_source == -1);  // source is state
  CHECK(r[7].last_step == 8);        // write-back value
  CHECK(r[8].inplace_source == 6);
  MemoryPlan p = plan_checked(r, PlanStrategy::GreedyBySize);
  CHECK(p.inplace_reuses == 2);
}

TEST_CASE("lifetimes: no in-place through an aliasing view, dtype change or size change") {
  Graph g;
  g.add(input_node(0, {4, 4}));                                                                  // %0
  g.add(op_node(OpKind::exp, {0}, {4, 4}));                                                      // %1
  g.add(op_node(OpKind::permute, {1}, {4, 4}, Attrs().set("dims", std::vector<int64_t>{1, 0})));  // %2 = %1^T
  g.add(op_node(OpKind::add, {1, 2}, {4, 4}));                                                   // %3: reads %1 transposed
  g.add(op_node(OpKind::cast, {3}, {4, 4}, Attrs().set("dtype", DType::Int32), DType::Int32));   // %4 same bytes, other dtype
  g.add(op_node(OpKind::add, {4, 0}, {4, 4}));                                                   // %5 int32 + float32
  g.add(op_node(OpKind::sum, {5}, {4}, Attrs().set("dims", std::vector<int64_t>{0}).set("keepdim", false)));  // %6
  g.add(op_node(OpKind::add, {6, 0}, {4, 4}));                                                   // %7 broadcast: bigger
  g.outputs = {7};
  g.verify();

  std::vector<BufferRequest> r = compute_lifetimes(g);
  CHECK(r[1].last_step == 3);
  CHECK(r[3].inplace_source == -1);
  CHECK(r[4].inplace_source == -1);  // cast is not kCanInplace anyway
  CHECK(r[5].inplace_source == -1);  // int32 source, float32 result
  CHECK(r[7].inplace_source == -1);  // 16 bytes source, 64 bytes result
  plan_checked(r, PlanStrategy::GreedyBySize);
}

TEST_CASE("lifetimes: as_strided_scatter(x, x) is not done in place") {
  // x scattered into a transposed window of itself reads x's elements into other places:
  // writing into x's buffer would overwrite elements before they are read (fuzz seed 2996189).
  Graph g;
  g.add(input_node(0, {2, 2}));                    // %0
  g.add(op_node(OpKind::exp, {0}, {2, 2}));        // %1
  Attrs window = Attrs().set("size", std::vector<int64_t>{2, 2}).set("stride", std::vector<int64_t>{1, 2}).set("offset", int64_t(0));
  g.add(op_node(OpKind::as_strided_scatter, {1, 1}, {2, 2}, window));  // %2
  g.add(op_node(OpKind::exp, {0}, {2, 2}));        // %3
  g.add(op_node(OpKind::as_strided_scatter, {3, 0}, {2, 2}, window));  // %4: src is another value
  g.outputs = {2, 4};
  g.verify();
  std::vector<BufferRequest> r = compute_lifetimes(g);
  CHECK(r[2].inplace_source == -1);
  CHECK(r[4].inplace_source == 3);
  plan_checked(r, PlanStrategy::GreedyBySize);
}

TEST_CASE("lifetimes: fused nodes use the caller's predicate") {
  Graph g;
  g.add(input_node(0, {32}));
  g.add(op_node(OpKind::exp, {0}, {32}));
  Node f;
  f.kind = NodeKind::Fused;
  f.name = "fused_tanh_mul";
  f.inputs = {1, 0};
  f.meta.shape = {32};
  g.add(std::move(f));
  g.outputs = {2};

  CHECK(compute_lifetimes(g)[2].inplace_source == -1);  // default: not for fused nodes
  auto fused_ok = [](const Node& n, size_t k) { return n.kind == NodeKind::Fused || default_can_inplace(n, k); };
  std::vector<BufferRequest> r = compute_lifetimes(g, fused_ok);
  CHECK(r[2].inplace_source == 1);
  // Any input the predicate allows qualifies, the first one that dies here winning.
  auto second_only = [](const Node& n, size_t k) { return n.kind == NodeKind::Fused && k == 1; };
  CHECK(compute_lifetimes(g, second_only)[2].inplace_source == -1);  // input 1 is the graph's input
  std::swap(g.nodes[2].inputs[0], g.nodes[2].inputs[1]);
  CHECK(compute_lifetimes(g, second_only)[2].inplace_source == 1);
  CHECK(r[2].bytes == 128);
  MemoryPlan p = plan_checked(r, PlanStrategy::GreedyBySize);
  CHECK(p.arena_bytes == 128);
  CHECK(p.inplace_reuses == 1);
}
