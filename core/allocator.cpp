// The allocation counter and the per-device allocator table (the CPU allocator itself is
// in core/cpu_allocator.cpp).
#include "core/allocator.h"

#include <cstdlib>
#include <new>

#include "core/error.h"
#include "kernels/cuda/cuda_api.h"

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
  s.system_allocations = s.allocations;
  return s;
}

void AllocationCounter::reset_peak() {
  peak_.store(current_.load());
  allocs_.store(0);
  frees_.store(0);
}

namespace {

// Written once by a backend as it starts, read on every allocation.
std::atomic<Allocator*> g_device_allocators[kNumDeviceTypes][kMaxDevicesPerType] = {};

}  // namespace


void register_allocator(Device device, Allocator* alloc) {
  DUET_ASSERT(!device.is_cpu() && device.index >= 0 && device.index < kMaxDevicesPerType, "cannot register an ",
              "allocator for ", device);
  g_device_allocators[int(device.type)][device.index].store(alloc, std::memory_order_release);
}

Allocator& allocator_for(Device d) {
  if (d.is_cpu()) return cpu_allocator();
  DUET_CHECK(d.index >= 0 && d.index < kMaxDevicesPerType, "device ", d, ": duet supports device indices 0 to ",
             kMaxDevicesPerType - 1);
  Allocator* a = g_device_allocators[int(d.type)][d.index].load(std::memory_order_acquire);
  if (a) return *a;
  cuda::ensure_initialized(d);  // throws, or registers this device's allocator
  a = g_device_allocators[int(d.type)][d.index].load(std::memory_order_acquire);
  DUET_ASSERT(a != nullptr, "the CUDA backend started without registering an allocator for ", d);
  return *a;
}

MemoryStats memory_stats(Device d) { return allocator_for(d).stats(); }
void reset_peak_memory(Device d) { allocator_for(d).reset_peak(); }
void empty_cache(Device d) { allocator_for(d).empty_cache(); }

}  // namespace duet
