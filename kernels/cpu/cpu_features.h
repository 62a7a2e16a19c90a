// Run-time CPU feature checks, so a portable build (DUET_NATIVE=OFF) still takes the
// AVX2/FMA paths on CPUs that have them and a scalar path elsewhere.
//   if (cpu::has_avx2_fma()) avx2_kernel(...); else scalar_kernel(...);
// AVX2 code lives in functions marked DUET_TARGET_AVX2.
#pragma once

#define DUET_TARGET_AVX2 __attribute__((target("avx2,fma")))

namespace duet::cpu {

inline bool has_avx2_fma() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}

}  // namespace duet::cpu
