// A caching allocator for device memory: freed blocks go back to a pool instead of to the
// driver, so a training loop that frees and re-allocates the same sizes every step
// calls cudaMalloc only while the pool grows. The pool logic is plain C++ over a
// RawMemory interface (cudaMalloc/cudaFree in the CUDA backend, a fake in
// tests/test_caching_allocator.cpp), so it is built and tested in every build.
//
// Size classes (the policy PyTorch's allocator made standard, chosen for the same reasons):
//   every request is rounded up to a multiple of 512 bytes (at least 512);
//   small requests (<= 1 MiB) come from 2 MiB segments, large ones from segments of
//   20 MiB when they are under 10 MiB, else of their size rounded up to 2 MiB;
//   small and large blocks live in separate pools, so small tensors never fragment the
//   segments big activations need.
// A request takes the smallest free block of its pool that fits (best fit, ties by
// address). The block is split when the rest is worth keeping: at least 512 bytes in the
// small pool, more than 1 MiB in the large one (smaller tails stay with the block). A
// freed block merges with free neighbours of its segment. When the device is out of
// memory, the allocator returns every wholly free segment to the device and tries again;
// only then is it an error. empty_cache() returns wholly free segments on request.
//
// Stream safety: one stream per device (kernels/cuda/runtime.h) means a block freed by
// one op and handed to the next is only touched by work queued after the first op's.
//
// Counters (MemoryStats): current/peak bytes are the bytes tensors asked for (as the CPU
// allocator counts them, so memory figures compare across devices); reserved bytes are
// the segments held from the device; allocations/deallocations count calls and
// system_allocations counts segment allocations (cudaMalloc calls).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>

#include "core/allocator.h"

namespace duet::cuda {

// Where segments come from.
class RawMemory {
 public:
  virtual ~RawMemory() = default;
  // nullptr when the device is out of memory; other failures throw duet::Error.
  virtual void* allocate(size_t nbytes) = 0;
  virtual void release(void* ptr, size_t nbytes) = 0;
  // Waits until no queued work can touch memory about to be released.
  virtual void synchronize() {}
};

struct CachingStats {
  int64_t allocated_bytes = 0;       // requested bytes of live blocks
  int64_t peak_allocated_bytes = 0;
  int64_t block_bytes = 0;           // rounded sizes of live blocks
  int64_t reserved_bytes = 0;        // bytes of all segments
  int64_t peak_reserved_bytes = 0;
  int64_t cached_bytes = 0;          // free bytes inside segments
  int64_t segments = 0;
  int64_t live_blocks = 0;
  int64_t alloc_calls = 0;           // allocate() calls
  int64_t free_calls = 0;            // deallocate() calls
  int64_t raw_alloc_calls = 0;       // segments allocated (cudaMalloc calls)
  int64_t raw_free_calls = 0;        // segments released (cudaFree calls)
};

class CachingAllocator final : public Allocator {
 public:
  static constexpr size_t kRound = 512;
  static constexpr size_t kSmallLimit = size_t(1) << 20;       // <= 1 MiB: small pool
  static constexpr size_t kSmallSegment = size_t(2) << 20;     // 2 MiB
  static constexpr size_t kLargeSegment = size_t(20) << 20;    // for large requests < 10 MiB
  static constexpr size_t kLargeDirect = size_t(10) << 20;     // from here: own segment
  static constexpr size_t kLargeSegmentRound = size_t(2) << 20;

  CachingAllocator(Device device, std::unique_ptr<RawMemory> raw);
  // Releases every segment, in use or not (tests; the CUDA backend's allocators live for
  // the whole process because the driver may be gone during static destruction).
  ~CachingAllocator() override;
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  void* allocate(size_t nbytes) override;
  void deallocate(void* ptr, size_t nbytes) override;
  Device device() const override { return device_; }
  MemoryStats stats() const override;
  void reset_peak() override;

  CachingStats detailed_stats() const;
  // Returns every wholly free segment to the device.
  void empty_cache();

  static size_t round_size(size_t nbytes);
  static size_t segment_size(size_t rounded);

 private:
  struct Block {
    char* ptr;
    size_t size;
    size_t requested = 0;
    bool free = true;
    bool small;
    Block* prev = nullptr;  // neighbours in the same segment, by address
    Block* next = nullptr;
  };
  struct BySize {
    bool operator()(const Block* a, const Block* b) const {
      return a->size != b->size ? a->size < b->size : a->ptr < b->ptr;
    }
  };
  using Pool = std::set<Block*, BySize>;

  Pool& pool_of(bool small) { return small ? small_pool_ : large_pool_; }
  Block* take_free_block(size_t size, bool small);
  Block* new_segment(size_t size, bool small);
  void release_free_segments();
  void note_peaks();

  Device device_;
  std::unique_ptr<RawMemory> raw_;
  mutable std::mutex mu_;
  Pool small_pool_, large_pool_;
  std::unordered_map<void*, Block*> live_;
  CachingStats s_;
};

}  // namespace duet::cuda
