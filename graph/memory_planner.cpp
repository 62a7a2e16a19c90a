// The static memory planner (see graph/memory_planner.h): naive and greedy-by-size
// placement, the live-bytes lower bound, a one-line summary and the plan validator.
//
// Greedy-by-size is the classic offline heuristic (TFLite "GreedyBySize"): taking buffers
// largest first means the big ones claim the low offsets and small ones fill the holes
// left between them, which on the chains and residual patterns of real models lands within
// a few percent of the live-bytes lower bound. Placement is O(n * placed) with a list kept
// sorted by offset, which is fine for graphs of tens of thousands of values.
#include "graph/memory_planner.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "core/error.h"

namespace duet::graph {
namespace {

int64_t align_up(int64_t x, int64_t a) { return (x + a - 1) / a * a; }

bool lifetimes_intersect(const BufferRequest& a, const BufferRequest& b) {
  return a.first_step <= b.last_step && b.first_step <= a.last_step;
}

bool memory_overlaps(int64_t off_a, int64_t bytes_a, int64_t off_b, int64_t bytes_b) {
  return off_a < off_b + bytes_b && off_b < off_a + bytes_a;
}

void validate_requests(std::span<const BufferRequest> buffers, int64_t alignment) {
  DUET_ASSERT(alignment > 0 && (alignment & (alignment - 1)) == 0, "memory planner: alignment ", alignment,
              " is not a power of two");
  for (size_t i = 0; i < buffers.size(); ++i) {
    const BufferRequest& b = buffers[i];
    DUET_ASSERT(b.bytes >= 0, "memory planner: buffer ", i, " has negative size ", b.bytes);
    DUET_ASSERT(b.first_step <= b.last_step, "memory planner: buffer ", i, " lives on [", b.first_step, ", ",
                b.last_step, "]");
    DUET_ASSERT(b.inplace_source >= -1 && b.inplace_source < int64_t(buffers.size()), "memory planner: buffer ", i,
                " names in-place source ", b.inplace_source, " of ", buffers.size());
  }
}

// Whether a and b sit legally on top of each other: one is the other's legal in-place
// source and they start at the same offset (the smaller then lies inside the larger).
bool legal_share(std::span<const BufferRequest> buffers, size_t a, size_t b, int64_t off_a, int64_t off_b) {
  if (off_a != off_b) return false;
  return (buffers[a].inplace_source == int32_t(b) && inplace_is_legal(buffers, a)) ||
         (buffers[b].inplace_source == int32_t(a) && inplace_is_legal(buffers, b));
}

bool occupies_arena(const BufferRequest& b) { return !b.pinned && b.bytes > 0; }

void plan_naive(std::span<const BufferRequest> buffers, MemoryPlan& plan) {
  int64_t cursor = 0;
  for (size_t i = 0; i < buffers.size(); ++i) {
    if (!occupies_arena(buffers[i])) continue;
    plan.offsets[i] = cursor;
    cursor += align_up(buffers[i].bytes, plan.alignment);
  }
  plan.arena_bytes = cursor;
}

class GreedyPlacer {
 public:
  GreedyPlacer(std::span<const BufferRequest> buffers, MemoryPlan& plan)
      : buffers_(buffers), plan_(plan), partners_(buffers.size()) {
    for (size_t i = 0; i < buffers.size(); ++i) {
      if (!occupies_arena(buffers[i]) || !inplace_is_legal(buffers, i)) continue;
      size_t src = size_t(buffers[i].inplace_source);
      partners_[i].push_back(src);  // the source first: the normal case when it is larger
      partners_[src].push_back(i);
    }
  }

  void run() {
    std::vector<size_t> order;
    for (size_t i = 0; i < buffers_.size(); ++i)
      if (occupies_arena(buffers_[i])) order.push_back(i);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      if (buffers_[a].bytes != buffers_[b].bytes) return buffers_[a].bytes > buffers_[b].bytes;
      return buffers_[a].first_step < buffers_[b].first_step;
    });
    int64_t end = 0;
    for (size_t b : order) {
      int64_t off = inplace_offset(b);
      if (off < 0) off = best_fit(b);
      plan_.offsets[b] = off;
      auto pos = std::upper_bound(by_offset_.begin(), by_offset_.end(), off,
                                  [&](int64_t o, size_t p) { return o < plan_.offsets[p]; });
      by_offset_.insert(pos, b);
      end = std::max(end, off + buffers_[b].bytes);
    }
    plan_.arena_bytes = align_up(end, plan_.alignment);
  }

 private:
  // The offset of an already-placed in-place partner if b fits there, else -1.
  int64_t inplace_offset(size_t b) const {
    for (size_t p : partners_[b]) {
      int64_t off = plan_.offsets[p];
      if (off < 0) continue;  // not placed yet
      if (fits(b, off)) return off;
    }
    return -1;
  }

  bool fits(size_t b, int64_t off) const {
    const BufferRequest& r = buffers_[b];
    for (size_t p : by_offset_) {
      int64_t po = plan_.offsets[p];
      if (po >= off + r.bytes) break;
      if (!lifetimes_intersect(r, buffers_[p])) continue;
      if (!memory_overlaps(off, r.bytes, po, buffers_[p].bytes)) continue;
      if (!legal_share(buffers_, b, p, off, po)) return false;
    }
    return true;
  }

  // The smallest aligned gap between contemporaries that holds b (lowest offset on ties),
  // else the first aligned offset past all of them.
  int64_t best_fit(size_t b) const {
    const BufferRequest& r = buffers_[b];
    const int64_t align = plan_.alignment;
    int64_t cursor = 0;
    int64_t best_off = -1, best_gap = 0;
    for (size_t p : by_offset_) {
      if (!lifetimes_intersect(r, buffers_[p])) continue;
      int64_t start = align_up(cursor, align);
      int64_t po = plan_.offsets[p];
      if (po - start >= r.bytes && (best_off < 0 || po - start < best_gap)) {
        best_off = start;
        best_gap = po - start;
      }
      cursor = std::max(cursor, po + buffers_[p].bytes);
    }
    return best_off >= 0 ? best_off : align_up(cursor, align);
  }

  std::span<const BufferRequest> buffers_;
  MemoryPlan& plan_;
  std::vector<std::vector<size_t>> partners_;
  std::vector<size_t> by_offset_;  // placed buffers, sorted by offset
};

std::string format_bytes(int64_t bytes) {
  char buf[32];
  double b = double(bytes);
  if (b >= 1e9) std::snprintf(buf, sizeof buf, "%.2f GB", b / 1e9);
  else if (b >= 1e6) std::snprintf(buf, sizeof buf, "%.2f MB", b / 1e6);
  else if (b >= 1e3) std::snprintf(buf, sizeof buf, "%.2f KB", b / 1e3);
  else std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(bytes));
  return buf;
}

}  // namespace

bool inplace_is_legal(std::span<const BufferRequest> buffers, size_t b) {
  const BufferRequest& d = buffers[b];
  if (d.inplace_source < 0 || size_t(d.inplace_source) == b || size_t(d.inplace_source) >= buffers.size()) return false;
  const BufferRequest& s = buffers[size_t(d.inplace_source)];
  return !d.pinned && !s.pinned && s.last_step == d.first_step && s.bytes >= d.bytes;
}

int64_t live_bytes_lower_bound(std::span<const BufferRequest> buffers) {
  // Step -> change in live bytes. A legal in-place pair overlaps on exactly one step (the
  // source's last, the user's first); on that step the pair needs only the source's bytes.
  // When several buffers claim the same source, at most one can have it: discount the
  // largest claim.
  std::map<int64_t, int64_t> delta;
  std::map<size_t, size_t> best_claim;  // source -> the largest legal claimant
  for (size_t i = 0; i < buffers.size(); ++i) {
    const BufferRequest& b = buffers[i];
    if (b.pinned || b.bytes == 0) continue;
    delta[b.first_step] += b.bytes;
    delta[int64_t(b.last_step) + 1] -= b.bytes;
    if (inplace_is_legal(buffers, i)) {
      auto [it, fresh] = best_claim.try_emplace(size_t(b.inplace_source), i);
      if (!fresh && buffers[it->second].bytes < b.bytes) it->second = i;
    }
  }
  for (const auto& [src, user] : best_claim) {
    const BufferRequest& u = buffers[user];
    delta[u.first_step] -= u.bytes;
    delta[int64_t(u.first_step) + 1] += u.bytes;
  }
  int64_t live = 0, peak = 0;
  for (const auto& [step, d] : delta) {
    live += d;
    peak = std::max(peak, live);
  }
  return peak;
}

MemoryPlan plan_memory(std::span<const BufferRequest> buffers, PlanStrategy strategy, int64_t alignment) {
  validate_requests(buffers, alignment);
  MemoryPlan plan;
  plan.alignment = alignment;
  plan.offsets.assign(buffers.size(), -1);
  for (size_t i = 0; i < buffers.size(); ++i) {
    if (buffers[i].pinned) continue;
    plan.offsets[i] = 0;  // zero-byte buffers (views, empty tensors) occupy nothing
    plan.naive_bytes += buffers[i].bytes;
  }
  plan.lower_bound_bytes = live_bytes_lower_bound(buffers);

  switch (strategy) {
    case PlanStrategy::Naive:
      plan.strategy = "naive";
      plan_naive(buffers, plan);
      break;
    case PlanStrategy::GreedyBySize:
      plan.strategy = "greedy";
      GreedyPlacer(buffers, plan).run();
      break;
  }

  for (size_t i = 0; i < buffers.size(); ++i) {
    if (!occupies_arena(buffers[i]) || !inplace_is_legal(buffers, i)) continue;
    const size_t src = size_t(buffers[i].inplace_source);
    if (plan.offsets[i] == plan.offsets[src]) ++plan.inplace_reuses;
  }
  return plan;
}

std::string describe(const MemoryPlan& plan) {
  char ratio[32];
  if (plan.lower_bound_bytes > 0)
    std::snprintf(ratio, sizeof ratio, "%.2fx", double(plan.arena_bytes) / double(plan.lower_bound_bytes));
  else
    std::snprintf(ratio, sizeof ratio, "-");
  return plan.strategy + ": arena " + format_bytes(plan.arena_bytes) + ", naive " + format_bytes(plan.naive_bytes) +
         ", lower bound " + format_bytes(plan.lower_bound_bytes) + " (" + ratio + "), " +
         std::to_string(plan.inplace_reuses) + (plan.inplace_reuses == 1 ? " in-place reuse" : " in-place reuses");
}

void check_plan(std::span<const BufferRequest> buffers, const MemoryPlan& plan) {
  const int64_t align = plan.alignment;
  DUET_ASSERT(align > 0 && (align & (align - 1)) == 0, "memory plan: alignment ", align, " is not a power of two");
  DUET_ASSERT(plan.offsets.size() == buffers.size(), "memory plan: ", plan.offsets.size(), " offsets for ",
              buffers.size(), " buffers");
  DUET_ASSERT(plan.arena_bytes >= 0 && plan.arena_bytes % align == 0, "memory plan: arena size ", plan.arena_bytes,
              " is not a multiple of ", align);
  std::vector<size_t> placed;
  for (size_t i = 0; i < buffers.size(); ++i) {
    const BufferRequest& b = buffers[i];
    const int64_t off = plan.offsets[i];
    if (b.pinned) {
      DUET_ASSERT(off == -1, "memory plan: pinned buffer ", i, " was given offset ", off);
      continue;
    }
    DUET_ASSERT(off >= 0, "memory plan: buffer ", i, " has no offset");
    DUET_ASSERT(off % align == 0, "memory plan: buffer ", i, " at offset ", off, " is not ", align, "-byte aligned");
    DUET_ASSERT(off + b.bytes <= plan.arena_bytes, "memory plan: buffer ", i, " [", off, ", ", off + b.bytes,
                ") runs past the arena of ", plan.arena_bytes, " bytes");
    if (b.bytes > 0) placed.push_back(i);
  }
  // Sweep in order of birth, keeping the buffers still alive.
  std::stable_sort(placed.begin(), placed.end(),
                   [&](size_t a, size_t b) { return buffers[a].first_step < buffers[b].first_step; });
  std::vector<size_t> active;
  for (size_t b : placed) {
    const BufferRequest& r = buffers[b];
    std::erase_if(active, [&](size_t a) { return buffers[a].last_step < r.first_step; });
    for (size_t a : active) {
      if (!memory_overlaps(plan.offsets[a], buffers[a].bytes, plan.offsets[b], r.bytes)) continue;
      DUET_ASSERT(legal_share(buffers, a, b, plan.offsets[a], plan.offsets[b]), "memory plan: buffers ", a, " (steps ",
                  buffers[a].first_step, "..", buffers[a].last_step, ", bytes [", plan.offsets[a], ", ",
                  plan.offsets[a] + buffers[a].bytes, ")) and ", b, " (steps ", r.first_step, "..", r.last_step,
                  ", bytes [", plan.offsets[b], ", ", plan.offsets[b] + r.bytes, ")) overlap while both are live");
    }
    active.push_back(b);
  }
}

}  // namespace duet::graph
