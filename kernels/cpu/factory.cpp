// CPU kernels of the factories: full, arange, linspace, eye and the random draws.
// Random element i is a pure function of (seed, offset + i) through Philox, so the values
// never depend on the thread count (see core/generator.h). The element formulas live in
// kernels/factory_math.h, shared with the CUDA kernels, which give the same bits.
#include <algorithm>
#include <cmath>

#include "core/parallel.h"
#include "kernels/cpu/kernels.h"
#include "kernels/factory_math.h"

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
    fill_indexed(out, [&](int64_t i) { return factory::arange_int_value(s, st, i); });
  } else {
    fill_indexed(out, [&](int64_t i) { return factory::arange_value(start, step, i); });
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
  fill_indexed(out, [&](int64_t i) { return factory::linspace_value(start, end, step, steps, i); });
}

void eye_kernel(std::span<const Tensor>, const Tensor& out, const Attrs&) {
  int64_t m = out.size(1);
  fill_indexed(out, [&](int64_t i) { return i / m == i % m ? 1.0 : 0.0; });
}

void rand_uniform_kernel(std::span<const Tensor>, const Tensor& out, const Attrs& attrs) {
  uint64_t seed = uint64_t(attrs.get<int64_t>("seed")), offset = uint64_t(attrs.get<int64_t>("offset"));
  double low = attrs.get_number("low"), high = attrs.get_number("high");
  if (out.dtype() == DType::Float64) {
    fill_indexed(out, [&](int64_t i) { return factory::uniform_double(seed, offset + uint64_t(i), low, high - low); });
  } else {
    float lo = float(low), span = float(high - low), hi = float(high);
    fill_indexed(out, [&](int64_t i) { return factory::uniform_float(seed, offset + uint64_t(i), lo, span, hi); });
  }
}

void rand_normal_kernel(std::span<const Tensor>, const Tensor& out, const Attrs& attrs) {
  uint64_t seed = uint64_t(attrs.get<int64_t>("seed")), offset = uint64_t(attrs.get<int64_t>("offset"));
  double mean = attrs.get_number("mean"), stddev = attrs.get_number("std");
  fill_indexed(out, [&](int64_t i) { return factory::normal_double(seed, offset + uint64_t(i), mean, stddev); });
}

void randint_kernel(std::span<const Tensor>, const Tensor& out, const Attrs& attrs) {
  uint64_t seed = uint64_t(attrs.get<int64_t>("seed")), offset = uint64_t(attrs.get<int64_t>("offset"));
  int64_t low = attrs.get<int64_t>("low"), high = attrs.get<int64_t>("high");
  uint64_t range = uint64_t(high) - uint64_t(low);
  fill_indexed(out, [&](int64_t i) { return factory::randint_value(seed, offset + uint64_t(i), low, range); });
}

}  // namespace duet::cpu
