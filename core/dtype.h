// Element types: DType, the 16-bit float types, promotion rules, and visit_dtype, which
// turns a run-time DType into a compile-time C++ type for kernels:
//
//   visit_dtype(t.dtype(), [&]<typename T>() { const T* p = t.data<T>(); ... });
//
// float16 and bfloat16 are storage types: arithmetic on them goes through float.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "core/error.h"

namespace duet {

enum class DType : uint8_t { Float32, Float64, Float16, BFloat16, Int32, Int64, Bool };
inline constexpr int kNumDTypes = 7;

// IEEE 754 binary16.
struct Half {
  uint16_t bits = 0;
  Half() = default;
  Half(float f) : bits(from_float(f)) {}  // NOLINT: implicit like a built-in float type
  operator float() const { return to_float(bits); }
  static uint16_t from_float(float f);
  static float to_float(uint16_t h);
};

// bfloat16: the top 16 bits of a float32, rounded to nearest even.
struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  BFloat16(float f) : bits(from_float(f)) {}  // NOLINT
  operator float() const {
    uint32_t u = uint32_t(bits) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  static uint16_t from_float(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return uint16_t(u >> 16);
  }
};

size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "float32", ...
bool is_floating(DType t);        // float32, float64, float16, bfloat16
bool is_integral(DType t);        // int32, int64, bool
// The smallest type both convert to without losing the category (PyTorch's promote_types).
DType promote_types(DType a, DType b);
// Whether a host value converts to `t` without overflow, as PyTorch checks scalars: for
// int32/int64 it must be finite and in range once truncated (a fraction truncates); bool
// and the floating types take any value (those round, to infinity past their range).
bool fits_without_overflow(double value, DType t);

std::ostream& operator<<(std::ostream& os, DType t);

template <typename T>
struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <> struct dtype_of<Half> { static constexpr DType value = DType::Float16; };
template <> struct dtype_of<BFloat16> { static constexpr DType value = DType::BFloat16; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::Int32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::Bool; };
template <typename T>
inline constexpr DType dtype_v = dtype_of<T>::value;

// The type a kernel accumulates/computes in: float for 16-bit floats, itself otherwise.
template <typename T>
using compute_t = std::conditional_t<std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>, float, T>;

template <typename F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::Float32: return f.template operator()<float>();
    case DType::Float64: return f.template operator()<double>();
    case DType::Float16: return f.template operator()<Half>();
    case DType::BFloat16: return f.template operator()<BFloat16>();
    case DType::Int32: return f.template operator()<int32_t>();
    case DType::Int64: return f.template operator()<int64_t>();
    case DType::Bool: return f.template operator()<bool>();
  }
  DUET_ASSERT(false, "unknown dtype ", int(t));
}

// Only the floating types: others are a user error naming `op`.
template <typename F>
decltype(auto) visit_floating(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Float32: return f.template operator()<float>();
    case DType::Float64: return f.template operator()<double>();
    case DType::Float16: return f.template operator()<Half>();
    case DType::BFloat16: return f.template operator()<BFloat16>();
    default: DUET_FAIL(op, ": expected a floating-point tensor, got ", dtype_name(t));
  }
}

}  // namespace duet
