// The default generator, and philox4x32 over the shared Philox in core/philox.h.
#include "core/generator.h"

namespace duet {

std::array<uint32_t, 4> philox4x32(uint64_t key, uint64_t counter) {
  Philox4 r = philox4x32_10(key, counter);
  return {r.w[0], r.w[1], r.w[2], r.w[3]};
}

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace duet
