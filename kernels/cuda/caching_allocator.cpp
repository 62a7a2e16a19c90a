// The caching allocator's pool logic (see caching_allocator.h for the policy). Plain C++:
// built in every build, with or without CUDA, and unit-tested with a fake RawMemory.
#include "kernels/cuda/caching_allocator.h"

#include <algorithm>
#include <vector>

#include "core/error.h"

namespace duet::cuda {

CachingAllocator::CachingAllocator(Device device, std::unique_ptr<RawMemory> raw)
    : device_(device), raw_(std::move(raw)) {}

CachingAllocator::~CachingAllocator() {
  std::vector<Block*> all(small_pool_.begin(), small_pool_.end());
  all.insert(all.end(), large_pool_.begin(), large_pool_.end());
  for (const auto& [ptr, b] : live_) all.push_back(b);
  for (Block* head : all) {
    if (head->prev) continue;
    size_t bytes = 0;
    for (Block* b = head; b; b = b->next) bytes += b->size;
    try {
      raw_->release(head->ptr, bytes);
    } catch (...) {  // a destructor must not throw; the process is ending anyway
    }
  }
  for (Block* b : all) delete b;
}

size_t CachingAllocator::round_size(size_t nbytes) {
  if (nbytes <= kRound) return kRound;
  return (nbytes + kRound - 1) / kRound * kRound;
}

size_t CachingAllocator::segment_size(size_t rounded) {
  if (rounded <= kSmallLimit) return kSmallSegment;
  if (rounded < kLargeDirect) return kLargeSegment;
  return (rounded + kLargeSegmentRound - 1) / kLargeSegmentRound * kLargeSegmentRound;
}

CachingAllocator::Block* CachingAllocator::take_free_block(size_t size, bool small) {
  Pool& pool = pool_of(small);
  Block key{nullptr, size, 0, true, small};
  auto it = pool.lower_bound(&key);  // the smallest block >= size, lowest address first
  if (it == pool.end()) return nullptr;
  Block* b = *it;
  pool.erase(it);
  return b;
}

CachingAllocator::Block* CachingAllocator::new_segment(size_t size, bool small) {
  void* p = raw_->allocate(size);
  if (!p) {
    release_free_segments();
    p = raw_->allocate(size);
  }
  if (!p) return nullptr;
  ++s_.raw_alloc_calls;
  ++s_.segments;
  s_.reserved_bytes += int64_t(size);
  return new Block{static_cast<char*>(p), size, 0, true, small};
}

void* CachingAllocator::allocate(size_t nbytes) {
  const size_t size = round_size(nbytes);
  const bool small = size <= kSmallLimit;
  std::lock_guard<std::mutex> lock(mu_);
  Block* b = take_free_block(size, small);
  if (!b) b = new_segment(segment_size(size), small);
  if (b == nullptr)
    throw OutOfMemoryError(detail::concat(device_, ": out of memory allocating ", nbytes, " bytes (",
                                          s_.allocated_bytes, " bytes in use by tensors, ", s_.reserved_bytes,
                                          " reserved by duet's caching allocator after returning its free segments)"));
  const size_t rest = b->size - size;
  if (small ? rest >= kRound : rest > kSmallLimit) {
    Block* tail = new Block{b->ptr + size, rest, 0, true, small, b, b->next};
    if (b->next) b->next->prev = tail;
    b->next = tail;
    b->size = size;
    pool_of(small).insert(tail);
  }
  b->free = false;
  b->requested = nbytes;
  live_.emplace(b->ptr, b);
  ++s_.alloc_calls;
  ++s_.live_blocks;
  s_.allocated_bytes += int64_t(nbytes);
  s_.block_bytes += int64_t(b->size);
  note_peaks();
  return b->ptr;
}

void CachingAllocator::deallocate(void* ptr, size_t nbytes) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(ptr);
  DUET_ASSERT(it != live_.end(), device_, ": freeing a pointer the caching allocator did not hand out");
  Block* b = it->second;
  DUET_ASSERT(b->requested == nbytes, "freeing ", nbytes, " bytes of a block allocated for ", b->requested);
  live_.erase(it);
  ++s_.free_calls;
  --s_.live_blocks;
  s_.allocated_bytes -= int64_t(b->requested);
  s_.block_bytes -= int64_t(b->size);
  b->free = true;
  b->requested = 0;
  Pool& pool = pool_of(b->small);
  if (b->prev && b->prev->free) {  // merge into the free block before
    Block* before = b->prev;
    pool.erase(before);
    before->size += b->size;
    before->next = b->next;
    if (b->next) b->next->prev = before;
    delete b;
    b = before;
  }
  if (b->next && b->next->free) {  // absorb the free block after
    Block* after = b->next;
    pool.erase(after);
    b->size += after->size;
    b->next = after->next;
    if (after->next) after->next->prev = b;
    delete after;
  }
  pool.insert(b);
}

void CachingAllocator::release_free_segments() {
  std::vector<Block*> whole;
  for (Pool* pool : {&small_pool_, &large_pool_})
    for (Block* b : *pool)
      if (!b->prev && !b->next) whole.push_back(b);
  if (whole.empty()) return;
  raw_->synchronize();
  for (Block* b : whole) {
    pool_of(b->small).erase(b);
    raw_->release(b->ptr, b->size);
    ++s_.raw_free_calls;
    --s_.segments;
    s_.reserved_bytes -= int64_t(b->size);
    delete b;
  }
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mu_);
  release_free_segments();
}

void CachingAllocator::note_peaks() {
  s_.peak_allocated_bytes = std::max(s_.peak_allocated_bytes, s_.allocated_bytes);
  s_.peak_reserved_bytes = std::max(s_.peak_reserved_bytes, s_.reserved_bytes);
}

CachingStats CachingAllocator::detailed_stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  CachingStats s = s_;
  s.cached_bytes = s.reserved_bytes - s.block_bytes;
  return s;
}

MemoryStats CachingAllocator::stats() const {
  CachingStats s = detailed_stats();
  MemoryStats m;
  m.current_bytes = s.allocated_bytes;
  m.peak_bytes = s.peak_allocated_bytes;
  m.allocations = s.alloc_calls;
  m.deallocations = s.free_calls;
  m.reserved_bytes = s.reserved_bytes;
  m.system_allocations = s.raw_alloc_calls;
  return m;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mu_);
  s_.peak_allocated_bytes = s_.allocated_bytes;
  s_.peak_reserved_bytes = s_.reserved_bytes;
  s_.alloc_calls = s_.free_calls = s_.raw_alloc_calls = s_.raw_free_calls = 0;
}

}  // namespace duet::cuda
