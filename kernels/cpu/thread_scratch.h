// Growable 64-byte aligned scratch buffers, one per thread and slot, kept from call to call
// (the pool's threads persist): kernels that need a few hundred KB of working memory per
// call take it here instead of allocating it each call: glibc may serve a block that size
// with a fresh mapping, whose pages then fault again on first touch every call.
// Contents are whatever the slot's last user left. Each user owns its slots:
//   0, 1   duet's GEMM (packed A, packed B: gemm_duet.cpp)
//   2-4    the direct and Winograd convolutions (conv_direct.cpp, conv_winograd.cpp)
//
//   float* buf = cpu::thread_scratch<float>(kSlot, n);
#pragma once

#include <cstdint>
#include <cstdlib>

#include "core/error.h"

namespace duet::cpu {

constexpr int kThreadScratchSlots = 5;

template <typename T>
T* thread_scratch(int slot, int64_t n) {
  struct Buf {
    void* p = nullptr;
    size_t bytes = 0;
    ~Buf() { std::free(p); }
  };
  thread_local Buf bufs[kThreadScratchSlots];
  DUET_ASSERT(slot >= 0 && slot < kThreadScratchSlots, "thread_scratch: slot ", slot);
  Buf& b = bufs[slot];
  const size_t need = (size_t(n) * sizeof(T) + 63) / 64 * 64;
  if (need > b.bytes) {
    std::free(b.p);
    b.p = std::aligned_alloc(64, need);
    DUET_ASSERT(b.p != nullptr, "thread_scratch: out of memory for a ", need, "-byte buffer");
    b.bytes = need;
  }
  return static_cast<T*>(b.p);
}

}  // namespace duet::cpu
