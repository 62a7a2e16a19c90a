// Element formulas of the factory kernels, shared by kernels/cpu/factory.cpp and
// kernels/cuda/factory.cu so that both backends produce the same bits for the same attrs
// (arange, linspace, and the Philox draws for a given seed and offset).
//
// Why this needs care: compilers fuse a * b + c into one fused multiply-add whenever they
// may (GCC does so in C++ by default wherever the target has FMA, nvcc always does in
// device code), and libm's log/cos differ from CUDA's in the last bit. So every
// multiply-add here is an explicit fma (one rounding on every target, hardware or libm),
// the remaining products are either exact or only feed an fma's multiplicand (nothing a
// compiler can contract), and the normal draw uses its own log and cos built from
// fma-only polynomials instead of the platform's. Division and sqrt are IEEE correctly
// rounded on both sides (nvcc's defaults for double).
//
// Accuracy of the private math: log_positive and cos_two_pi are within a few ulp of the
// correctly rounded result (tests/test_cuda_ops.cpp checks them against libm), which is
// far below what a normal draw needs; what matters is that they are the same everywhere.
#pragma once

#include <math.h>

#include <cstdint>
#include <cstring>

#include "core/host_device.h"
#include "core/philox.h"

namespace duet::factory {

DUET_HOST_DEVICE inline double fma_d(double a, double b, double c) { return ::fma(a, b, c); }
DUET_HOST_DEVICE inline float fma_f(float a, float b, float c) { return ::fmaf(a, b, c); }

DUET_HOST_DEVICE inline uint64_t double_bits(double x) {
#if defined(__CUDA_ARCH__)
  return uint64_t(__double_as_longlong(x));
#else
  uint64_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
#endif
}
DUET_HOST_DEVICE inline double double_from_bits(uint64_t u) {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(int64_t(u));
#else
  double x;
  std::memcpy(&x, &u, sizeof x);
  return x;
#endif
}

// ---- arange and linspace

DUET_HOST_DEVICE inline double arange_value(double start, double step, int64_t i) {
  return fma_d(double(i), step, start);
}
// Integer arange wraps on overflow instead of being undefined.
DUET_HOST_DEVICE inline int64_t arange_int_value(int64_t start, int64_t step, int64_t i) {
  return int64_t(uint64_t(start) + uint64_t(i) * uint64_t(step));
}
// Symmetric, as PyTorch: the first half counts up from start, the second down from end, so
// both end points are exact. step = (end - start) / (steps - 1); steps >= 2.
DUET_HOST_DEVICE inline double linspace_value(double start, double end, double step, int64_t steps, int64_t i) {
  return i < steps / 2 ? fma_d(step, double(i), start) : fma_d(-step, double(steps - 1 - i), end);
}

// ---- the private log and cos of the normal draw

// Natural log of a positive, finite, normal double. x = m 2^e with m in [sqrt(1/2), sqrt(2));
// log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.172, as an odd series in s.
DUET_HOST_DEVICE inline double log_positive(double x) {
  constexpr double kSqrt2 = 1.4142135623730951;
  constexpr double kLn2Hi = 6.93147180369123816490e-01;  // ln 2 with its low 32 bits zero: e * kLn2Hi is exact
  constexpr double kLn2Lo = 1.90821492927058770002e-10;  // ln 2 - kLn2Hi
  const uint64_t bits = double_bits(x);
  int e = int((bits >> 52) & 0x7ff) - 1023;
  double m = double_from_bits((bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull);  // [1, 2)
  if (m > kSqrt2) {
    m = m * 0.5;  // exact
    e += 1;
  }
  const double f = m - 1.0;  // exact (Sterbenz)
  const double s = f / (2.0 + f);
  const double z = s * s;
  // atanh(s) / s - 1 = z (1/3 + z/5 + z^2/7 + ... + z^10/23); the next term is below 2^-60.
  double q = 1.0 / 23.0;
  q = fma_d(q, z, 1.0 / 21.0);
  q = fma_d(q, z, 1.0 / 19.0);
  q = fma_d(q, z, 1.0 / 17.0);
  q = fma_d(q, z, 1.0 / 15.0);
  q = fma_d(q, z, 1.0 / 13.0);
  q = fma_d(q, z, 1.0 / 11.0);
  q = fma_d(q, z, 1.0 / 9.0);
  q = fma_d(q, z, 1.0 / 7.0);
  q = fma_d(q, z, 1.0 / 5.0);
  q = fma_d(q, z, 1.0 / 3.0);
  const double two_s = s + s;
  const double log_m = fma_d(two_s, z * q, two_s);
  const double de = double(e);
  return fma_d(de, kLn2Hi, fma_d(de, kLn2Lo, log_m));
}

// cos(2 pi u) for u in [0, 1). 4u = k + r splits off the quadrant exactly; r > 1/2 is
// folded to 1 - r (exact), so the Taylor polynomials run on [0, pi/4] only.
DUET_HOST_DEVICE inline double cos_two_pi(double u) {
  constexpr double kHalfPi = 1.5707963267948966;
  const double v = u * 4.0;  // exact
  const double kf = ::floor(v);
  double r = v - kf;  // exact
  const int k = int(kf);
  const bool fold = r > 0.5;
  if (fold) r = 1.0 - r;
  const double x = r * kHalfPi;
  const double z = x * x;
  double c = -1.0 / 6402373705728000.0;  // -1/18!
  c = fma_d(c, z, 1.0 / 20922789888000.0);
  c = fma_d(c, z, -1.0 / 87178291200.0);
  c = fma_d(c, z, 1.0 / 479001600.0);
  c = fma_d(c, z, -1.0 / 3628800.0);
  c = fma_d(c, z, 1.0 / 40320.0);
  c = fma_d(c, z, -1.0 / 720.0);
  c = fma_d(c, z, 1.0 / 24.0);
  c = fma_d(c, z, -1.0 / 2.0);
  double s = -1.0 / 121645100408832000.0;  // -1/19!
  s = fma_d(s, z, 1.0 / 355687428096000.0);
  s = fma_d(s, z, -1.0 / 1307674368000.0);
  s = fma_d(s, z, 1.0 / 6227020800.0);
  s = fma_d(s, z, -1.0 / 39916800.0);
  s = fma_d(s, z, 1.0 / 362880.0);
  s = fma_d(s, z, -1.0 / 5040.0);
  s = fma_d(s, z, 1.0 / 120.0);
  s = fma_d(s, z, -1.0 / 6.0);
  const double cos_x = fma_d(z, c, 1.0), sin_x = fma_d(x * z, s, x);
  const double cos_t = fold ? sin_x : cos_x, sin_t = fold ? cos_x : sin_x;  // of t = (pi/2) r before folding
  switch (k) {
    case 0: return cos_t;
    case 1: return -sin_t;
    case 2: return -cos_t;
    default: return sin_t;
  }
}

// ---- the random draws: element `counter` of a draw with key `seed`

// Uniform in [low, low + span) as a double.
DUET_HOST_DEVICE inline double uniform_double(uint64_t seed, uint64_t counter, double low, double span) {
  Philox4 r = philox4x32_10(seed, counter);
  return fma_d(span, uniform01_from_bits64(r.w[0], r.w[1]), low);
}
// Uniform in [lo, hi) as a float (span = float(high - low)); a value that rounds up to hi
// becomes lo, keeping the interval half-open.
DUET_HOST_DEVICE inline float uniform_float(uint64_t seed, uint64_t counter, float lo, float span, float hi) {
  Philox4 r = philox4x32_10(seed, counter);
  float v = fma_f(span, uniform01_from_bits(r.w[0]), lo);
  return v < hi || span == 0 ? v : lo;
}
// Box-Muller on two uniforms of the element's own counter; u1 in (0, 1] keeps log finite.
DUET_HOST_DEVICE inline double normal_double(uint64_t seed, uint64_t counter, double mean, double stddev) {
  Philox4 r = philox4x32_10(seed, counter);
  const double u1 = 1.0 - uniform01_from_bits64(r.w[0], r.w[1]);
  const double u2 = uniform01_from_bits64(r.w[2], r.w[3]);
  const double radius = ::sqrt(-2.0 * log_positive(u1));
  return fma_d(stddev * radius, cos_two_pi(u2), mean);
}
// Uniform integer in [low, low + range) (range = high - low as unsigned, > 0).
DUET_HOST_DEVICE inline int64_t randint_value(uint64_t seed, uint64_t counter, int64_t low, uint64_t range) {
  Philox4 r = philox4x32_10(seed, counter);
  uint64_t bits = (uint64_t(r.w[0]) << 32) | r.w[1];
  return int64_t(uint64_t(low) + bits % range);
}

}  // namespace duet::factory
