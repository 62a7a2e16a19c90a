// Random numbers: a counter-based generator (Philox-4x32-10). Element i of a random
// tensor is a pure function of (seed, offset + i), so values depend only on the seed and
// the order of draws, never on the thread count or how work is split.
//
//   duet::manual_seed(0);
//   Tensor a = duet::randn({3});   // same values on every run and every machine
#pragma once

#include <array>
#include <cstdint>

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

// Philox-4x32-10: four 32-bit random words for a (key, counter) pair.
std::array<uint32_t, 4> philox4x32(uint64_t key, uint64_t counter);
// The float in [0, 1) that counter `i` of `seed` maps to (24 random bits).
inline float uniform01_from_bits(uint32_t bits) { return float(bits >> 8) * (1.0f / 16777216.0f); }
inline double uniform01_from_bits64(uint32_t hi, uint32_t lo) {
  return double((uint64_t(hi) << 21) ^ (lo >> 11)) * (1.0 / 9007199254740992.0);
}

}  // namespace duet
