// Helpers shared by the test files: reading any tensor's values through its strides, and
// checking that a statement throws a duet::Error whose message names the problem.
#pragma once

#include <doctest/doctest.h>

#include <cstring>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/functions.h"
#include "core/parallel.h"
#include "core/tensor.h"

namespace duet::testing {

// A small deterministic generator for test data (a 64-bit LCG; the high bits).
inline uint64_t lcg(uint64_t& s) {
  s = s * 6364136223846793005ull + 1442695040888963407ull;
  return s >> 33;
}

// Index values in [0, hi) (all 0 when hi is 0), as an int32 or int64 tensor.
inline Tensor make_index(DType dt, const Shape& shape, int64_t hi, uint64_t seed) {
  const int64_t n = numel_of(shape);
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = hi > 0 ? int64_t(lcg(seed) % uint64_t(hi)) : 0;
  Tensor t = tensor<int64_t>(v, shape);
  return dt == DType::Int64 ? t : t.to(dt);
}

// Values in logical row-major order, read through the strides (no kernels involved).
// Sets the thread count for a scope and restores the previous one however the scope ends.
struct ThreadCount {
  int saved = get_num_threads();
  explicit ThreadCount(int n) { set_num_threads(n); }
  ~ThreadCount() { set_num_threads(saved); }
};

inline std::vector<double> values_of(const Tensor& t) {
  std::vector<double> v;
  const int64_t n = t.numel();
  visit_dtype(t.dtype(), [&]<typename T>() {
    const T* p = static_cast<const T*>(t.data_ptr());
    for (int64_t i = 0; i < n; ++i) {
      int64_t rem = i, off = 0;
      for (int64_t d = t.dim() - 1; d >= 0; --d) {
        off += (rem % t.size(d)) * t.stride(d);
        rem /= t.size(d);
      }
      v.push_back(double(compute_t<T>(p[off])));
    }
  });
  return v;
}

// Runs fn, which must throw a duet::Error (a user error, not an InternalError) whose
// message contains every one of `parts`.
inline void expect_error(const std::function<void()>& fn, std::initializer_list<std::string_view> parts,
                         const char* expr = "statement") {
  try {
    fn();
  } catch (const InternalError& e) {
    FAIL_CHECK(expr << ": threw duet::InternalError (an internal bug, not a user error): " << e.what());
    return;
  } catch (const Error& e) {
    std::string msg = e.what();
    for (std::string_view p : parts)
      CHECK_MESSAGE(msg.find(p) != std::string::npos, expr << ": message \"" << msg << "\" lacks \"" << p << "\"");
    return;
  } catch (const std::exception& e) {
    FAIL_CHECK(expr << ": threw a non-duet exception: " << e.what());
    return;
  }
  FAIL_CHECK(expr << ": did not throw");
}

// Runs a training run eagerly (run(false)) and compiled (run(true)), each returning its
// values (losses, then parameters) as doubles, and checks that their bits agree; returns
// the eager run's values for further checks.
inline std::vector<double> check_compiled_matches_eager(const std::function<std::vector<double>(bool)>& run) {
  const std::vector<double> eager = run(false), compiled = run(true);
  REQUIRE(eager.size() == compiled.size());
  CHECK(std::memcmp(eager.data(), compiled.data(), eager.size() * sizeof(double)) == 0);
  return eager;
}

// t's values as doubles appended to `out` (any dtype, any device).
inline void append_values(std::vector<double>& out, const Tensor& t) {
  for (double v : t.to(Device::cpu()).to(DType::Float64).contiguous().to_vector<double>()) out.push_back(v);
}

}  // namespace duet::testing

#define EXPECT_ERROR(stmt, ...) ::duet::testing::expect_error([&] { (void)(stmt); }, {__VA_ARGS__}, #stmt)
