// Tests of matmul and the GEMM underneath (kernels/cpu/matmul.cpp, gemm*.cpp): every
// layout path (four transpose combinations, sliced, expanded, batched with broadcasting,
// 1-D operands, size-0 dims), all floating dtypes, 1 vs 2 threads, every compiled-in
// backend, and the bias+relu epilogue, all against a float64 triple loop.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "core/functions.h"
#include "core/generator.h"
#include "core/parallel.h"
#include "kernels/cpu/gemm.h"

using namespace duet;

namespace {

struct Lcg {
  uint64_t s;
  explicit Lcg(uint64_t seed) : s(seed * 2654435761u + 1) {}
  double next() {  // uniform in [-1, 1)
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return double(s >> 11) / double(1ull << 53) * 2 - 1;
  }
};

template <typename T>
void epilogue_suite();

template <typename T>
Tensor rand_tensor(const Shape& shape, uint64_t seed) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  Lcg g(seed);
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = T(float(g.next()));
  return tensor<T>(v, shape);
}

// NumPy matmul in double, written out independently of the kernel (reads the operands
// through their strides): returns the values of the result in row-major order and its shape.
template <typename T>
std::vector<double> reference(const Tensor& a, const Tensor& b, Shape& out_shape) {
  const int64_t M = a.dim() == 1 ? 1 : a.size(-2), K = a.size(-1);
  const int64_t N = b.dim() == 1 ? 1 : b.size(-1);
  const int64_t abd = std::max<int64_t>(a.dim() - 2, 0), bbd = std::max<int64_t>(b.dim() - 2, 0);
  const int64_t nbd = std::max(abd, bbd);
  Shape batch(size_t(nbd), 1);
  for (int64_t d = 0; d < nbd; ++d) {
    int64_t sa = d - (nbd - abd) >= 0 ? a.size(d - (nbd - abd)) : 1;
    int64_t sb = d - (nbd - bbd) >= 0 ? b.size(d - (nbd - bbd)) : 1;
    batch[size_t(d)] = sa == 1 ? sb : sa;
  }
  out_shape = batch;
  if (a.dim() >= 2) out_shape.push_back(M);
  if (b.dim() >= 2) out_shape.push_back(N);
  int64_t nb = 1;
  for (int64_t s : batch) nb *= s;
  auto value = [](const T* p, int64_t off) {
    if constexpr (std::is_same_v<T, double>) return p[off];
    else return double(float(p[off]));
  };
  const T* pa = static_cast<const T*>(a.data_ptr());
  const T* pb = static_cast<const T*>(b.data_ptr());
  const int64_t ask = a.stride(-1), asm_ = a.dim() >= 2 ? a.stride(-2) : 0;
  const int64_t bsk = b.dim() >= 2 ? b.stride(-2) : b.stride(0), bsn = b.dim() >= 2 ? b.stride(-1) : 0;
  std::vector<double> out;
  std::vector<int64_t> bi(size_t(nbd), 0);
  for (int64_t e = 0; e < nb; ++e) {
    int64_t rem = e;
    for (int64_t d = nbd - 1; d >= 0; --d) bi[size_t(d)] = rem % batch[size_t(d)], rem /= batch[size_t(d)];
    int64_t a0 = 0, b0 = 0;
    for (int64_t d = 0; d < abd; ++d) a0 += (a.size(d) == 1 ? 0 : bi[size_t(nbd - abd + d)]) * a.stride(d);
    for (int64_t d = 0; d < bbd; ++d) b0 += (b.size(d) == 1 ? 0 : bi[size_t(nbd - bbd + d)]) * b.stride(d);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double acc = 0;
        for (int64_t k = 0; k < K; ++k)
          acc += value(pa, a0 + m * asm_ + k * ask) * value(pb, b0 + k * bsk + n * bsn);
        out.push_back(acc);
      }
  }
  return out;
}

template <typename T>
double tolerance(int64_t K, double ref) {
  double mag = std::max(1.0, std::abs(ref));
  if constexpr (std::is_same_v<T, double>) return 1e-12 * double(K + 1) * mag;
  else if constexpr (std::is_same_v<T, float>) return 2e-6 * double(K + 1) * mag;
  else if constexpr (std::is_same_v<T, Half>) return 2e-3 * mag + 1e-5 * double(K);
  else return 1e-2 * mag + 1e-5 * double(K);
}

// Runs matmul(a, b) and compares with the reference; returns the result values.
template <typename T>
std::vector<double> check(const Tensor& a, const Tensor& b, const std::string& what) {
  CAPTURE(what);
  Shape want_shape;
  std::vector<double> want = reference<T>(a, b, want_shape);
  Tensor c = matmul(a, b);
  REQUIRE(c.sizes() == want_shape);
  REQUIRE(c.dtype() == a.dtype());
  REQUIRE(c.is_contiguous());
  const int64_t K = a.size(-1);
  std::vector<double> got(want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    if constexpr (std::is_same_v<T, double>) got[i] = static_cast<const double*>(c.data_ptr())[i];
    else got[i] = double(float(static_cast<const T*>(c.data_ptr())[i]));
  }
  int bad = 0;
  for (size_t i = 0; i < want.size(); ++i)
    if (!(std::abs(got[i] - want[i]) <= tolerance<T>(K, want[i])) && bad++ < 3)
      FAIL_CHECK("element " << i << ": got " << got[i] << ", want " << want[i]);
  CHECK(bad == 0);
  return got;
}

// (rows x cols) operand, stored transposed when `trans` (column-major view).
template <typename T>
Tensor operand(int64_t rows, int64_t cols, bool trans, uint64_t seed) {
  return trans ? rand_tensor<T>({cols, rows}, seed).transpose(0, 1) : rand_tensor<T>({rows, cols}, seed);
}

template <typename T>
void layouts_and_sizes(const std::vector<int64_t>& sizes, const std::vector<int64_t>& ks) {
  uint64_t seed = 1;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (int64_t M : sizes)
        for (int64_t N : sizes)
          for (int64_t K : ks) {
            Tensor a = operand<T>(M, K, ta, seed++), b = operand<T>(K, N, tb, seed++);
            check<T>(a, b, "ta=" + std::to_string(ta) + " tb=" + std::to_string(tb) + " M=" + std::to_string(M) +
                               " N=" + std::to_string(N) + " K=" + std::to_string(K));
          }
}

template <typename T>
void strided_batched_1d() {
  // Sliced with a step: both strides != 1 (general packing), and row/column steps.
  Tensor base = rand_tensor<T>({20, 46}, 7);
  Tensor a_gen = base.slice(1, 0, 46, 2).slice(0, 0, 20, 2);  // (10, 23), strides (92, 2)
  Tensor b_rows = rand_tensor<T>({46, 9}, 8).slice(0, 0, 46, 2);  // (23, 9), row-major lda 18
  Tensor b_cols = rand_tensor<T>({30, 23}, 9).slice(0, 0, 30, 3).transpose(0, 1);  // (23, 10), col-major
  check<T>(a_gen, b_rows, "general A @ stepped rows B");
  check<T>(a_gen, b_cols, "general A @ column-major stepped B");
  check<T>(b_cols.transpose(0, 1), a_gen.transpose(0, 1), "column-major A @ general B");
  // Batched, with broadcast batch dims and expanded (stride-0) views.
  check<T>(rand_tensor<T>({2, 1, 3, 4}, 10), rand_tensor<T>({5, 4, 6}, 11), "(2,1,3,4) @ (5,4,6)");
  check<T>(rand_tensor<T>({3, 4}, 12).unsqueeze(0).expand({4, 3, 4}), rand_tensor<T>({4, 4, 6}, 13),
           "expanded A batch");
  check<T>(rand_tensor<T>({3, 7, 5}, 14).transpose(1, 2), rand_tensor<T>({1, 7, 9}, 15).expand({3, 7, 9}),
           "transposed batch A @ expanded B");
  check<T>(rand_tensor<T>({2, 3, 5, 4}, 16).permute({1, 0, 2, 3}), rand_tensor<T>({4, 8}, 17),
           "permuted batch @ 2-D");
  check<T>(rand_tensor<T>({40, 5, 7}, 18), rand_tensor<T>({40, 7, 3}, 19), "many small (batch-parallel)");
  check<T>(rand_tensor<T>({3, 70, 65}, 20), rand_tensor<T>({65, 70}, 21), "few large batches");
  // 1-D operands.
  check<T>(rand_tensor<T>({9}, 22), rand_tensor<T>({9}, 23), "dot");
  check<T>(rand_tensor<T>({18}, 24).slice(0, 0, 18, 2), rand_tensor<T>({9, 5}, 25), "strided vec @ mat");
  check<T>(rand_tensor<T>({6, 9}, 26), rand_tensor<T>({9}, 27), "mat @ vec");
  check<T>(rand_tensor<T>({9}, 28), rand_tensor<T>({2, 9, 4}, 29), "vec @ batch");
  check<T>(rand_tensor<T>({2, 3, 9}, 30), rand_tensor<T>({9}, 31), "batch @ vec");
  check<T>(rand_tensor<T>({1, 1}, 32), rand_tensor<T>({1, 1}, 33), "1x1");
}

}  // namespace

TEST_CASE("matmul float32: four transpose combinations, sizes 1..70") {
  set_num_threads(2);
  layouts_and_sizes<float>({1, 2, 5, 6, 7, 11, 12, 16, 17, 23, 32, 37, 53, 70}, {1, 3, 16, 29, 70});
}

TEST_CASE("matmul: every micro-kernel family this CPU has (AVX-512, AVX2, scalar)") {
  using cpu::detail::GemmIsa;
  set_num_threads(2);
  for (GemmIsa isa : {GemmIsa::Scalar, GemmIsa::Avx2, GemmIsa::Avx512}) {
    cpu::detail::set_gemm_isa_limit(isa);
    if (cpu::detail::gemm_isa() != isa) continue;  // not on this CPU
    CAPTURE(int(isa));
    layouts_and_sizes<float>({1, 6, 7, 13, 33, 70}, {1, 17, 70});
    layouts_and_sizes<double>({1, 5, 9, 17}, {2, 40});
    strided_batched_1d<float>();
    check<float>(rand_tensor<float>({150, 400}, 60), rand_tensor<float>({400, 130}, 61), "threaded, K slices");
    check<double>(rand_tensor<double>({70, 300}, 62), rand_tensor<double>({300, 50}, 63), "threaded double");
    epilogue_suite<float>();
    epilogue_suite<double>();
  }
  cpu::detail::set_gemm_isa_limit(GemmIsa::Avx512);
}

TEST_CASE("matmul float32: strided, batched, broadcast, 1-D") {
  set_num_threads(2);
  strided_batched_1d<float>();
}

TEST_CASE("matmul float64, float16, bfloat16") {
  set_num_threads(2);
  layouts_and_sizes<double>({1, 5, 6, 7, 17, 41}, {1, 13, 67});
  strided_batched_1d<double>();
  layouts_and_sizes<Half>({1, 7, 17, 33}, {1, 13, 40});
  strided_batched_1d<Half>();
  layouts_and_sizes<BFloat16>({3, 16, 19}, {5, 31});
  strided_batched_1d<BFloat16>();
}

TEST_CASE("matmul blocking edges: M > MC, K > KC, N > NC") {
  set_num_threads(2);
  check<float>(rand_tensor<float>({200, 40}, 40), rand_tensor<float>({40, 30}, 41), "M > MC");
  check<float>(rand_tensor<float>({13, 800}, 42), rand_tensor<float>({800, 21}, 43), "K > KC");
  check<float>(rand_tensor<float>({2, 3}, 44), rand_tensor<float>({3, 3100}, 45), "N > NC");
  check<double>(rand_tensor<double>({30, 520}, 46), rand_tensor<double>({520, 2050}, 47).slice(1, 0, 2050, 1),
                "double, several blocks");
}

TEST_CASE("matmul size-0 dims") {
  Tensor c = matmul(rand_tensor<float>({4, 0}, 1), rand_tensor<float>({0, 5}, 2));
  REQUIRE(c.sizes() == Shape{4, 5});
  const float* p = static_cast<const float*>(c.data_ptr());
  for (int i = 0; i < 20; ++i) CHECK(p[i] == 0.f);
  CHECK(matmul(rand_tensor<double>({0, 3}, 3), rand_tensor<double>({3, 5}, 4)).sizes() == Shape{0, 5});
  CHECK(matmul(rand_tensor<float>({2, 0, 3, 4}, 5), rand_tensor<float>({4, 2}, 6)).sizes() == Shape{2, 0, 3, 2});
  Tensor d = matmul(rand_tensor<Half>({2, 3, 0}, 7), rand_tensor<Half>({0, 2}, 8));
  REQUIRE(d.sizes() == Shape{2, 3, 2});
  for (int i = 0; i < 12; ++i) CHECK(float(static_cast<const Half*>(d.data_ptr())[i]) == 0.f);
}

TEST_CASE("matmul: 1 and 2 threads agree (row split and column split)") {
  struct Case {
    Shape a, b;
  };
  // Rows split for 500 x 500 x 70; B panels split, each thread packing its own, where A
  // fits one MC x KC block (150, 128, 6 rows; 256 rows over K = 128), over one or two K
  // slices and with B stored transposed.
  for (const Case& cs : {Case{{500, 500}, {500, 70}}, Case{{150, 300}, {300, 130}}, Case{{6, 64}, {64, 2000}},
                         Case{{128, 1500}, {1500, 200}}, Case{{128, 784}, {256, 784}}, Case{{256, 128}, {128, 300}},
                         Case{{64, 5, 9}, {9, 7}}}) {
    Tensor a = rand_tensor<float>(cs.a, 50), b = rand_tensor<float>(cs.b, 51);
    if (cs.b[0] == 256) b = b.transpose(0, 1);  // x @ W^T, as nn::Linear computes it
    set_num_threads(1);
    Tensor c1 = matmul(a, b);
    set_num_threads(2);
    Tensor c2 = matmul(a, b);
    REQUIRE(c1.sizes() == c2.sizes());
    const float *p1 = static_cast<const float*>(c1.data_ptr()), *p2 = static_cast<const float*>(c2.data_ptr());
    int diff = 0;
    for (int64_t i = 0; i < c1.numel(); ++i) diff += std::abs(p1[i] - p2[i]) > 1e-5f * std::max(1.f, std::abs(p1[i]));
    CHECK(diff == 0);
    check<float>(a, b, "threads");
  }
}

namespace {

// Direct GEMM with alpha, beta, bias and relu or gelu against a double reference. C starts as NaN
// when beta == 0 (it must not be read) and as known values otherwise.
template <typename T>
void check_gemm_epilogue(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, T beta, bool with_bias,
                         cpu::Activation act, bool strided_c) {
  const double beta_d = double(beta);
  CAPTURE(M);
  CAPTURE(N);
  CAPTURE(K);
  CAPTURE(ta);
  CAPTURE(tb);
  CAPTURE(beta_d);
  CAPTURE(strided_c);
  Lcg g(uint64_t(M * 131 + N * 17 + K));
  std::vector<T> A(size_t(M * K)), B(size_t(K * N)), bias(static_cast<size_t>(N)), C0(size_t(M * N * 2));
  for (auto& x : A) x = T(g.next());
  for (auto& x : B) x = T(g.next());
  for (auto& x : bias) x = T(g.next());
  for (auto& x : C0) x = beta == T(0) ? std::numeric_limits<T>::quiet_NaN() : T(g.next());
  std::vector<T> C = C0;
  const int64_t lda = ta ? M : K, ldb = tb ? K : N;
  auto a_at = [&](int64_t i, int64_t k) { return double(ta ? A[size_t(k * lda + i)] : A[size_t(i * lda + k)]); };
  auto b_at = [&](int64_t k, int64_t j) { return double(tb ? B[size_t(j * ldb + k)] : B[size_t(k * ldb + j)]); };
  cpu::GemmEpilogueT<T> epi{with_bias ? bias.data() : nullptr, act};
  // C either row-major (ldc = N) or with column stride 2 (rsc = 2N).
  const int64_t rsc = strided_c ? 2 * N : N, csc = strided_c ? 2 : 1;
  cpu::gemm<T>(M, N, K, alpha, A.data(), ta ? 1 : lda, ta ? lda : 1, B.data(), tb ? 1 : ldb, tb ? ldb : 1, beta,
               C.data(), rsc, csc, &epi);
  int bad = 0;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += a_at(i, k) * b_at(k, j);
      double want = double(alpha) * acc + (beta == T(0) ? 0.0 : double(beta) * double(C0[size_t(i * rsc + j * csc)]));
      if (with_bias) want += double(bias[size_t(j)]);
      if (act == cpu::Activation::Relu) want = std::max(want, 0.0);
      if (act == cpu::Activation::Gelu) want = 0.5 * want * (1.0 + std::erf(want * M_SQRT1_2));
      if (act == cpu::Activation::GeluTanh)
        want = 0.5 * want * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (want + 0.044715 * want * want * want)));
      double got = double(C[size_t(i * rsc + j * csc)]);
      double tol = (std::is_same_v<T, float> ? 3e-6 : 1e-13) * double(K + 2) * std::max(1.0, std::abs(want));
      if (!(std::abs(got - want) <= tol) && bad++ < 3)
        FAIL_CHECK("C(" << i << "," << j << "): got " << got << ", want " << want);
    }
  CHECK(bad == 0);
  if (strided_c)  // the gaps between C's columns are untouched
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        T gap = C[size_t(i * rsc + j * csc + 1)], orig = C0[size_t(i * rsc + j * csc + 1)];
        CHECK((gap == orig || (std::isnan(double(gap)) && std::isnan(double(orig)))));
      }
}

template <typename T>
void epilogue_suite() {
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      // One-row products (gemm_row.h) too: K under, at and past the lanes, and N wide
      // enough to split across threads.
      for (auto [M, N, K] : {std::tuple<int64_t, int64_t, int64_t>{7, 19, 5}, {37, 53, 29}, {6, 16, 400},
                             {64, 40, 0}, {130, 70, 70}, {1, 19, 5}, {1, 37, 16}, {1, 513, 131}, {1, 3000, 40}}) {
        check_gemm_epilogue<T>(ta, tb, M, N, K, T(1), T(0), true, cpu::Activation::Relu, false);
        check_gemm_epilogue<T>(ta, tb, M, N, K, T(0.5), T(-1.5), true, cpu::Activation::None, false);
        check_gemm_epilogue<T>(ta, tb, M, N, K, T(2), T(1), false, cpu::Activation::Relu, ta == tb);
        check_gemm_epilogue<T>(ta, tb, M, N, K, T(1), T(0), true, cpu::Activation::Gelu, false);
        check_gemm_epilogue<T>(ta, tb, M, N, K, T(1), T(0.5), false, cpu::Activation::Gelu, ta == tb);
        check_gemm_epilogue<T>(ta, tb, M, N, K, T(1), T(0), true, cpu::Activation::GeluTanh, ta != tb);
      }
}

}  // namespace

TEST_CASE("gemm epilogue: bias + relu or gelu, alpha, beta (beta = 0 never reads C), strided C") {
  set_num_threads(2);
  epilogue_suite<float>();
  epilogue_suite<double>();
  // The BLAS-style wrapper: C = A^T * B with lda/ldb larger than the matrix.
  std::vector<float> A(4 * 6, 1.f), B(4 * 5, 2.f), C(3 * 3, -1.f), bias{1.f, -100.f, 0.5f};
  cpu::GemmEpilogue epi{bias.data(), cpu::Activation::Relu};
  cpu::sgemm(true, false, 3, 3, 4, 1.f, A.data(), 6, B.data(), 5, 0.f, C.data(), 3, &epi);
  CHECK(C == std::vector<float>{9.f, 0.f, 8.5f, 9.f, 0.f, 8.5f, 9.f, 0.f, 8.5f});
}

TEST_CASE("gemm backends: each available backend gives the same results") {
  set_num_threads(2);
  using cpu::GemmBackend;
  const GemmBackend saved = cpu::get_gemm_backend();
  for (GemmBackend be : {GemmBackend::Duet, GemmBackend::OpenBLAS, GemmBackend::Eigen}) {
    if (!cpu::gemm_backend_available(be)) {
      CHECK_THROWS_AS(cpu::set_gemm_backend(be), Error);
      continue;
    }
    CAPTURE(cpu::gemm_backend_name(be));
    cpu::set_gemm_backend(cpu::gemm_backend_name(be));
    CHECK(cpu::get_gemm_backend() == be);
    layouts_and_sizes<float>({1, 6, 17, 37}, {1, 29});
    layouts_and_sizes<double>({5, 16}, {7});
    strided_batched_1d<float>();
    check<float>(rand_tensor<float>({4, 0}, 1), rand_tensor<float>({0, 5}, 2), "K = 0");
    epilogue_suite<float>();
    epilogue_suite<double>();
  }
  cpu::set_gemm_backend(saved);
  CHECK_THROWS_AS(cpu::set_gemm_backend("mkl"), Error);
  try {
    cpu::set_gemm_backend("cublas");
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("duet") != std::string::npos);
    CHECK(msg.find("openblas") != std::string::npos);
    CHECK(msg.find("eigen") != std::string::npos);
  }
  CHECK(cpu::get_gemm_backend() == saved);
}

TEST_CASE("matmul with K longer than one cache block (several K slices)") {
  duet::manual_seed(21);
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const int64_t M = 37, N = 45, K = 2500;
      duet::Tensor a = ta ? duet::randn({K, M}).t() : duet::randn({M, K});
      duet::Tensor b = tb ? duet::randn({N, K}).t() : duet::randn({K, N});
      std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>();
      std::vector<float> got = duet::matmul(a, b).to_vector<float>();
      double worst = 0;
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
          double want = 0, scale = 0;
          for (int64_t k = 0; k < K; ++k) {
            want += av[size_t(i * K + k)] * bv[size_t(k * N + j)];
            scale += std::fabs(av[size_t(i * K + k)] * bv[size_t(k * N + j)]);
          }
          worst = std::max(worst, std::fabs(double(got[size_t(i * N + j)]) - want) / scale);
        }
      CHECK_MESSAGE(worst < 1e-5, "transposed a=", ta, " b=", tb, ": scaled error ", worst);
    }
}
