// Shared machinery of the elementwise CPU kernels (elementwise_unary.cpp,
// elementwise_binary.cpp): dtype conversion, dtype visitors, and the two templated loops
// every op runs through. An op is a small functor:
//
//   struct AddOp {
//     template <typename C> C operator()(C a, C b) const { return a + b; }     // any dtype
//     static constexpr bool kVec = true;                                       // optional:
//     DUET_TARGET_AVX2 __m256 vec(__m256 a, __m256 b) const { ... }            // 8 float32s
//   };
//
// The loops walk out + inputs with StridedLoop (threaded in ~32K-element chunks) and pick,
// per run: a unary op's AVX-512 body (optional kVec512 / vec512, giving the same results
// as vec) when the CPU has AVX-512 and both runs are contiguous float32; the AVX2 body when
// the op has one, the data is float32, the output run is contiguous and each input is
// contiguous or a broadcast scalar (stride 0); a plain contiguous loop (which the compiler
// may vectorise); else a strided loop. 16-bit floats are computed in float. SIMD tails use
// masked loads/stores, so every element of a run goes through the same formula whatever
// the thread split.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "core/tensor.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/elementwise_simd.h"
#include "kernels/cpu/strided_loop.h"

namespace duet::cpu::ew {

// Elements per parallel chunk: below this a kernel stays on the calling thread.
inline constexpr int64_t kGrain = 32768;

template <typename T>
inline constexpr bool is_half_like_v = std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

// Value conversion between any two element types (From may be a compute type). Float to
// integer truncates toward zero and saturates (NaN gives 0) instead of being undefined;
// anything to bool is `v != 0`.
template <typename To, typename From>
inline To convert(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (is_half_like_v<From>) {
    return convert<To>(float(v));
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (is_half_like_v<To>) {
    return To(float(v));
  } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    constexpr From kLow = From(std::numeric_limits<To>::min());  // -2^(bits-1), exact
    if (!(v == v)) return To(0);
    if (v <= kLow) return std::numeric_limits<To>::min();
    if (v >= -kLow) return std::numeric_limits<To>::max();
    return To(v);
  } else {
    return To(v);
  }
}

// Integer arithmetic wraps (two's complement) instead of overflowing into UB.
template <typename C>
inline C wrap_add(C a, C b) {
  if constexpr (std::is_integral_v<C>) return C(std::make_unsigned_t<C>(a) + std::make_unsigned_t<C>(b));
  else return a + b;
}
template <typename C>
inline C wrap_sub(C a, C b) {
  if constexpr (std::is_integral_v<C>) return C(std::make_unsigned_t<C>(a) - std::make_unsigned_t<C>(b));
  else return a - b;
}
template <typename C>
inline C wrap_mul(C a, C b) {
  if constexpr (std::is_integral_v<C>) return C(std::make_unsigned_t<C>(a) * std::make_unsigned_t<C>(b));
  else return a * b;
}

// The four floating types (float ops' outputs).
template <typename F>
void visit_float_types(DType t, F&& f) {
  switch (t) {
    case DType::Float32: return f.template operator()<float>();
    case DType::Float64: return f.template operator()<double>();
    case DType::Float16: return f.template operator()<Half>();
    case DType::BFloat16: return f.template operator()<BFloat16>();
    default: DUET_ASSERT(false, "expected a floating dtype, got ", dtype_name(t));
  }
}

// Every type but bool (arithmetic ops; their shape functions reject bool).
template <typename F>
void visit_numeric(DType t, F&& f) {
  if (t == DType::Bool) DUET_ASSERT(false, "bool reached an arithmetic kernel");
  visit_dtype(t, [&]<typename T>() {
    if constexpr (!std::is_same_v<T, bool>) f.template operator()<T>();
  });
}

template <typename Op>
inline constexpr bool has_vec_v = requires { requires Op::kVec; };
// Optional zmm body: `DUET_TARGET_AVX512 __m512 vec512(__m512) const`, same results as vec.
template <typename Op>
inline constexpr bool has_vec512_v = requires { requires Op::kVec512; };

// Lanes [0, n) set, for the tail of an AVX2 loop (0 < n < 8).
DUET_TARGET_AVX2 inline __m256i tail_mask(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

template <typename Op>
DUET_TARGET_AVX2 void unary_avx2(const Op& op, float* out, const float* in, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, op.vec(_mm256_loadu_ps(in + i)));
  if (i < n) {
    __m256i m = tail_mask(n - i);
    _mm256_maskstore_ps(out + i, m, op.vec(_mm256_maskload_ps(in + i, m)));
  }
}

// The vector body over a strided run (element strides; 0 broadcasts): gathered into a
// buffer, run, scattered back, so a strided element gets the bits a contiguous one would
// (Note [Strided vector ops]).
template <typename Op>
DUET_TARGET_AVX2 void unary_avx2_strided(const Op& op, float* out, int64_t out_stride, const float* in,
                                         int64_t in_stride, int64_t n) {
  constexpr int64_t kBuf = 256;
  alignas(64) float buf[kBuf];
  for (int64_t done = 0; done < n; done += kBuf) {
    const int64_t len = std::min(kBuf, n - done);
    for (int64_t i = 0; i < len; ++i) buf[i] = in[(done + i) * in_stride];
    unary_avx2(op, buf, buf, len);
    for (int64_t i = 0; i < len; ++i) out[(done + i) * out_stride] = buf[i];
  }
}

template <typename Op>
DUET_TARGET_AVX512 void unary_avx512(const Op& op, float* out, const float* in, int64_t n) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {  // two vectors per trip: the loop overhead is a tenth of exp's work
    __m512 a = op.vec512(_mm512_loadu_ps(in + i)), b = op.vec512(_mm512_loadu_ps(in + i + 16));
    _mm512_storeu_ps(out + i, a);
    _mm512_storeu_ps(out + i + 16, b);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(out + i, m, op.vec512(_mm512_maskz_loadu_ps(m, in + i)));
  }
}

// ScalarA/ScalarB: that input has stride 0 along the run (one value broadcast).
template <bool ScalarA, bool ScalarB, typename Op>
DUET_TARGET_AVX2 void binary_avx2(const Op& op, float* out, const float* a, const float* b, int64_t n) {
  __m256 va = ScalarA ? _mm256_broadcast_ss(a) : _mm256_setzero_ps();
  __m256 vb = ScalarB ? _mm256_broadcast_ss(b) : _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 x = ScalarA ? va : _mm256_loadu_ps(a + i);
    __m256 y = ScalarB ? vb : _mm256_loadu_ps(b + i);
    _mm256_storeu_ps(out + i, op.vec(x, y));
  }
  if (i < n) {
    __m256i m = tail_mask(n - i);
    __m256 x = ScalarA ? va : _mm256_maskload_ps(a + i, m);
    __m256 y = ScalarB ? vb : _mm256_maskload_ps(b + i, m);
    _mm256_maskstore_ps(out + i, m, op.vec(x, y));
  }
}

struct Identity {
  template <typename C>
  C operator()(C x) const { return x; }
};

// out[i] = convert<Out>(op(compute_t<In>(x[i]))), x broadcast to out's shape.
template <typename In, typename Out, typename Op>
void run_unary(const Tensor& x, const Tensor& out, const Op& op) {
  using C = compute_t<In>;
  StridedLoop loop(out, std::span<const Tensor>(&x, 1));
  loop.run(kGrain, [&](char** p, const int64_t* s, int64_t n) {
    constexpr int64_t kIn = sizeof(In), kOut = sizeof(Out);
    if constexpr (std::is_same_v<Op, Identity> && std::is_same_v<In, Out>) {
      if (s[0] == kOut && s[1] == kIn) {  // plain copy: bytes, so NaN payloads survive
        // memmove: x.copy_(x) has src == dst (partial overlaps were copied aside first,
        // Note [In-place overlap] in core/dispatch.cpp).
        std::memmove(p[0], p[1], size_t(n) * sizeof(In));
        return;
      }
      for (int64_t i = 0; i < n; ++i) std::memmove(p[0] + i * s[0], p[1] + i * s[1], sizeof(In));
      return;
    } else {
      if constexpr (std::is_same_v<In, float> && std::is_same_v<Out, float> && has_vec512_v<Op>) {
        if (s[0] == 4 && s[1] == 4 && has_avx512()) {
          unary_avx512(op, reinterpret_cast<float*>(p[0]), reinterpret_cast<const float*>(p[1]), n);
          return;
        }
      }
      if constexpr (std::is_same_v<In, float> && std::is_same_v<Out, float> && has_vec_v<Op>) {
        if (s[0] == 4 && s[1] == 4 && has_avx2_fma()) {
          unary_avx2(op, reinterpret_cast<float*>(p[0]), reinterpret_cast<const float*>(p[1]), n);
          return;
        }
        // Note [Strided vector ops]: a strided or broadcast run goes through the same vector
        // body as a contiguous one (gathered into a buffer, scattered back), so exp, log,
        // tanh, ... of a view give the bits of the same op on a contiguous copy, and the
        // graph's tile interpreter, which gathers the same way, gives eager's bits on views.
        if (has_avx2_fma()) {
          unary_avx2_strided(op, reinterpret_cast<float*>(p[0]), s[0] / kOut, reinterpret_cast<const float*>(p[1]),
                             s[1] / kIn, n);
          return;
        }
      }
      if (s[0] == kOut && s[1] == kIn) {
        Out* o = reinterpret_cast<Out*>(p[0]);
        const In* a = reinterpret_cast<const In*>(p[1]);
        for (int64_t i = 0; i < n; ++i) o[i] = convert<Out>(op(C(a[i])));
      } else {
        for (int64_t i = 0; i < n; ++i)
          *reinterpret_cast<Out*>(p[0] + i * s[0]) = convert<Out>(op(C(*reinterpret_cast<const In*>(p[1] + i * s[1]))));
      }
    }
  });
}

// out[i] = convert<Out>(op(C(a[i]), C(b[i]))), a and b of type T broadcast to out's shape.
template <typename T, typename Out, typename Op>
void run_binary(const Tensor& a, const Tensor& b, const Tensor& out, const Op& op) {
  using C = compute_t<T>;
  const Tensor ins[2] = {a, b};
  StridedLoop loop(out, ins);
  loop.run(kGrain, [&](char** p, const int64_t* s, int64_t n) {
    constexpr int64_t kT = sizeof(T), kOut = sizeof(Out);
    if constexpr (std::is_same_v<T, float> && std::is_same_v<Out, float> && has_vec_v<Op>) {
      if (s[0] == 4 && (s[1] == 4 || s[1] == 0) && (s[2] == 4 || s[2] == 0) && has_avx2_fma()) {
        float* o = reinterpret_cast<float*>(p[0]);
        const float* x = reinterpret_cast<const float*>(p[1]);
        const float* y = reinterpret_cast<const float*>(p[2]);
        if (s[1] == 0 && s[2] == 0) binary_avx2<true, true>(op, o, x, y, n);
        else if (s[1] == 0) binary_avx2<true, false>(op, o, x, y, n);
        else if (s[2] == 0) binary_avx2<false, true>(op, o, x, y, n);
        else binary_avx2<false, false>(op, o, x, y, n);
        return;
      }
    }
    if (s[0] == kOut && s[1] == kT && s[2] == kT) {
      Out* o = reinterpret_cast<Out*>(p[0]);
      const T* x = reinterpret_cast<const T*>(p[1]);
      const T* y = reinterpret_cast<const T*>(p[2]);
      for (int64_t i = 0; i < n; ++i) o[i] = convert<Out>(op(C(x[i]), C(y[i])));
    } else if (s[0] == kOut && s[1] == kT && s[2] == 0) {  // tensor op scalar
      Out* o = reinterpret_cast<Out*>(p[0]);
      const T* x = reinterpret_cast<const T*>(p[1]);
      const C y = C(*reinterpret_cast<const T*>(p[2]));
      for (int64_t i = 0; i < n; ++i) o[i] = convert<Out>(op(C(x[i]), y));
    } else {
      for (int64_t i = 0; i < n; ++i) {
        C x = C(*reinterpret_cast<const T*>(p[1] + i * s[1]));
        C y = C(*reinterpret_cast<const T*>(p[2] + i * s[2]));
        *reinterpret_cast<Out*>(p[0] + i * s[0]) = convert<Out>(op(x, y));
      }
    }
  });
}

// Writes src, converted and broadcast, into dst (any dtypes, any strides): copy and cast.
void convert_into(const Tensor& src, const Tensor& dst);
// `t` itself when it already has dtype `dt`, else a contiguous converted copy.
Tensor as_dtype(const Tensor& t, DType dt);

}  // namespace duet::cpu::ew
