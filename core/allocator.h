// Allocators and their counters. Every tensor byte goes through an Allocator, which counts
// current and peak bytes and the number of allocation calls, so that eager and graph
// memory can be compared honestly:
//
//   duet::reset_peak_memory(Device::cpu());
//   ... train ...
//   MemoryStats s = duet::memory_stats(Device::cpu());   // s.peak_bytes, s.allocations
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/device.h"

namespace duet {

inline constexpr size_t kAlignment = 64;

struct MemoryStats {
  int64_t current_bytes = 0;
  int64_t peak_bytes = 0;
  int64_t allocations = 0;    // allocate() calls since start (or reset_peak_memory)
  int64_t deallocations = 0;
  int64_t reserved_bytes = 0; // held from the system, for caching allocators
  int64_t system_allocations = 0;  // calls to the system (cudaMalloc for a caching allocator)
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  // Returns kAlignment-aligned memory; nbytes == 0 returns a valid unique pointer.
  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* ptr, size_t nbytes) = 0;
  virtual Device device() const = 0;
  virtual MemoryStats stats() const = 0;
  virtual void reset_peak() = 0;
  // Gives cached, unused blocks back to the system (caching allocators; others: nothing).
  virtual void empty_cache() {}
};

// Counts bytes and calls; shared by every allocator implementation.
class AllocationCounter {
 public:
  void on_alloc(size_t nbytes);
  void on_free(size_t nbytes);
  MemoryStats snapshot() const;
  void reset_peak();

 private:
  std::atomic<int64_t> current_{0}, peak_{0}, allocs_{0}, frees_{0};
};

inline constexpr int kMaxDevicesPerType = 16;

Allocator& cpu_allocator();
// The allocator for a device. The first use of a CUDA device starts the CUDA backend
// (kernels/cuda/cuda_api.h), which registers its allocators; throws a duet::Error saying
// why when the device cannot be used (no CUDA in this build, no device, bad index).
Allocator& allocator_for(Device d);
// Installs the allocator for a non-CPU device (the CUDA backend does, when it starts).
void register_allocator(Device device, Allocator* alloc);

MemoryStats memory_stats(Device d = Device::cpu());
void reset_peak_memory(Device d = Device::cpu());
void empty_cache(Device d = Device::cpu());

}  // namespace duet
