// The CPU allocator: 64-byte aligned blocks, counted, with a cache of large blocks.
//
// Note [CPU block cache]: eager training allocates the same large temporaries every step
// (Adam's intermediates for a 784x256 weight are 0.8 MB each). Straight from malloc, a
// block that size may be mapped on allocation and unmapped on free (or trimmed off the
// heap), so every step pays for fresh zeroed pages. Whether it does depends on what the
// process freed before (glibc raises its mmap threshold after freeing a mapped block): a
// fashion-mlp eager step on one fixed batch took ~1,200 page faults and 2.5 ms without
// this cache and 1.9 ms with it, while the full fashion_mlp program, whose data loading
// had already raised the threshold, ran the same with or without. Freed blocks of
// kMinCached bytes or more are therefore kept, keyed by size rounded up to a page, and
// handed out again for a request of that size, so the cost no longer depends on history.
//   - the counters (current, peak, allocations) still count the bytes tensors ask for,
//     so memory figures mean the same with and without the cache; reserved_bytes adds
//     what the cache holds and system_allocations counts the real mallocs;
//   - the cache holds at most kCacheLimit bytes; a free that would overflow it first
//     gives the whole cache back, so blocks of sizes no longer asked for do not pin memory;
//   - empty_cache() gives it back on demand; DUET_CPU_CACHE=0 turns the cache off, and
//     AddressSanitizer builds keep it off, so that use-after-free still reaches ASan.
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/allocator.h"
#include "core/error.h"

namespace duet {
namespace {

constexpr size_t kMinCached = size_t(64) << 10;
constexpr size_t kMaxCachedBlock = size_t(64) << 20;
constexpr size_t kCacheLimit = size_t(256) << 20;
constexpr size_t kPage = 4096;

bool cache_enabled_by_default() {
#if defined(__SANITIZE_ADDRESS__)
  return false;
#else
  const char* env = std::getenv("DUET_CPU_CACHE");
  return !(env && env[0] == '0');
#endif
}

class CpuAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    // Tensors never ask for more (Note [Size limits] in core/shape.cpp); the rounding below
    // would wrap past it.
    if (nbytes > size_t(INT64_MAX)) throw OutOfMemoryError(detail::concat("cpu: cannot allocate ", nbytes, " bytes"));
    const size_t size = block_size(nbytes);
    void* p = nullptr;
    if (cacheable(size)) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        p = it->second.back();
        it->second.pop_back();
        cached_bytes_ -= size;
      }
    }
    if (p == nullptr) {
      p = std::aligned_alloc(kAlignment, size);
      if (p == nullptr) throw OutOfMemoryError(detail::concat("cpu: out of memory allocating ", nbytes, " bytes"));
      system_allocations_.fetch_add(1, std::memory_order_relaxed);
    }
    counter_.on_alloc(nbytes);
    return p;
  }

  void deallocate(void* ptr, size_t nbytes) override {
    counter_.on_free(nbytes);
    const size_t size = block_size(nbytes);
    if (cacheable(size)) {
      std::lock_guard<std::mutex> lock(mu_);
      if (cached_bytes_ + size > kCacheLimit) release_all_locked();
      free_[size].push_back(ptr);
      cached_bytes_ += size;
      return;
    }
    std::free(ptr);
  }

  Device device() const override { return Device::cpu(); }

  MemoryStats stats() const override {
    MemoryStats s = counter_.snapshot();
    std::lock_guard<std::mutex> lock(mu_);
    s.reserved_bytes = s.current_bytes + int64_t(cached_bytes_);
    s.system_allocations = system_allocations_.load(std::memory_order_relaxed);
    return s;
  }

  void reset_peak() override {
    counter_.reset_peak();
    system_allocations_.store(0, std::memory_order_relaxed);
  }

  void empty_cache() override {
    std::lock_guard<std::mutex> lock(mu_);
    release_all_locked();
  }

 private:
  static size_t block_size(size_t nbytes) {
    size_t rounded = (std::max<size_t>(nbytes, 1) + kAlignment - 1) / kAlignment * kAlignment;
    return rounded >= kMinCached ? (rounded + kPage - 1) / kPage * kPage : rounded;
  }
  bool cacheable(size_t size) const { return enabled_ && size >= kMinCached && size <= kMaxCachedBlock; }

  void release_all_locked() {
    for (auto& [size, blocks] : free_)
      for (void* p : blocks) std::free(p);
    free_.clear();
    cached_bytes_ = 0;
  }

  const bool enabled_ = cache_enabled_by_default();
  AllocationCounter counter_;
  std::atomic<int64_t> system_allocations_{0};
  mutable std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_bytes_ = 0;
};

}  // namespace

Allocator& cpu_allocator() {
  // Never destroyed: tensors in static storage may be freed after it would have been.
  static CpuAllocator* alloc = new CpuAllocator;
  return *alloc;
}

}  // namespace duet
