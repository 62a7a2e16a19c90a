// Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11)
// and the maps from its 32-bit words to uniform floats, written once for the host and
// the CUDA device so both give the same bits for the same (key, counter). Integer
// arithmetic only, and the float maps are exact (a 24- or 53-bit integer times a power
// of two), so no compiler setting can change a result.
#pragma once

#include <cstdint>

#include "core/host_device.h"

namespace duet {

struct Philox4 {
  uint32_t w[4];
};

DUET_HOST_DEVICE inline Philox4 philox4x32_10(uint64_t key, uint64_t counter) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  uint32_t c0 = uint32_t(counter), c1 = uint32_t(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = uint32_t(key), k1 = uint32_t(key >> 32);
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = uint64_t(kMul0) * c0, p1 = uint64_t(kMul1) * c2;
    uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0, n1 = uint32_t(p1);
    uint32_t n2 = uint32_t(p0 >> 32) ^ c3 ^ k1, n3 = uint32_t(p0);
    c0 = n0, c1 = n1, c2 = n2, c3 = n3;
    k0 += kWeyl0, k1 += kWeyl1;
  }
  return {{c0, c1, c2, c3}};
}

// The float in [0, 1) that a 32-bit word maps to (its top 24 bits).
DUET_HOST_DEVICE inline float uniform01_from_bits(uint32_t bits) { return float(bits >> 8) * (1.0f / 16777216.0f); }
// The double in [0, 1) that two words map to (53 bits).
DUET_HOST_DEVICE inline double uniform01_from_bits64(uint32_t hi, uint32_t lo) {
  return double((uint64_t(hi) << 21) ^ (lo >> 11)) * (1.0 / 9007199254740992.0);
}

}  // namespace duet
