// CPU kernels of the factories: full, arange, linspace, eye and the random draws.
// Random element i is a pure function of (seed, offset + i) through Philox, so the values
// never depend on the thread count (see core/generator.h).
#include <cmath>
#include <algorithm>

#include "core/generator.h"
#include "core/parallel.h"
#include "kernels/cpu/kernels.h"

namespace duet::cpu {
namespace {

constexpr int64_t kGrain = 1 << 15;

// Writes f(i) into each element of the contiguous `out`, converted to its dtype.
template <typename F>
void fill_indexed(const Tensor& out, F&& f) {
  visit_dtype(out.dtype(), [&]<typename T>() {
    T* p = static_cast<T*>(out.data_ptr());
    parallel_for(0, out.numel(), kGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) p[i] = static_cast<T>(f(i));
    });
  });
}

}  // namespace

void full_kernel(std::span<const Tensor>, const Tensor& out, const Attrs& attrs) {
  double v = attrs.get_number("value");
  visit_dtype(out.dtype(), [&]<typename T>() {
    T* p = static_cast<T*>(out.data_ptr());
    const T value = static_cast<T>(static_cast<compute_t<T>>(v));
    parallel_for(0, out.numel(), kGrain, [&](int64_t lo, int64_t hi) { std::fill(p + lo, p + hi, value); });
  });
}

void arange_kernel(std::span<const Tensor>, const Tensor& out, const Attrs& attrs) {
  double start = attrs.get_number("start"), step = attrs.get_number("step");
  if (is_integral(out.dtype())) {
    int64_t s = int64_t(start), st = int64_t(step);
    fill_indexed(out, [&](int64_t i) { return s + i * st; });
  } else {
    fill_indexed(out, [&](int64_t i) { return start + double(i) * step; });
  }
}

void linspace_kernel(std::span<const Tensor>, const Tensor& out, const Attrs& attrs) {
  double start = attrs.get_number("start"), end = attrs.get_number("end");
  int64_t steps = out.numel();
  if (steps == 1) {
    fill_indexed(out, [&](int64_t) { return start; });
    return;
  }
  double step = (end - start) / double(steps - 1);
  // Symmetric, as PyTorch: the first half counts up from start, the second down from end,
  // so both end points are exact.
  int64_t half = steps / 2;
  fill_indexed(out, [&](int64_t i) { return i < half ? start + step * double(i) : end - step * double(steps - 1 - i); });
}

void eye_kernel(std::span<const Tensor>, const Tensor& out, const Attrs&) {
  int64_t m = out.size(1);
  fill_indexed(out, [&](int64_t i) { return i / m == i % m ? 1.0 : 0.0; });
}

void rand_uniform_kernel(std::span<const Tensor>, const Tensor& out, const Attrs& attrs) {
  uint64_t seed = uint64_t(attrs.get<int64_t>("seed")), offset = uint64_t(attrs.get<int64_t>("offset"));
  double low = attrs.get_number("low"), high = attrs.get_number("high");
  if (out.dtype() == DType::Float64) {
    fill_indexed(out, [&](int64_t i) {
      auto r = philox4x32(seed, offset + uint64_t(i));
      return low + (high - low) * uniform01_from_bits64(r[0], r[1]);
    });
  } else {
    float lo = float(low), span = float(high - low);
    fill_indexed(out, [&](int64_t i) {
      auto r = philox4x32(seed, offset + uint64_t(i));
      float v = lo + span * uniform01_from_bits(r[0]);
      return v < float(high) || span == 0 ? v : lo;  // keep [low, high) after rounding
    });
  }
}

void rand_normal_kernel(std::span<const Tensor>, const Tensor& out, const Attrs& attrs) {
  uint64_t seed = uint64_t(attrs.get<int64_t>("seed")), offset = uint64_t(attrs.get<int64_t>("offset"));
  double mean = attrs.get_number("mean"), stddev = attrs.get_number("std");
  // Box-Muller on two uniforms of the element's own counter; u1 in (0, 1] keeps log finite.
  fill_indexed(out, [&](int64_t i) {
    auto r = philox4x32(seed, offset + uint64_t(i));
    double u1 = 1.0 - uniform01_from_bits64(r[0], r[1]);
    double u2 = uniform01_from_bits64(r[2], r[3]);
    return mean + stddev * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  });
}

void randint_kernel(std::span<const Tensor>, const Tensor& out, const Attrs& attrs) {
  uint64_t seed = uint64_t(attrs.get<int64_t>("seed")), offset = uint64_t(attrs.get<int64_t>("offset"));
  int64_t low = attrs.get<int64_t>("low"), high = attrs.get<int64_t>("high");
  uint64_t range = uint64_t(high) - uint64_t(low);
  fill_indexed(out, [&](int64_t i) {
    auto r = philox4x32(seed, offset + uint64_t(i));
    uint64_t bits = (uint64_t(r[0]) << 32) | r[1];
    return int64_t(uint64_t(low) + bits % range);
  });
}

}  // namespace duet::cpu
