// Random numbers: a counter-based generator (Philox-4x32-10). Element i of a random
// tensor is a pure function of (seed, offset + i), so values depend only on the seed and
// the order of draws, never on the thread count or how work is split.
//
//   duet::manual_seed(0);
//   Tensor a = duet::randn({3});   // same values on every run and every machine
#pragma once

#include <array>
#include <cstdint>

#include "core/philox.h"

namespace duet {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  void manual_seed(uint64_t seed) {
    seed_ = seed;
    offset_ = 0;
  }
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  // Reserves `n` counters and returns the first: the draw uses [offset, offset + n).
  uint64_t advance(uint64_t n) {
    uint64_t first = offset_;
    offset_ += n;
    return first;
  }

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

Generator& default_generator();
void manual_seed(uint64_t seed);

// Philox-4x32-10: four 32-bit random words for a (key, counter) pair (core/philox.h has
// the implementation the CPU and CUDA kernels share, and uniform01_from_bits[64]).
std::array<uint32_t, 4> philox4x32(uint64_t key, uint64_t counter);

}  // namespace duet
