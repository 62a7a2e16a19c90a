// CPU kernels of the reductions: sum, mean, prod, amax, amin, var, std, argmax, argmin.
//
// Layout (reduction_plan.h): the input becomes kept dims x reduced dims, each merged where
// contiguous. Three loops share one set of per-op policies:
//   - per output: each output walks its reduced elements in runs (reduce dim innermost,
//     e.g. mean over the last dim); threads split the outputs;
//   - columns: when the innermost kept dim has stride 1 and the reduction does not (e.g. a
//     bias gradient, sum over dim 0 of (128, 256)), a block of adjacent outputs is updated
//     row by row so the loads stay contiguous;
//   - split: few outputs with a long reduction (sum of everything) cut the reduction into
//     fixed 32K-element blocks whose partials are combined in block order, so the result
//     does not depend on the thread count or on timing.
// Accumulation: floating sums/means/var accumulate in double (float32 through an AVX2
// float->double loop, 8 independent chains; the column loop adds 4 rows per pass). Chosen
// over pairwise float summation because it is as fast here (memory-bound) and exact to one
// float rounding: 10M float32 values 1 + k*1e-3 sum with relative error 3e-9 (the float
// rounding of the exact sum) against 3e-3 for a naive float loop. var/std are two-pass
// (mean, then squared deviations) in double. Integer sums/prods accumulate in uint64, so
// they wrap as two's complement int64 (as PyTorch) without signed-overflow UB. amax/amin/argmax/argmin propagate NaN (arg*: the first NaN); ties pick the
// first index.
// Measured on the 2-core shared VM (Sapphire Rapids, heavily loaded by other jobs, so
// best of 3 runs): sum of 16M contiguous float32 2.9 ms = 23 GB/s with 2 threads (18 GB/s
// with 1; memory-bound); sum over dim 0 of (128, 256) 3.2 us (5.0 us before the 4-row
// pass); sum of all of (128, 256) 2.0 us; mean/amax over the last dim of (128, 256)
// 3.8 / 3.3 us; sum over dim 0 / mean over dim 1 of (4096, 4096) 3.2 / 2.7 ms.
#include <cmath>
#include <immintrin.h>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include "core/parallel.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/reduction_f32.h"
#include "kernels/cpu/reduction_plan.h"

namespace duet::cpu {
namespace {

constexpr int64_t kGrainElems = 32768;  // elements of work per thread chunk, at least
constexpr int64_t kSplitBlock = 32768;  // reduced elements per partial in the split loop
constexpr int64_t kSplitBatch = 4096;   // partials the split loop holds at once
constexpr int64_t kColChunk = 1024;     // adjacent outputs updated together in the column loop

// The float32 folds (eight double chains for sums, two max/min chains) live in
// reduction_f32.h, shared with the graph's fused reductions, which must fold each row in
// the same order (Note [Float32 reduction order]); so does the rule that splits long rows
// into kSplitBlock blocks (red::splits_rows is reduce_loop's `M < 16 && N >= 2 * kSplitBlock`).
using red::minmax_f32_avx2;
static_assert(kSplitBlock == red::kSplitBlock);

template <typename T>
inline constexpr bool kIntLike = std::is_integral_v<T>;  // int32, int64, bool

template <typename Out, typename V>
Out to_out(V v) {
  return static_cast<Out>(static_cast<compute_t<Out>>(v));
}

// ---------------------------------------------------------------- AVX2 float32 paths

DUET_TARGET_AVX2 double sum_f32_avx2(const float* p, int64_t n) {
  // Eight chains of 4 doubles: enough independent adds to cover the add latency.
  __m256d a[8];
  red::sum_init(a);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) red::sum_step32(a, p + i);
  for (; i + 4 <= n; i += 4) red::sum_step4(a, p + i);
  return red::sum_close(a, p + i, n - i);
}

DUET_TARGET_AVX2 void col_sum_f32_avx2(double* acc, const float* row, int64_t n) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4)
    _mm256_storeu_pd(acc + j, _mm256_add_pd(_mm256_loadu_pd(acc + j), _mm256_cvtps_pd(_mm_loadu_ps(row + j))));
  for (; j < n; ++j) acc[j] += double(row[j]);
}

// Four rows per pass over the accumulators: a quarter of the accumulator loads/stores.
DUET_TARGET_AVX2 void col_sum4_f32_avx2(double* acc, const float* const* r, int64_t n) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    __m256d a = _mm256_add_pd(_mm256_cvtps_pd(_mm_loadu_ps(r[0] + j)), _mm256_cvtps_pd(_mm_loadu_ps(r[1] + j)));
    __m256d b = _mm256_add_pd(_mm256_cvtps_pd(_mm_loadu_ps(r[2] + j)), _mm256_cvtps_pd(_mm_loadu_ps(r[3] + j)));
    _mm256_storeu_pd(acc + j, _mm256_add_pd(_mm256_loadu_pd(acc + j), _mm256_add_pd(a, b)));
  }
  for (; j < n; ++j) acc[j] += (double(r[0][j]) + double(r[1][j])) + (double(r[2][j]) + double(r[3][j]));
}

// ---------------------------------------------------------------- op policies
// Each policy: Acc, init(m), run(acc, p, n, stride, first_index), combine(a, b) (a comes
// first), finalize(acc, m); kColumns ones also col_row(acc*, row, n, index).

template <typename T, typename Out, bool kMean>
struct SumOp {
  using C = compute_t<T>;
  // Integers wrap like int64 arithmetic (two's complement, as PyTorch); unsigned keeps the
  // overflow defined, and the final conversion to int64 is modular (C++20).
  using Acc = std::conditional_t<kIntLike<T>, uint64_t, double>;
  static constexpr bool kColumns = true;
  int64_t count = 0;
  bool avx2 = has_avx2_fma();

  static Acc val(T v) {
    if constexpr (kIntLike<T>) return Acc(int64_t(v));  // sign-extended, then modular
    else return Acc(C(v));
  }
  Acc init(int64_t) const { return 0; }
  void run(Acc& a, const T* p, int64_t n, int64_t st, int64_t) const {
    if constexpr (std::is_same_v<T, float>) {
      if (st == 1 && avx2) {
        a += sum_f32_avx2(p, n);
        return;
      }
    }
    // Four chains hide the add latency; the order is fixed by the shape alone.
    Acc s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
      s0 += val(p[i * st]);
      s1 += val(p[(i + 1) * st]);
      s2 += val(p[(i + 2) * st]);
      s3 += val(p[(i + 3) * st]);
    }
    for (; i < n; ++i) s0 += val(p[i * st]);
    a += (s0 + s1) + (s2 + s3);
  }
  void col_row(Acc* acc, const T* row, int64_t n, int64_t) const {
    if constexpr (std::is_same_v<T, float>) {
      if (avx2) {
        col_sum_f32_avx2(acc, row, n);
        return;
      }
    }
    for (int64_t j = 0; j < n; ++j) acc[j] += val(row[j]);
  }
  // Optional: four rows at once (the column loop uses it when present).
  bool col_rows4(Acc* acc, const T* const* rows, int64_t n) const {
    if constexpr (std::is_same_v<T, float>) {
      if (avx2) {
        col_sum4_f32_avx2(acc, rows, n);
        return true;
      }
    }
    return false;
  }
  void combine(Acc& a, const Acc& b) const { a += b; }
  Out finalize(const Acc& a, int64_t) const {
    if constexpr (kIntLike<T>) {
      return Out(int64_t(a));  // (mean's shape function takes floating inputs only)
    } else if constexpr (kMean) {
      return to_out<Out>(a / double(count));
    } else {
      return to_out<Out>(a);
    }
  }
};

template <typename T>
struct ProdOp {
  using C = compute_t<T>;
  // Integers wrap like int64 arithmetic; unsigned keeps the overflow defined.
  using Acc = std::conditional_t<kIntLike<T>, uint64_t, double>;
  using Out = std::conditional_t<kIntLike<T>, int64_t, T>;
  static constexpr bool kColumns = true;

  static Acc val(T v) {
    if constexpr (kIntLike<T>) return Acc(int64_t(v));
    else return Acc(C(v));
  }
  Acc init(int64_t) const { return 1; }
  void run(Acc& a, const T* p, int64_t n, int64_t st, int64_t) const {
    for (int64_t i = 0; i < n; ++i) a *= val(p[i * st]);
  }
  void col_row(Acc* acc, const T* row, int64_t n, int64_t) const {
    for (int64_t j = 0; j < n; ++j) acc[j] *= val(row[j]);
  }
  void combine(Acc& a, const Acc& b) const { a *= b; }
  Out finalize(const Acc& a, int64_t) const {
    if constexpr (kIntLike<T>) return int64_t(a);
    else return to_out<Out>(a);
  }
};

template <typename T, bool kMax>
struct MinMaxOp {
  using C = compute_t<T>;
  using Acc = C;
  static constexpr bool kColumns = true;
  bool avx2 = has_avx2_fma();

  static void step(Acc& a, C v) {
    if constexpr (kIntLike<T>) {
      if (kMax ? v > a : v < a) a = v;
    } else {
      // Once a is NaN no comparison is true, so it stays NaN.
      if ((kMax ? v > a : v < a) || v != v) a = v;
    }
  }
  Acc init(int64_t) const {
    if constexpr (kIntLike<T>) return kMax ? std::numeric_limits<C>::lowest() : std::numeric_limits<C>::max();
    else return kMax ? -std::numeric_limits<C>::infinity() : std::numeric_limits<C>::infinity();
  }
  void run(Acc& a, const T* p, int64_t n, int64_t st, int64_t) const {
    if constexpr (std::is_same_v<T, float>) {
      if (st == 1 && avx2 && n >= 16) {
        step(a, minmax_f32_avx2<kMax>(p, n));
        return;
      }
    }
    for (int64_t i = 0; i < n; ++i) step(a, C(p[i * st]));
  }
  void col_row(Acc* acc, const T* row, int64_t n, int64_t) const {
    for (int64_t j = 0; j < n; ++j) step(acc[j], C(row[j]));
  }
  void combine(Acc& a, const Acc& b) const { step(a, b); }
  T finalize(const Acc& a, int64_t) const { return T(a); }
};

template <typename T, bool kMax>
struct ArgOp {
  using C = compute_t<T>;
  struct Acc {
    C best{};
    int64_t idx = -1;
  };
  static constexpr bool kColumns = false;

  static bool better(C v, C best) {
    if constexpr (kIntLike<T>) {
      return kMax ? v > best : v < best;
    } else {
      if (best != best) return false;  // the first NaN wins for good
      return v != v || (kMax ? v > best : v < best);
    }
  }
  Acc init(int64_t) const { return {}; }
  void run(Acc& a, const T* p, int64_t n, int64_t st, int64_t first) const {
    for (int64_t i = 0; i < n; ++i) {
      C v = C(p[i * st]);
      if (a.idx < 0 || better(v, a.best)) a = {v, first + i};
    }
  }
  void col_row(Acc*, const T*, int64_t, int64_t) const {}
  void combine(Acc& a, const Acc& b) const {
    if (b.idx >= 0 && (a.idx < 0 || better(b.best, a.best))) a = b;
  }
  int64_t finalize(const Acc& a, int64_t) const { return a.idx; }
};

// Second pass of var/std: squared deviations from the per-output means of the first.
template <typename T, bool kStd>
struct SqDevOp {
  using C = compute_t<T>;
  struct Acc {
    double mean = 0, ss = 0;
  };
  static constexpr bool kColumns = true;
  const double* means = nullptr;
  double denom = 0;

  Acc init(int64_t m) const { return {means[m], 0.0}; }
  void run(Acc& a, const T* p, int64_t n, int64_t st, int64_t) const {
    double s0 = 0, s1 = 0;
    int64_t i = 0;
    for (; i + 2 <= n; i += 2) {
      double d0 = double(C(p[i * st])) - a.mean, d1 = double(C(p[(i + 1) * st])) - a.mean;
      s0 += d0 * d0;
      s1 += d1 * d1;
    }
    for (; i < n; ++i) {
      double d = double(C(p[i * st])) - a.mean;
      s0 += d * d;
    }
    a.ss += s0 + s1;
  }
  void col_row(Acc* acc, const T* row, int64_t n, int64_t) const {
    for (int64_t j = 0; j < n; ++j) {
      double d = double(C(row[j])) - acc[j].mean;
      acc[j].ss += d * d;
    }
  }
  void combine(Acc& a, const Acc& b) const { a.ss += b.ss; }
  T finalize(const Acc& a, int64_t) const {
    double v = a.ss / denom;
    return to_out<T>(kStd ? std::sqrt(v) : v);
  }
};

// ---------------------------------------------------------------- the loops

template <typename Op, typename T, typename Out>
void reduce_loop(const ReducePlan& plan, const T* x, Out* out, const Op& op) {
  using Acc = typename Op::Acc;
  const DimList& kept = plan.kept;
  const DimList& red = plan.reduced;
  const int64_t M = kept.numel(), N = red.numel();
  if (M == 0) return;

  auto reduce_range = [&](Acc& a, int64_t base, int64_t lo, int64_t hi) {
    walk_runs(red, lo, hi, [&](int64_t off, int64_t n, int64_t st, int64_t first) {
      op.run(a, x + base + off, n, st, first);
    });
  };

  // Columns: innermost kept dim is unit-stride and no reduced dim is.
  if constexpr (Op::kColumns) {
    bool red_unit = red.n > 0 && red.inner_stride() == 1;
    if (kept.n > 0 && kept.inner_stride() == 1 && kept.inner_size() >= 8 && !red_unit && N > 1) {
      DimList outer = kept;
      --outer.n;
      const int64_t L = kept.inner_size();
      const int64_t chunks = (L + kColChunk - 1) / kColChunk;
      const int64_t tasks = outer.numel() * chunks;
      const int64_t grain = std::max<int64_t>(1, kGrainElems / (std::min(L, kColChunk) * N));
      parallel_for(0, tasks, grain, [&](int64_t lo, int64_t hi) {
        // Not std::vector: Acc may be bool.
        std::unique_ptr<Acc[]> acc(new Acc[size_t(std::min(L, kColChunk))]);
        for (int64_t t = lo; t < hi; ++t) {
          int64_t mo = t / chunks, j0 = (t % chunks) * kColChunk, len = std::min(kColChunk, L - j0);
          int64_t base = outer.offset_of(mo) + j0, m0 = mo * L + j0;
          for (int64_t j = 0; j < len; ++j) acc[j] = op.init(m0 + j);
          walk_runs(red, 0, N, [&](int64_t off, int64_t n, int64_t st, int64_t first) {
            int64_t k = 0;
            if constexpr (requires { op.col_rows4(acc.get(), (const T* const*)nullptr, len); }) {
              for (; k + 4 <= n; k += 4) {
                const T* rows[4] = {x + base + off + k * st, x + base + off + (k + 1) * st,
                                    x + base + off + (k + 2) * st, x + base + off + (k + 3) * st};
                if (!op.col_rows4(acc.get(), rows, len)) break;
              }
            }
            for (; k < n; ++k) op.col_row(acc.get(), x + base + off + k * st, len, first + k);
          });
          for (int64_t j = 0; j < len; ++j) out[m0 + j] = op.finalize(acc[j], m0 + j);
        }
      });
      return;
    }
  }

  // Split: few outputs, long reductions. The block grid depends on N only. Partials are
  // made kSplitBatch blocks at a time and folded in block order, so memory stays bounded
  // (an expanded input may be huge) and the result is that of one left-to-right fold.
  if (M < 16 && N >= 2 * kSplitBlock) {
    const int64_t nb = (N + kSplitBlock - 1) / kSplitBlock;
    const int64_t batch = std::min(nb, kSplitBatch);
    std::unique_ptr<Acc[]> part(new Acc[size_t(batch)]);
    for (int64_t m = 0; m < M; ++m) {
      const int64_t base = kept.offset_of(m);
      Acc a{};
      for (int64_t b0 = 0; b0 < nb; b0 += batch) {
        const int64_t b1 = std::min(nb, b0 + batch);
        parallel_for(b0, b1, 1, [&](int64_t lo, int64_t hi) {
          for (int64_t b = lo; b < hi; ++b) {
            Acc p = op.init(m);
            reduce_range(p, base, b * kSplitBlock, std::min(N, (b + 1) * kSplitBlock));
            part[b - b0] = p;
          }
        });
        for (int64_t b = b0; b < b1; ++b) {
          if (b == 0) a = part[0];
          else op.combine(a, part[b - b0]);
        }
      }
      out[m] = op.finalize(a, m);
    }
    return;
  }

  // Per output.
  const int64_t grain = std::max<int64_t>(1, kGrainElems / std::max<int64_t>(N, 1));
  parallel_for(0, M, grain, [&](int64_t lo, int64_t hi) {
    walk_runs(kept, lo, hi, [&](int64_t off, int64_t n, int64_t st, int64_t first) {
      for (int64_t k = 0; k < n; ++k) {
        Acc a = op.init(first + k);
        reduce_range(a, off + k * st, 0, N);
        out[first + k] = op.finalize(a, first + k);
      }
    });
  });
}

ReducePlan plan_for(const Tensor& x, const Attrs& attrs, const char* name) {
  auto dims = wrap_dims(attrs.get_or<std::vector<int64_t>>("dims", {}), x.dim(), name);
  return make_reduce_plan(x, dims, /*reorder=*/true);
}

template <typename T>
const T* in_ptr(const Tensor& x) {
  return static_cast<const T*>(x.data_ptr());
}
template <typename T>
T* out_ptr(const Tensor& out) {
  return static_cast<T*>(out.data_ptr());
}

template <bool kMean>
void sum_like(const Tensor& x, const Tensor& out, const Attrs& attrs, const char* name) {
  ReducePlan plan = plan_for(x, attrs, name);
  visit_dtype(x.dtype(), [&]<typename T>() {
    using Out = std::conditional_t<kIntLike<T>, int64_t, T>;
    DUET_ASSERT(out.dtype() == dtype_v<Out>, name, ": unexpected output dtype");
    SumOp<T, Out, kMean> op;
    op.count = plan.reduced.numel();
    reduce_loop(plan, in_ptr<T>(x), out_ptr<Out>(out), op);
  });
}

template <bool kMax>
void minmax(const Tensor& x, const Tensor& out, const Attrs& attrs, const char* name) {
  ReducePlan plan = plan_for(x, attrs, name);
  visit_dtype(x.dtype(), [&]<typename T>() { reduce_loop(plan, in_ptr<T>(x), out_ptr<T>(out), MinMaxOp<T, kMax>{}); });
}

template <bool kStd>
void var_like(const Tensor& x, const Tensor& out, const Attrs& attrs, const char* name) {
  ReducePlan plan = plan_for(x, attrs, name);
  const int64_t M = plan.kept.numel(), N = plan.reduced.numel();
  double correction = attrs.has("correction") ? attrs.get_number("correction") : 1.0;
  visit_floating(x.dtype(), name, [&]<typename T>() {
    std::vector<double> means(static_cast<size_t>(M));
    SumOp<T, double, true> mean_op;
    mean_op.count = N;
    reduce_loop(plan, in_ptr<T>(x), means.data(), mean_op);
    SqDevOp<T, kStd> op;
    op.means = means.data();
    op.denom = std::max(0.0, double(N) - correction);  // 0 gives inf/nan, as PyTorch does
    reduce_loop(plan, in_ptr<T>(x), out_ptr<T>(out), op);
  });
}

template <bool kMax>
void arg_reduce(const Tensor& x, const Tensor& out, const Attrs& attrs, const char* name) {
  std::vector<int64_t> dims;
  if (!attrs.has("dim")) {
    for (int64_t d = 0; d < x.dim(); ++d) dims.push_back(d);
  } else if (x.dim() > 0) {
    dims.push_back(wrap_dim(attrs.get<int64_t>("dim"), x.dim(), name));
  }
  ReducePlan plan = make_reduce_plan(x, dims, /*reorder=*/false);
  visit_dtype(x.dtype(), [&]<typename T>() {
    reduce_loop(plan, in_ptr<T>(x), out_ptr<int64_t>(out), ArgOp<T, kMax>{});
  });
}

}  // namespace

void sum_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  sum_like<false>(in[0], out, attrs, "sum");
}
void mean_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  sum_like<true>(in[0], out, attrs, "mean");
}
void prod_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  const Tensor& x = in[0];
  ReducePlan plan = plan_for(x, attrs, "prod");
  visit_dtype(x.dtype(), [&]<typename T>() {
    using Op = ProdOp<T>;
    reduce_loop(plan, in_ptr<T>(x), out_ptr<typename Op::Out>(out), Op{});
  });
}
void amax_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  minmax<true>(in[0], out, attrs, "amax");
}
void amin_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  minmax<false>(in[0], out, attrs, "amin");
}
void var_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  var_like<false>(in[0], out, attrs, "var");
}
void std_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  var_like<true>(in[0], out, attrs, "std");
}
void argmax_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  arg_reduce<true>(in[0], out, attrs, "argmax");
}
void argmin_kernel(std::span<const Tensor> in, const Tensor& out, const Attrs& attrs) {
  arg_reduce<false>(in[0], out, attrs, "argmin");
}

}  // namespace duet::cpu
