// The allocation counter and the per-device allocator table (the CPU allocator itself is
// in core/cpu_allocator.cpp).
#include "core/allocator.h"

#include <cstdlib>
#include <new>

#include "core/error.h"

namespace duet {

void AllocationCounter::on_alloc(size_t nbytes) {
  int64_t now = current_.fetch_add(int64_t(nbytes)) + int64_t(nbytes);
  allocs_.fetch_add(1);
  int64_t peak = peak_.load();
  while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
  }
}

void AllocationCounter::on_free(size_t nbytes) {
  current_.fetch_sub(int64_t(nbytes));
  frees_.fetch_add(1);
}

MemoryStats AllocationCounter::snapshot() const {
  MemoryStats s;
  s.current_bytes = current_.load();
  s.peak_bytes = peak_.load();
  s.allocations = allocs_.load();
  s.deallocations = frees_.load();
  s.reserved_bytes = s.current_bytes;
  return s;
}

void AllocationCounter::reset_peak() {
  peak_.store(current_.load());
  allocs_.store(0);
  frees_.store(0);
}

namespace {

Allocator* g_device_allocators[kNumDeviceTypes] = {};

}  // namespace


void register_allocator(DeviceType type, Allocator* alloc) { g_device_allocators[int(type)] = alloc; }

Allocator& allocator_for(Device d) {
  if (d.is_cpu()) return cpu_allocator();
  Allocator* a = g_device_allocators[int(d.type)];
  DUET_CHECK(a != nullptr, "device ", d, " is not available in this build of duet (built without CUDA)");
  return *a;
}

MemoryStats memory_stats(Device d) { return allocator_for(d).stats(); }
void reset_peak_memory(Device d) { allocator_for(d).reset_peak(); }
void empty_cache(Device d) { allocator_for(d).empty_cache(); }

}  // namespace duet
