// The static memory planner: given each buffer's size and the schedule steps on which it
// is live, assigns every buffer an offset in one preallocated arena so that buffers alive
// at the same time never overlap (in the manner of TFLite's ArenaPlanner and ggml-alloc).
// It is a pure function of the request list: no tensors, no kernels, no graph.
//
//   std::vector<BufferRequest> reqs = compute_lifetimes(g);          // graph/lifetimes.h
//   MemoryPlan plan = plan_memory(reqs, PlanStrategy::GreedyBySize);
//   check_plan(reqs, plan);                                           // throws if unsound
//   std::byte* base = arena + plan.offsets[b];                        // buffer b's memory
//
// In-place reuse: a buffer may name an `inplace_source` whose memory it is allowed to take
// over, because its producer reads each source element before writing the same element
// (kCanInplace ops). The planner uses the hint only when it is legal (see
// inplace_is_legal) and does not collide with anything else.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace duet::graph {

struct BufferRequest {
  int64_t bytes = 0;
  int32_t first_step = 0;   // live on [first_step, last_step] of the schedule, inclusive
  int32_t last_step = 0;
  bool pinned = false;      // owned outside the arena (inputs, state): gets offset -1
  int32_t inplace_source = -1;  // a buffer whose memory this one may reuse, or -1
};

struct MemoryPlan {
  std::vector<int64_t> offsets;   // one per request; -1 for pinned buffers
  int64_t arena_bytes = 0;        // a multiple of `alignment`
  int64_t naive_bytes = 0;        // sum of the unpinned buffers' bytes (no padding)
  int64_t lower_bound_bytes = 0;  // max over steps of the bytes live at once (an in-place
                                  // pair counted once): no plan can use less
  std::string strategy;           // "naive" or "greedy"
  int32_t inplace_reuses = 0;     // buffers placed on top of their in-place source
  int64_t alignment = 64;         // every unpinned offset is a multiple of this
};

enum class PlanStrategy {
  Naive,         // every buffer its own slot, one after another
  GreedyBySize,  // largest first, each into the best-fitting gap among its contemporaries
};

// Plans the arena. `alignment` must be a power of two. A malformed request (negative
// size, last_step < first_step, inplace_source out of range) is a caller bug and throws
// duet::InternalError; an in-place hint that is not legal is simply not used.
MemoryPlan plan_memory(std::span<const BufferRequest> buffers, PlanStrategy strategy, int64_t alignment = 64);

// Whether buffers[b] may legally share its in-place source's memory: the source exists,
// is another unpinned buffer, dies exactly on b's first step and is at least as large.
bool inplace_is_legal(std::span<const BufferRequest> buffers, size_t b);

// The lower bound alone (what MemoryPlan::lower_bound_bytes reports).
int64_t live_bytes_lower_bound(std::span<const BufferRequest> buffers);

// "greedy: arena 1.23 MB, naive 4.56 MB, lower bound 1.20 MB (1.03x), 3 in-place reuses"
std::string describe(const MemoryPlan& plan);

// Throws duet::InternalError if the plan is unsound: a size mismatch, a pinned buffer
// with an offset or an unpinned one without, a misaligned offset, a buffer past the arena
// end, or two buffers with intersecting lifetimes overlapping in memory (allowed only for
// a buffer placed exactly on its legal in-place source).
void check_plan(std::span<const BufferRequest> buffers, const MemoryPlan& plan);

}  // namespace duet::graph
