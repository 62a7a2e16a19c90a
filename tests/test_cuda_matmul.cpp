// matmul and GEMM on CUDA (label `cuda`): duet's kernels (kernels/cuda/gemm_*.cu) and cuBLAS
// (kernels/cuda/cublas_gemm.cpp), each selected through cuda::set_gemm_backend, against a
// float64 reference computed on the CPU (duet's CPU matmul in float64, itself checked
// against triple loops in test_matmul.cpp). Error bounds scale with sum_k |a_ik| |b_kj|
// (+ |bias_j|).
// Covered: M, N, K over 1..70, sizes around the 64/128 tiles, one large product, the four
// transpose combinations, padded (misaligned) and fully strided operands, batches with
// broadcasting and non-mergeable batch dims, more than 65535 batch entries, 1-D operands,
// K = 0, float64/float16/bfloat16, and the bias+ReLU epilogue through cuda::gemm().
// The backend-selection tests (DUET_GEMM parsing, cuBLAS without a CUDA build) need no GPU
// and run everywhere; the device tests say why they skipped without one.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/functions.h"
#include "core/generator.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cuda/cuda_api.h"
#include "kernels/cuda/gemm_backend.h"
#include "tests/cuda_test_support.h"
#ifdef DUET_HAVE_CUDA
#include "kernels/cuda/gemm.h"
#endif

using namespace duet;
using duet::testing::kGpu;
using duet::testing::skip_without_gpu;
using duet::testing::to_gpu_same_layout;

namespace {

const cuda::GemmBackend kBackends[] = {cuda::GemmBackend::Duet, cuda::GemmBackend::CuBLAS};

// Selects a CUDA backend for a scope.
struct BackendScope {
  cuda::GemmBackend saved;
  explicit BackendScope(cuda::GemmBackend b) : saved(cuda::get_gemm_backend()) { cuda::set_gemm_backend(b); }
  ~BackendScope() { cuda::set_gemm_backend(saved); }
};

// Sets DUET_GEMM (or unsets it for nullptr) and makes both devices read it again.
struct EnvScope {
  std::string saved;
  bool had;
  explicit EnvScope(const char* value) {
    const char* old = std::getenv("DUET_GEMM");
    had = old != nullptr;
    if (had) saved = old;
    set(value);
  }
  static void set(const char* value) {
    if (value) setenv("DUET_GEMM", value, 1);
    else unsetenv("DUET_GEMM");
    duet::cpu::detail::reset_gemm_backends_for_testing();
  }
  ~EnvScope() { set(had ? saved.c_str() : nullptr); }
};

std::string error_of(auto&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

enum class Layout { RowMajor, ColMajor, Padded, Strided };
const char* layout_name(Layout l) {
  switch (l) {
    case Layout::RowMajor: return "row-major";
    case Layout::ColMajor: return "column-major";
    case Layout::Padded: return "padded";
    case Layout::Strided: return "strided";
  }
  return "?";
}

// A rows x cols matrix of N(0, 1) values in the given layout. Padded: row-major with 3
// extra columns and a one-element offset (rows not 16-byte aligned: the scalar-load path);
// Strided: no unit stride at all (the general kernel, cuBLAS packs it).
Tensor make_matrix(int64_t rows, int64_t cols, Layout l, DType dt = DType::Float32) {
  switch (l) {
    case Layout::RowMajor: return randn({rows, cols}).to(dt);
    case Layout::ColMajor: return randn({cols, rows}).to(dt).t();
    case Layout::Padded: return randn({rows, cols + 3}).to(dt).narrow(1, 1, cols);
    case Layout::Strided: return randn({rows, 2 * cols}).to(dt).slice(1, 0, 2 * cols, 2);
  }
  return {};
}

double rel_tol(DType dt) {
  switch (dt) {
    case DType::Float64: return 1e-12;
    case DType::Float16: return 2e-3;
    case DType::BFloat16: return 1e-2;
    default: return 2e-5;
  }
}

// `got` (a device result) against float64 a @ b (+ bias, ReLU) on the CPU.
void expect_matmul(const Tensor& got_gpu, const Tensor& a, const Tensor& b, const std::string& what,
                   const Tensor& bias = {}, bool relu = false) {
  const Tensor a64 = a.to(DType::Float64), b64 = b.to(DType::Float64);
  Tensor want = matmul(a64, b64);
  if (bias.defined()) want = add(want, bias.to(DType::Float64));
  if (relu) want = duet::relu(want);
  want = want.contiguous();
  Tensor bound = matmul(abs(a64), abs(b64));
  if (bias.defined()) bound = add(bound, abs(bias.to(DType::Float64)));
  bound = bound.contiguous();
  const Tensor got = testing::cpu(got_gpu).to(DType::Float64).contiguous();
  REQUIRE_MESSAGE(got.sizes() == want.sizes(), what);
  const double* g = got.data<double>();
  const double* w = want.data<double>();
  const double* bd = bound.data<double>();
  const double tol = rel_tol(got_gpu.dtype());
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double allowed = tol * bd[i] + 1e-30;
    if (!(std::abs(g[i] - w[i]) <= allowed)) {
      FAIL_CHECK(what << ": element " << i << " is " << g[i] << ", expected " << w[i] << " (allowed error "
                      << allowed << ")");
      return;
    }
  }
}

// a @ b on the device (operands copied in their own layout) on `backend`, checked.
void check_gpu_matmul(const Tensor& a, const Tensor& b, cuda::GemmBackend backend, const std::string& what) {
  BackendScope scope(backend);
  std::ostringstream os;
  os << what << " [" << cuda::gemm_backend_name(backend) << ", " << dtype_name(a.dtype()) << ", " << shape_str(a.sizes())
     << " @ " << shape_str(b.sizes()) << "]";
  expect_matmul(matmul(to_gpu_same_layout(a), to_gpu_same_layout(b)), a, b, os.str());
}

void check_layouts(int64_t M, int64_t N, int64_t K, cuda::GemmBackend backend, DType dt = DType::Float32) {
  for (Layout la : {Layout::RowMajor, Layout::ColMajor})
    for (Layout lb : {Layout::RowMajor, Layout::ColMajor}) {
      std::string what = std::string("A ") + layout_name(la) + ", B " + layout_name(lb);
      check_gpu_matmul(make_matrix(M, K, la, dt), make_matrix(K, N, lb, dt), backend, what);
    }
}

}  // namespace

// ---- backend selection (no GPU needed)

TEST_CASE("cuda gemm backend: API selection, names and errors") {
  const cuda::GemmBackend saved = cuda::get_gemm_backend();
  CHECK(std::string(cuda::gemm_backend_name(cuda::GemmBackend::Duet)) == "duet");
  CHECK(std::string(cuda::gemm_backend_name(cuda::GemmBackend::CuBLAS)) == "cublas");
  CHECK(cuda::gemm_backend_available(cuda::GemmBackend::Duet));
  CHECK(cuda::gemm_backend_available(cuda::GemmBackend::CuBLAS) == cuda::built_with_cuda());

  cuda::set_gemm_backend("duet");
  CHECK(cuda::get_gemm_backend() == cuda::GemmBackend::Duet);
  if (cuda::built_with_cuda()) {
    cuda::set_gemm_backend("cublas");
    CHECK(cuda::get_gemm_backend() == cuda::GemmBackend::CuBLAS);
    cuda::set_gemm_backend(cuda::GemmBackend::Duet);
  } else {
    const std::string err = error_of([] { cuda::set_gemm_backend("cublas"); });
    CHECK(contains(err, "needs a build with CUDA"));
    CHECK_THROWS_AS(cuda::set_gemm_backend(cuda::GemmBackend::CuBLAS), Error);
    CHECK(cuda::get_gemm_backend() == cuda::GemmBackend::Duet);
  }
  CHECK(contains(error_of([] { cuda::set_gemm_backend("openblas"); }), "is a CPU GEMM backend"));
  CHECK(contains(error_of([] { cuda::set_gemm_backend("eigen"); }), "is a CPU GEMM backend"));
  const std::string unknown = error_of([] { cuda::set_gemm_backend("mkl"); });
  CHECK(contains(unknown, "unknown GEMM backend 'mkl'"));
  CHECK(contains(unknown, "duet, cublas"));
  // The CPU's selection refuses the CUDA name, and says which names it takes.
  const std::string cpu_err = error_of([] { duet::cpu::set_gemm_backend("cublas"); });
  CHECK(contains(cpu_err, "is a CUDA GEMM backend"));
  CHECK(contains(cpu_err, "duet, openblas, eigen"));
  cuda::set_gemm_backend(saved);
}

TEST_CASE("cuda gemm backend: DUET_GEMM names the backend of the device it belongs to") {
  const duet::cpu::GemmBackend saved_cpu = duet::cpu::get_gemm_backend();
  const cuda::GemmBackend saved_cuda = cuda::get_gemm_backend();
  {
    EnvScope env(nullptr);
    CHECK(duet::cpu::get_gemm_backend() == duet::cpu::GemmBackend::Duet);
    CHECK(cuda::get_gemm_backend() == cuda::GemmBackend::Duet);
    EnvScope::set("duet");
    CHECK(duet::cpu::get_gemm_backend() == duet::cpu::GemmBackend::Duet);
    CHECK(cuda::get_gemm_backend() == cuda::GemmBackend::Duet);
    for (duet::cpu::GemmBackend b : {duet::cpu::GemmBackend::OpenBLAS, duet::cpu::GemmBackend::Eigen}) {
      EnvScope::set(duet::cpu::gemm_backend_name(b));
      CAPTURE(duet::cpu::gemm_backend_name(b));
      if (duet::cpu::gemm_backend_available(b)) {
        CHECK(duet::cpu::get_gemm_backend() == b);
        CHECK(cuda::get_gemm_backend() == cuda::GemmBackend::Duet);  // CUDA keeps duet's kernel
      } else {
        CHECK_THROWS_AS(duet::cpu::get_gemm_backend(), Error);
      }
    }
    EnvScope::set("cublas");
    if (cuda::built_with_cuda()) {
      CHECK(duet::cpu::get_gemm_backend() == duet::cpu::GemmBackend::Duet);  // the CPU keeps duet's GEMM
      CHECK(cuda::get_gemm_backend() == cuda::GemmBackend::CuBLAS);
    } else {
      const std::string e1 = error_of([] { duet::cpu::get_gemm_backend(); });
      const std::string e2 = error_of([] { cuda::get_gemm_backend(); });
      CHECK(contains(e1, "DUET_GEMM"));
      CHECK(contains(e1, "'cublas' needs a build with CUDA"));
      CHECK(e2 == e1);
    }
    EnvScope::set("cuBLAS");  // names are exact
    const std::string e = error_of([] { cuda::get_gemm_backend(); });
    CHECK(contains(e, "DUET_GEMM (environment variable): unknown GEMM backend 'cuBLAS'"));
    CHECK(contains(e, "duet, openblas, eigen (CPU), cublas (CUDA)"));
    CHECK(error_of([] { duet::cpu::get_gemm_backend(); }) == e);
  }
  // EnvScope restored the variable; the API selection wins over it from here on.
  duet::cpu::set_gemm_backend(saved_cpu);
  cuda::set_gemm_backend(saved_cuda);
  CHECK(duet::cpu::get_gemm_backend() == saved_cpu);
  CHECK(cuda::get_gemm_backend() == saved_cuda);
}

// ---- device tests

TEST_CASE("cuda matmul: M, N, K over 1..70, four transposes, both backends") {
  if (skip_without_gpu()) return;
  duet::manual_seed(1);
  const int64_t sizes[] = {1, 3, 4, 8, 17, 33, 64, 70};
  for (cuda::GemmBackend be : kBackends)
    for (int64_t M : sizes)
      for (int64_t N : sizes)
        for (int64_t K : sizes) check_layouts(M, N, K, be);
  std::mt19937 rng(7);
  std::uniform_int_distribution<int64_t> size(1, 70);
  for (int i = 0; i < 60; ++i) {
    const int64_t M = size(rng), N = size(rng), K = size(rng);
    for (cuda::GemmBackend be : kBackends) check_layouts(M, N, K, be);
  }
}

TEST_CASE("cuda matmul: sizes across the 64 and 128 tile edges, and one large product") {
  if (skip_without_gpu()) return;
  duet::manual_seed(2);
  const int64_t shapes[][3] = {{127, 128, 129}, {128, 128, 128}, {129, 257, 127}, {257, 129, 128},
                               {128, 129, 257}, {257, 257, 257}, {1, 257, 129},   {257, 1, 300}};
  for (cuda::GemmBackend be : kBackends)
    for (const auto& s : shapes) check_layouts(s[0], s[1], s[2], be);
  for (cuda::GemmBackend be : kBackends) check_layouts(512, 768, 3072, be);
}

TEST_CASE("cuda matmul: padded and strided operands") {
  if (skip_without_gpu()) return;
  duet::manual_seed(3);
  const Layout all[] = {Layout::RowMajor, Layout::ColMajor, Layout::Padded, Layout::Strided};
  const int64_t shapes[][3] = {{5, 7, 9}, {33, 65, 17}, {130, 70, 129}};
  for (cuda::GemmBackend be : kBackends)
    for (const auto& s : shapes)
      for (Layout la : all)
        for (Layout lb : all) {
          std::string what = std::string("A ") + layout_name(la) + ", B " + layout_name(lb);
          check_gpu_matmul(make_matrix(s[0], s[2], la), make_matrix(s[2], s[1], lb), be, what);
        }
}

TEST_CASE("cuda matmul: batches, broadcasting and 1-D operands") {
  if (skip_without_gpu()) return;
  duet::manual_seed(4);
  for (cuda::GemmBackend be : kBackends) {
    // Broadcast batch dims (size 1 and missing), never materialised.
    check_gpu_matmul(randn({2, 1, 3, 5, 7}), randn({4, 1, 7, 6}), be, "broadcast batch");
    check_gpu_matmul(randn({3, 130, 20}), randn({20, 129}), be, "batched A, shared B");
    check_gpu_matmul(randn({20, 66}), randn({3, 5, 66}).transpose(1, 2), be, "shared A, column-major B");
    check_gpu_matmul(randn({1, 9, 11}).expand({4, 9, 11}), randn({4, 11, 13}), be, "expanded (stride 0) A");
    // Batch dims that do not merge (permuted), with transposed matrices.
    check_gpu_matmul(randn({3, 4, 17, 9}).permute({1, 0, 3, 2}), randn({4, 3, 17, 12}), be, "permuted batch");
    check_gpu_matmul(randn({2, 3, 40, 70}).slice(3, 0, 70, 2), randn({2, 3, 35, 8}), be, "strided batch");
    // 1-D operands.
    check_gpu_matmul(randn({37}), randn({37, 5}), be, "vector @ matrix");
    check_gpu_matmul(randn({6, 37}), randn({37}), be, "matrix @ vector");
    check_gpu_matmul(randn({37}), randn({37}), be, "vector @ vector");
    check_gpu_matmul(randn({2, 3, 37}), randn({37}), be, "batched matrix @ vector");
    check_gpu_matmul(randn({74}).slice(0, 0, 74, 2), randn({3, 37, 4}), be, "strided vector @ batch");
    // More batch entries than grid.z holds.
    check_gpu_matmul(randn({70000, 2, 3}), randn({70000, 3, 2}), be, "70000 batch entries");
    // Tall and skinny.
    check_gpu_matmul(randn({5000, 3}), randn({3, 2}), be, "tall");
  }
}

TEST_CASE("cuda matmul: K = 0 and other dtypes") {
  if (skip_without_gpu()) return;
  duet::manual_seed(5);
  for (cuda::GemmBackend be : kBackends) {
    check_gpu_matmul(randn({4, 0}), randn({0, 5}), be, "K = 0");
    check_gpu_matmul(randn({2, 4, 0}), randn({0, 5}), be, "batched K = 0");
    for (DType dt : {DType::Float64, DType::Float16, DType::BFloat16}) {
      for (int64_t s : {1, 17, 70}) check_layouts(s, s + 3, s + 5, be, dt);
      check_layouts(129, 130, 131, be, dt);
      check_gpu_matmul(make_matrix(33, 9, Layout::Strided, dt), make_matrix(9, 20, Layout::Padded, dt), be,
                       "strided and padded");
      check_gpu_matmul(randn({2, 1, 5, 7}).to(dt), randn({3, 7, 4}).to(dt), be, "broadcast batch");
    }
  }
}

#ifdef DUET_HAVE_CUDA
TEST_CASE("cuda gemm: bias and ReLU epilogue through cuda::gemm") {
  if (skip_without_gpu()) return;
  duet::manual_seed(6);
  for (cuda::GemmBackend be : kBackends)
    for (DType dt : {DType::Float32, DType::Float64, DType::Float16})
      for (bool relu : {false, true})
        for (int64_t K : {0, 7, 130}) {
          BackendScope scope(be);
          const int64_t B = 3, M = 67, N = 131;
          const Tensor a = randn({B, M, K}).to(dt), b = randn({N, K}).to(dt).t(), bias = randn({N}).to(dt);
          const Tensor ga = to_gpu_same_layout(a), gb = to_gpu_same_layout(b), gbias = to_gpu_same_layout(bias);
          Tensor out = empty({B, M, N}, {dt, kGpu});
          cuda::GemmArgs g;
          g.dtype = dt;
          g.device = kGpu.index;
          g.M = M, g.N = N, g.K = K;
          g.a = K ? ga.data_ptr() : nullptr, g.rsa = K, g.csa = 1;
          g.b = K ? gb.data_ptr() : nullptr, g.rsb = gb.stride(0), g.csb = gb.stride(1);
          g.c = out.data_ptr(), g.ldc = N;
          g.batch.add(B, M * K, 0, M * N);  // B shared by every batch entry
          g.bias = gbias.data_ptr();
          g.act = relu ? duet::cpu::Activation::Relu : duet::cpu::Activation::None;
          cuda::gemm(g);
          std::ostringstream os;
          os << "epilogue [" << cuda::gemm_backend_name(be) << ", " << dtype_name(dt) << ", relu " << relu << ", K "
             << K << "]";
          expect_matmul(out, a, b, os.str(), bias, relu);
        }
}
#endif
