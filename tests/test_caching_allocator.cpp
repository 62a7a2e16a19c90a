// The CUDA caching allocator's pool logic on the CPU, over a fake device that hands out
// addresses it never touches (kernels/cuda/caching_allocator.h): size classes, best fit,
// splitting and merging, segment reuse, release on out-of-memory, empty_cache and the
// counters. Runs in every build, with or without CUDA or a GPU.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "kernels/cuda/caching_allocator.h"
#include "tests/test_support.h"

using namespace duet;
using duet::cuda::CachingAllocator;
using duet::cuda::RawMemory;

namespace {

constexpr size_t kMiB = size_t(1) << 20;

// Bump-allocated fake device memory with a capacity; checks every release.
struct FakeDevice {
  size_t capacity = size_t(1) << 40;
  size_t in_use = 0;
  uintptr_t next = uintptr_t(1) << 32;
  std::map<uintptr_t, size_t> segments;
  int allocs = 0, releases = 0, syncs = 0;
};

class FakeRaw final : public RawMemory {
 public:
  explicit FakeRaw(FakeDevice* dev) : dev_(dev) {}
  void* allocate(size_t nbytes) override {
    if (dev_->in_use + nbytes > dev_->capacity) return nullptr;
    uintptr_t p = dev_->next;
    dev_->next += (nbytes + 2 * kMiB - 1) / (2 * kMiB) * (2 * kMiB) + 2 * kMiB;  // gaps between segments
    dev_->segments[p] = nbytes;
    dev_->in_use += nbytes;
    ++dev_->allocs;
    return reinterpret_cast<void*>(p);
  }
  void release(void* ptr, size_t nbytes) override {
    auto it = dev_->segments.find(reinterpret_cast<uintptr_t>(ptr));
    REQUIRE(it != dev_->segments.end());
    CHECK(it->second == nbytes);
    dev_->in_use -= it->second;
    dev_->segments.erase(it);
    ++dev_->releases;
  }
  void synchronize() override { ++dev_->syncs; }

 private:
  FakeDevice* dev_;
};

struct Fixture {
  FakeDevice dev;
  CachingAllocator alloc{Device::cuda(0), std::make_unique<FakeRaw>(&dev)};
};

uintptr_t addr(void* p) { return reinterpret_cast<uintptr_t>(p); }

}  // namespace

TEST_CASE("caching allocator: size classes") {
  CHECK(CachingAllocator::round_size(0) == 512);
  CHECK(CachingAllocator::round_size(1) == 512);
  CHECK(CachingAllocator::round_size(512) == 512);
  CHECK(CachingAllocator::round_size(513) == 1024);
  CHECK(CachingAllocator::round_size(kMiB) == kMiB);
  CHECK(CachingAllocator::segment_size(512) == 2 * kMiB);
  CHECK(CachingAllocator::segment_size(kMiB) == 2 * kMiB);
  CHECK(CachingAllocator::segment_size(kMiB + 512) == 20 * kMiB);
  CHECK(CachingAllocator::segment_size(10 * kMiB - 512) == 20 * kMiB);
  CHECK(CachingAllocator::segment_size(10 * kMiB) == 10 * kMiB);
  CHECK(CachingAllocator::segment_size(11 * kMiB + 512) == 12 * kMiB);
}

TEST_CASE("caching allocator: small blocks share a segment and are reused after free") {
  Fixture f;
  std::vector<void*> ps;
  for (int i = 0; i < 100; ++i) ps.push_back(f.alloc.allocate(1000));
  CHECK(f.dev.allocs == 1);
  for (int i = 1; i < 100; ++i) CHECK(addr(ps[size_t(i)]) == addr(ps[0]) + size_t(i) * 1024);
  f.alloc.deallocate(ps[40], 1000);
  void* again = f.alloc.allocate(900);  // rounds to 1024 too: the hole at 40 is the best fit
  CHECK(again == ps[40]);
  CHECK(f.dev.allocs == 1);
  f.alloc.deallocate(again, 900);
  for (int i = 0; i < 100; ++i)
    if (i != 40) f.alloc.deallocate(ps[size_t(i)], 1000);
  auto s = f.alloc.detailed_stats();
  CHECK(s.allocated_bytes == 0);
  CHECK(s.live_blocks == 0);
  CHECK(s.segments == 1);
  CHECK(s.cached_bytes == int64_t(2 * kMiB));  // merged back into one free block
  f.alloc.empty_cache();
  CHECK(f.dev.releases == 1);
  CHECK(f.dev.syncs == 1);
  CHECK(f.alloc.detailed_stats().reserved_bytes == 0);
}

TEST_CASE("caching allocator: best fit picks the smallest hole, lowest address first") {
  Fixture f;
  void* a = f.alloc.allocate(4096);
  void* b = f.alloc.allocate(512);
  void* c = f.alloc.allocate(2048);
  void* d = f.alloc.allocate(512);
  void* e = f.alloc.allocate(2048);
  void* g = f.alloc.allocate(512);
  f.alloc.deallocate(a, 4096);
  f.alloc.deallocate(c, 2048);
  f.alloc.deallocate(e, 2048);
  CHECK(f.alloc.allocate(2000) == c);  // 2048 holes at c and e: c is lower
  CHECK(f.alloc.allocate(3000) == a);  // only a fits; split leaves 1024 free behind it
  void* tail = f.alloc.allocate(1024);
  CHECK(addr(tail) == addr(a) + 3072);
  CHECK(f.alloc.allocate(2048) == e);
  CHECK(f.dev.allocs == 1);
  (void)b, (void)d, (void)g;
}

TEST_CASE("caching allocator: freed neighbours merge in either order") {
  Fixture f;
  void* a = f.alloc.allocate(kMiB / 2);
  void* b = f.alloc.allocate(kMiB / 2);
  void* c = f.alloc.allocate(kMiB / 2);
  void* d = f.alloc.allocate(kMiB / 2);  // the 2 MiB segment is now full
  CHECK(f.dev.allocs == 1);
  f.alloc.deallocate(a, kMiB / 2);
  f.alloc.deallocate(c, kMiB / 2);
  f.alloc.deallocate(b, kMiB / 2);  // merges with a before and c after
  void* big = f.alloc.allocate(kMiB + kMiB / 2);
  CHECK(f.dev.allocs == 2);  // 1.5 MiB is large: another pool, another segment
  void* small = f.alloc.allocate(kMiB);
  CHECK(small == a);  // the merged 1.5 MiB hole at a fits 1 MiB
  f.alloc.deallocate(small, kMiB);
  f.alloc.deallocate(d, kMiB / 2);
  f.alloc.deallocate(big, kMiB + kMiB / 2);
  f.alloc.empty_cache();
  CHECK(f.dev.releases == 2);
  CHECK(f.dev.segments.empty());
}

TEST_CASE("caching allocator: large requests, segment sizes and tails") {
  Fixture f;
  void* a = f.alloc.allocate(5 * kMiB);
  void* b = f.alloc.allocate(5 * kMiB);
  CHECK(f.dev.allocs == 1);  // both in one 20 MiB segment
  CHECK(addr(b) == addr(a) + 5 * kMiB);
  void* c = f.alloc.allocate(12 * kMiB);
  CHECK(f.dev.allocs == 2);
  CHECK(f.dev.segments[addr(c)] == 12 * kMiB);
  // A tail of at most 1 MiB stays with its block: 19.5 MiB takes a whole 20 MiB segment.
  void* d = f.alloc.allocate(19 * kMiB + kMiB / 2);
  CHECK(f.dev.segments[addr(d)] == 20 * kMiB);
  CHECK(f.alloc.detailed_stats().block_bytes == int64_t(10 * kMiB + 12 * kMiB + 20 * kMiB));
  // ...and small requests never come from the large pool.
  void* s = f.alloc.allocate(1000);
  CHECK(f.dev.allocs == 4);
  for (auto [p, n] : {std::pair{a, 5 * kMiB}, {b, 5 * kMiB}, {c, 12 * kMiB}, {d, 19 * kMiB + kMiB / 2}, {s, size_t(1000)}})
    f.alloc.deallocate(p, n);
}

TEST_CASE("caching allocator: counters") {
  Fixture f;
  void* a = f.alloc.allocate(1000);
  void* b = f.alloc.allocate(3 * kMiB);
  MemoryStats m = f.alloc.stats();
  CHECK(m.current_bytes == 1000 + int64_t(3 * kMiB));
  CHECK(m.peak_bytes == m.current_bytes);
  CHECK(m.allocations == 2);
  CHECK(m.system_allocations == 2);
  CHECK(m.reserved_bytes == int64_t(2 * kMiB + 20 * kMiB));
  f.alloc.deallocate(b, 3 * kMiB);
  m = f.alloc.stats();
  CHECK(m.current_bytes == 1000);
  CHECK(m.peak_bytes == 1000 + int64_t(3 * kMiB));
  CHECK(m.deallocations == 1);
  CHECK(m.reserved_bytes == int64_t(22 * kMiB));  // cached, not released
  f.alloc.reset_peak();
  m = f.alloc.stats();
  CHECK(m.peak_bytes == 1000);
  CHECK(m.allocations == 0);
  void* c = f.alloc.allocate(3 * kMiB);  // from the cache
  CHECK(f.alloc.stats().system_allocations == 0);
  CHECK(f.alloc.stats().allocations == 1);
  f.alloc.deallocate(c, 3 * kMiB);
  f.alloc.deallocate(a, 1000);
  CHECK(f.alloc.device() == Device::cuda(0));
}

TEST_CASE("caching allocator: out of memory releases the cache, then fails clearly") {
  Fixture f;
  f.dev.capacity = 24 * kMiB;
  void* a = f.alloc.allocate(12 * kMiB);
  f.alloc.deallocate(a, 12 * kMiB);  // cached: 12 MiB still held
  void* b = f.alloc.allocate(20 * kMiB);  // fits only once the cached segment goes back
  CHECK(f.dev.releases == 1);
  CHECK(f.dev.syncs == 1);
  CHECK(f.dev.segments.size() == 1);
  EXPECT_ERROR(f.alloc.allocate(20 * kMiB), "cuda:0: out of memory allocating 20971520 bytes",
               "20971520 bytes in use");
  f.alloc.deallocate(b, 20 * kMiB);
  CHECK(f.alloc.allocate(20 * kMiB) == b);  // the failed call changed nothing
}

TEST_CASE("caching allocator: zero bytes and foreign pointers") {
  Fixture f;
  void* a = f.alloc.allocate(0);
  void* b = f.alloc.allocate(0);
  CHECK(a != nullptr);
  CHECK(a != b);
  f.alloc.deallocate(a, 0);
  f.alloc.deallocate(b, 0);
  int x = 0;
  CHECK_THROWS_AS(f.alloc.deallocate(&x, 4), InternalError);
}

TEST_CASE("caching allocator: random traffic keeps blocks disjoint and inside segments") {
  Fixture f;
  std::mt19937 rng(7);
  std::map<uintptr_t, size_t> live;  // start -> requested bytes
  std::uniform_int_distribution<int> coin(0, 2);
  std::uniform_int_distribution<size_t> small(0, 300000), large(kMiB, 30 * kMiB);
  for (int step = 0; step < 4000; ++step) {
    if (live.empty() || coin(rng) != 0) {
      size_t n = step % 9 == 0 ? large(rng) : small(rng);
      void* p = f.alloc.allocate(n);
      uintptr_t u = addr(p);
      size_t rounded = CachingAllocator::round_size(n);
      auto next = live.lower_bound(u);
      if (next != live.end()) REQUIRE(u + rounded <= next->first);
      if (next != live.begin()) {
        auto prev = std::prev(next);
        REQUIRE(prev->first + CachingAllocator::round_size(prev->second) <= u);
      }
      auto seg = f.dev.segments.upper_bound(u);
      REQUIRE(seg != f.dev.segments.begin());
      --seg;
      REQUIRE(u + rounded <= seg->first + seg->second);
      live[u] = n;
    } else {
      auto it = live.begin();
      std::advance(it, std::uniform_int_distribution<size_t>(0, live.size() - 1)(rng));
      f.alloc.deallocate(reinterpret_cast<void*>(it->first), it->second);
      live.erase(it);
    }
  }
  int64_t want = 0;
  for (auto [p, n] : live) want += int64_t(n);
  CHECK(f.alloc.stats().current_bytes == want);
  for (auto [p, n] : live) f.alloc.deallocate(reinterpret_cast<void*>(p), n);
  f.alloc.empty_cache();
  auto s = f.alloc.detailed_stats();
  CHECK(s.reserved_bytes == 0);
  CHECK(s.segments == 0);
  CHECK(f.dev.segments.empty());
}

TEST_CASE("caching allocator: two threads") {
  Fixture f;
  auto work = [&](int seed) {
    std::mt19937 rng{uint32_t(seed)};
    std::vector<std::pair<void*, size_t>> mine;
    for (int i = 0; i < 2000; ++i) {
      size_t n = std::uniform_int_distribution<size_t>(1, 200000)(rng);
      mine.emplace_back(f.alloc.allocate(n), n);
      if (i % 3 == 2) {
        f.alloc.deallocate(mine.front().first, mine.front().second);
        mine.erase(mine.begin());
      }
    }
    for (auto [p, n] : mine) f.alloc.deallocate(p, n);
  };
  std::thread t1(work, 1), t2(work, 2);
  t1.join();
  t2.join();
  CHECK(f.alloc.stats().current_bytes == 0);
  CHECK(f.alloc.detailed_stats().live_blocks == 0);
}
