// Float32 sum and max/min of a row in the order the eager reduction kernels fold it
// (reduction.cpp), written once for them and for the graph's fused reductions
// (graph/fusion_kernel.cpp), which see each row in pieces (tiles, runs cut by a broadcast
// operand) and must give the same bits (Note [Float32 reduction order]).
//
//   double s = sum_f32_avx2(p, n);                   // eager (reduction.cpp): one run
//   red::RowSumF32 acc(n, /*split=*/false);          // fused: the same row in pieces
//   acc.add(p, 100); acc.add(p + 100, n - 100);
//   double t = acc.result();                         // == 0.0 + s, bit for bit
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/vec_math_softmax.h"

namespace duet::cpu::red {

// Note [Float32 reduction order]: float32 sums accumulate in double, which is exact only
// while every partial sum fits in 53 bits: with magnitudes far apart or cancelling (1e20,
// x, -1e20) the bits depend on the order of the additions. amax/amin are exact, but max_ps
// keeps the second of two equal operands (0 and -0) where a scalar `v > m` keeps the first,
// so the sign of a zero result depends on the order too. The eager kernels fold a row of
// n contiguous elements (the reduced extent of one output, or one kSplitBlock-element
// block of it when splits_rows: blocks folded in order) as follows:
//   sum, AVX2:     eight chains of 4 double lanes take 32 elements per step (chain k,
//                  lane j gets element 4k + j of the step), then groups of 4 go into chain
//                  0, the chains are added ((0+1)+(2+3))+((4+5)+(6+7)), the lanes summed
//                  (hsum256d), and the last n % 4 elements added one by one. The output is
//                  0 + that, or, split, the blocks' (0 + sum) added in block order.
//   sum, scalar:   four chains take the elements of each group of 4, the last n % 4 go
//                  into chain 0; 0 + ((c0 + c1) + (c2 + c3)).
//   max/min, AVX2: two 8-lane chains take 16 elements per step (max_ps(chain, v), NaN
//                  tracked apart), hmax256 of the two, then the last n % 16 one by one
//                  (v > m); any NaN gives NaN. (Rows under 16 run the scalar order, which
//                  gives the same values.) Split blocks combine in order, keeping the
//                  first of equal values.
//   max/min, scalar: one by one from -inf (+inf), `v > m` (`v < m`), NaN sticks.
// RowSumF32 and RowMinMaxF32 take the same row in pieces of any length and keep a
// partial step (under 32 or 16 elements) in a small buffer, so every addition and max
// happens in that order. The fused reductions summed sequentially before: 14-45 of 500
// outputs of sum/mean (rows with cancelling magnitudes) and 8-138 of amax/amin (rows whose
// extreme is a zero of either sign) differed from eager's (tests/test_graph_fused_bits.cpp).

// Rows are cut into blocks of this many elements when few outputs have long rows.
inline constexpr int64_t kSplitBlock = 32768;
inline bool splits_rows(int64_t outputs, int64_t row) { return outputs < 16 && row >= 2 * kSplitBlock; }

using softmax_detail::hmax256;
using softmax_detail::hmin256;
using softmax_detail::hsum256d;

// ---- sum, AVX2
DUET_TARGET_AVX2 inline void sum_init(__m256d (&a)[8]) {
  for (auto& v : a) v = _mm256_setzero_pd();
}
// One step of 32 elements: chain k, lane j gets element 4k + j.
DUET_TARGET_AVX2 inline void sum_step32(__m256d (&a)[8], const float* p) {
  for (int k = 0; k < 8; ++k) a[k] = _mm256_add_pd(a[k], _mm256_cvtps_pd(_mm_loadu_ps(p + 4 * k)));
}
// A group of 4 after the last whole step: into chain 0.
DUET_TARGET_AVX2 inline void sum_step4(__m256d (&a)[8], const float* p) {
  a[0] = _mm256_add_pd(a[0], _mm256_cvtps_pd(_mm_loadu_ps(p)));
}
// The chains added pairwise, the lanes summed, then the last n < 4 elements one by one.
DUET_TARGET_AVX2 inline double sum_close(const __m256d (&a)[8], const float* p, int64_t n) {
  __m256d s4 = _mm256_add_pd(_mm256_add_pd(_mm256_add_pd(a[0], a[1]), _mm256_add_pd(a[2], a[3])),
                             _mm256_add_pd(_mm256_add_pd(a[4], a[5]), _mm256_add_pd(a[6], a[7])));
  double s = hsum256d(s4);
  for (int64_t i = 0; i < n; ++i) s += double(p[i]);
  return s;
}
// ---- max/min, AVX2
template <bool kMax>
struct MinMaxChains {
  __m256 m0, m1, bad;
};
template <bool kMax>
DUET_TARGET_AVX2 inline void minmax_init(MinMaxChains<kMax>& c) {
  c.m0 = c.m1 = _mm256_set1_ps(kMax ? -INFINITY : INFINITY);
  c.bad = _mm256_setzero_ps();
}
// `steps` steps of 16 elements. max_ps drops NaN operands, so NaN is tracked in `bad`.
template <bool kMax>
DUET_TARGET_AVX2 inline void minmax_steps(MinMaxChains<kMax>& c, const float* p, int64_t steps) {
  __m256 m0 = c.m0, m1 = c.m1, bad = c.bad;
  for (int64_t s = 0; s < steps; ++s, p += 16) {
    __m256 v0 = _mm256_loadu_ps(p), v1 = _mm256_loadu_ps(p + 8);
    bad = _mm256_or_ps(bad, _mm256_cmp_ps(v0, v1, _CMP_UNORD_Q));
    m0 = kMax ? _mm256_max_ps(m0, v0) : _mm256_min_ps(m0, v0);
    m1 = kMax ? _mm256_max_ps(m1, v1) : _mm256_min_ps(m1, v1);
  }
  c.m0 = m0;
  c.m1 = m1;
  c.bad = bad;
}
// The chains' max (min) with the last n < 16 elements; NaN if any element was NaN.
template <bool kMax>
DUET_TARGET_AVX2 inline float minmax_finish(const MinMaxChains<kMax>& c, const float* p, int64_t n) {
  float m = kMax ? hmax256(_mm256_max_ps(c.m0, c.m1)) : hmin256(_mm256_min_ps(c.m0, c.m1));
  bool nan = _mm256_movemask_ps(c.bad) != 0;
  for (int64_t i = 0; i < n; ++i) {
    float v = p[i];
    if (v != v) nan = true;
    else if (kMax ? v > m : v < m) m = v;
  }
  return nan ? std::numeric_limits<float>::quiet_NaN() : m;
}
// Max (or min) of a contiguous run, NaN if any element is NaN.
template <bool kMax>
DUET_TARGET_AVX2 inline float minmax_f32_avx2(const float* p, int64_t n) {
  MinMaxChains<kMax> c;
  minmax_init(c);
  minmax_steps(c, p, n / 16);
  return minmax_finish(c, p + n / 16 * 16, n % 16);
}

// The scalar step of max (min) with NaN sticking: the eager kernels' one (MinMaxOp::step).
template <bool kMax>
inline void minmax_step(float& a, float v) {
  if ((kMax ? v > a : v < a) || v != v) a = v;
}

// Cuts the row into the eager kernel's blocks (the whole row unless split) and hands each
// block's pieces to Fold::feed, closing each block with Fold::close_block.
template <typename Fold>
class RowBlocks {
 public:
  explicit RowBlocks(bool split) : split_(split) {}
  void add(Fold& f, const float* p, int64_t n) {
    while (n > 0) {
      const int64_t k = split_ ? std::min(n, kSplitBlock - in_block_) : n;
      f.feed(p, k);
      p += k;
      n -= k;
      in_block_ += k;
      if (split_ && in_block_ == kSplitBlock) close(f);
    }
  }
  // After the row's last element: closes the last block unless it is empty (a split row
  // that ends on a block boundary).
  void finish(Fold& f) {
    if (in_block_ > 0 || !any_) close(f);
  }

 private:
  void close(Fold& f) {
    f.close_block(any_);
    any_ = true;
    in_block_ = 0;
  }
  bool split_;
  bool any_ = false;
  int64_t in_block_ = 0;
};

// The sum of one output's row of float32s fed in pieces of any length: result() is, bit
// for bit, what the eager sum kernel gives that output (before rounding to float).
class RowSumF32 {
 public:
  RowSumF32(bool split, bool avx2) : blocks_(split), avx2_(avx2) { reset(); }
  void add(const float* p, int64_t n) { blocks_.add(*this, p, n); }
  double result() {
    blocks_.finish(*this);
    return total_;
  }

 private:
  friend class RowBlocks<RowSumF32>;
  int group() const { return avx2_ ? 32 : 4; }
  void feed(const float* p, int64_t n) {
    if (nbuf_ > 0) {
      const int64_t k = std::min<int64_t>(n, group() - nbuf_);
      std::memcpy(buf_ + nbuf_, p, size_t(k) * 4);
      nbuf_ += int(k);
      p += k;
      n -= k;
      if (nbuf_ < group()) return;
      steps(buf_, 1);
      nbuf_ = 0;
    }
    const int64_t full = n / group();
    if (full) steps(p, full);
    nbuf_ = int(n - full * group());
    std::memcpy(buf_, p + full * group(), size_t(nbuf_) * 4);
  }
  void steps(const float* p, int64_t count) {
    if (avx2_) return steps32(p, count);
    for (int64_t s = 0; s < count; ++s, p += 4)
      for (int j = 0; j < 4; ++j) c_[j] += double(p[j]);
  }
  void close_block(bool after_first) {
    double s;
    if (avx2_) {
      s = close_chains();
    } else {
      for (int i = 0; i < nbuf_; ++i) c_[0] += double(buf_[i]);
      s = (c_[0] + c_[1]) + (c_[2] + c_[3]);
    }
    const double part = 0.0 + s;
    total_ = after_first ? total_ + part : part;
    reset();
  }
  void reset() {
    if (avx2_) zero_chains();
    c_[0] = c_[1] = c_[2] = c_[3] = 0.0;
    nbuf_ = 0;
  }
  DUET_TARGET_AVX2 void zero_chains() { sum_init(a_); }
  DUET_TARGET_AVX2 void steps32(const float* p, int64_t count) {
    for (int64_t s = 0; s < count; ++s) sum_step32(a_, p + 32 * s);
  }
  DUET_TARGET_AVX2 double close_chains() {  // the block's last nbuf_ < 32 elements
    int i = 0;
    for (; i + 4 <= nbuf_; i += 4) sum_step4(a_, buf_ + i);
    return sum_close(a_, buf_ + i, nbuf_ - i);
  }

  RowBlocks<RowSumF32> blocks_;
  bool avx2_;
  __m256d a_[8];
  double c_[4];
  float buf_[32];
  int nbuf_ = 0;
  double total_ = 0.0;
};

// The max (kMax) or min of one output's row fed in pieces: result() is, bit for bit (NaN
// payloads aside), what the eager amax/amin kernel gives that output.
template <bool kMax>
class RowMinMaxF32 {
 public:
  RowMinMaxF32(bool split, bool avx2) : blocks_(split), avx2_(avx2) { reset(); }
  void add(const float* p, int64_t n) { blocks_.add(*this, p, n); }
  float result() {
    blocks_.finish(*this);
    return total_;
  }

 private:
  friend class RowBlocks<RowMinMaxF32>;
  static constexpr float kInit = kMax ? -INFINITY : INFINITY;
  void feed(const float* p, int64_t n) {
    if (!avx2_) {
      for (int64_t i = 0; i < n; ++i) minmax_step<kMax>(m_, p[i]);
      return;
    }
    if (nbuf_ > 0) {
      const int64_t k = std::min<int64_t>(n, 16 - nbuf_);
      std::memcpy(buf_ + nbuf_, p, size_t(k) * 4);
      nbuf_ += int(k);
      p += k;
      n -= k;
      if (nbuf_ < 16) return;
      minmax_steps(c_, buf_, 1);
      nbuf_ = 0;
    }
    const int64_t full = n / 16;
    if (full) minmax_steps(c_, p, full);
    nbuf_ = int(n - full * 16);
    std::memcpy(buf_, p + full * 16, size_t(nbuf_) * 4);
  }
  void close_block(bool after_first) {
    const float r = avx2_ ? minmax_finish(c_, buf_, nbuf_) : m_;
    if (!after_first) total_ = kInit;
    minmax_step<kMax>(total_, r);  // the block's own init, then each block in order
    reset();
  }
  void reset() {
    if (avx2_) init_chains();
    m_ = kInit;
    nbuf_ = 0;
  }
  DUET_TARGET_AVX2 void init_chains() { minmax_init(c_); }

  RowBlocks<RowMinMaxF32> blocks_;
  bool avx2_;
  MinMaxChains<kMax> c_;
  float m_ = kInit;
  float buf_[16];
  int nbuf_ = 0;
  float total_ = kInit;
};

}  // namespace duet::cpu::red
