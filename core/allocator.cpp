// The CPU allocator (64-byte aligned, counted) and the per-device allocator table.
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

class CpuAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    size_t rounded = (std::max<size_t>(nbytes, 1) + kAlignment - 1) / kAlignment * kAlignment;
    void* p = std::aligned_alloc(kAlignment, rounded);
    DUET_CHECK(p != nullptr, "cpu allocator: out of memory allocating ", nbytes, " bytes");
    counter_.on_alloc(nbytes);
    return p;
  }
  void deallocate(void* ptr, size_t nbytes) override {
    std::free(ptr);
    counter_.on_free(nbytes);
  }
  Device device() const override { return Device::cpu(); }
  MemoryStats stats() const override { return counter_.snapshot(); }
  void reset_peak() override { counter_.reset_peak(); }

 private:
  AllocationCounter counter_;
};

Allocator* g_device_allocators[kNumDeviceTypes] = {};

}  // namespace

Allocator& cpu_allocator() {
  static CpuAllocator alloc;
  return alloc;
}

void register_allocator(DeviceType type, Allocator* alloc) { g_device_allocators[int(type)] = alloc; }

Allocator& allocator_for(Device d) {
  if (d.is_cpu()) return cpu_allocator();
  Allocator* a = g_device_allocators[int(d.type)];
  DUET_CHECK(a != nullptr, "device ", d, " is not available in this build of duet (built without CUDA)");
  return *a;
}

MemoryStats memory_stats(Device d) { return allocator_for(d).stats(); }
void reset_peak_memory(Device d) { allocator_for(d).reset_peak(); }

}  // namespace duet
