// GEMM front door: backend selection (set_gemm_backend / DUET_GEMM), the strided gemm()
// dispatcher, the BLAS-style sgemm/dgemm wrappers, and the OpenBLAS and Eigen reference
// backends. The reference backends exist to compare against (tests, benchmarks); duet's own
// GEMM is the default. The CUDA device's selection (kernels/cuda/gemm_backend.h) is defined
// here too, in every build, because DUET_GEMM names a backend for either device and is
// parsed in one place.
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/parallel.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cuda/cuda_api.h"
#include "kernels/cuda/gemm_backend.h"

#ifdef DUET_HAVE_OPENBLAS
#include <cblas.h>
#endif
#ifdef DUET_HAVE_EIGEN
// GCC 12 reports false -Wmaybe-uninitialized inside Eigen's AVX-512 packing code when it is
// instantiated below; the warning is in Eigen, not here.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#endif

namespace duet::cpu {
namespace {

constexpr GemmBackend kAllBackends[] = {GemmBackend::Duet, GemmBackend::OpenBLAS, GemmBackend::Eigen};

std::string available_names() {
  std::string s;
  for (GemmBackend b : kAllBackends)
    if (gemm_backend_available(b)) s += (s.empty() ? "" : ", ") + std::string(gemm_backend_name(b));
  return s;
}

GemmBackend parse_backend(std::string_view name, const char* where) {
  for (GemmBackend b : kAllBackends)
    if (name == gemm_backend_name(b)) {
      DUET_CHECK(gemm_backend_available(b), where, ": the GEMM backend '", name,
                 "' was not compiled into this build; available: ", available_names());
      return b;
    }
  DUET_CHECK(name != "cublas", where, ": 'cublas' is a CUDA GEMM backend (select it with cuda::set_gemm_backend);",
             " the CPU backends are duet, openblas, eigen (available: ", available_names(), ")");
  DUET_FAIL(where, ": unknown GEMM backend '", name, "'; expected one of duet, openblas, eigen (available: ",
            available_names(), ")");
}

std::atomic<int> g_backend{-1};       // -1: DUET_GEMM not read yet
std::atomic<int> g_cuda_backend{-1};  // likewise, for the CUDA device

constexpr const char* kEnvWhere = "DUET_GEMM (environment variable)";

// DUET_GEMM's choice for the CPU and for CUDA (the table is in kernels/cuda/gemm_backend.h):
// each name selects a backend of one device and leaves the other on duet's own GEMM.
struct EnvChoice {
  GemmBackend cpu = GemmBackend::Duet;
  cuda::GemmBackend cuda = cuda::GemmBackend::Duet;
};
EnvChoice env_choice() {
  const char* env = std::getenv("DUET_GEMM");
  if (!env || !*env) return {};
  const std::string_view name(env);
  if (name == "cublas") {
    DUET_CHECK(cuda::gemm_backend_available(cuda::GemmBackend::CuBLAS), kEnvWhere,
               ": the GEMM backend 'cublas' needs a build with CUDA, and this build has none",
               " (CPU backends available: ", available_names(), ")");
    return {GemmBackend::Duet, cuda::GemmBackend::CuBLAS};
  }
  for (GemmBackend b : kAllBackends)
    if (name == gemm_backend_name(b)) return {parse_backend(name, kEnvWhere), cuda::GemmBackend::Duet};
  DUET_FAIL(kEnvWhere, ": unknown GEMM backend '", name,
            "'; expected one of duet, openblas, eigen (CPU), cublas (CUDA) (available: ", available_names(),
            cuda::built_with_cuda() ? ", cublas)" : ")");
}

#ifdef DUET_HAVE_OPENBLAS
// A matrix as cblas wants it: row-major with a leading dimension, possibly transposed.
// Size-1 dims make the matching stride irrelevant, so they are normalised first.
struct BlasLayout {
  bool ok = false, trans = false;
  int64_t ld = 0;
};
BlasLayout blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  BlasLayout l;
  if ((cols <= 1 || cs == 1) && (rows <= 1 || rs >= std::max<int64_t>(1, cols))) {
    l.ok = true;
    l.ld = rows <= 1 ? std::max<int64_t>(1, cols) : rs;
  } else if ((rows <= 1 || rs == 1) && (cols <= 1 || cs >= std::max<int64_t>(1, rows))) {
    l.ok = l.trans = true;
    l.ld = cols <= 1 ? std::max<int64_t>(1, rows) : cs;
  }
  return l;
}

template <typename T>
const T* to_row_major(int64_t rows, int64_t cols, const T* p, int64_t rs, int64_t cs, std::vector<T>& buf) {
  buf.resize(size_t(rows * cols));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) buf[size_t(i * cols + j)] = p[i * rs + j * cs];
  return buf.data();
}

template <typename T>
void openblas_gemm(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t rsa, int64_t csa, const T* B,
                   int64_t rsb, int64_t csb, T beta, T* C, int64_t rsc, int64_t csc, const GemmEpilogueT<T>* epi) {
  // OpenBLAS has its own pool; keep it at duet's thread count (1 inside a parallel region).
  static std::mutex mu;
  static int threads = -1;
  {
    int want = in_parallel_region() ? 1 : get_num_threads();
    std::lock_guard<std::mutex> lock(mu);
    if (want != threads) {
      openblas_set_num_threads(want);
      threads = want;
    }
  }
  std::vector<T> abuf, bbuf, cbuf;
  BlasLayout la = blas_layout(M, K, rsa, csa), lb = blas_layout(K, N, rsb, csb), lc = blas_layout(M, N, rsc, csc);
  if (!la.ok) A = to_row_major(M, K, A, rsa, csa, abuf), la = {true, false, std::max<int64_t>(1, K)};
  if (!lb.ok) B = to_row_major(K, N, B, rsb, csb, bbuf), lb = {true, false, std::max<int64_t>(1, N)};
  const bool c_direct = lc.ok && !lc.trans;
  T* Cw = C;
  int64_t ldc = lc.ld;
  T beta_w = beta;
  if (!c_direct) {  // compute into a row-major temporary, merge below
    cbuf.assign(size_t(M * N), T(0));
    Cw = cbuf.data();
    ldc = std::max<int64_t>(1, N);
    beta_w = T(0);
  }
  const auto ta = la.trans ? CblasTrans : CblasNoTrans, tb = lb.trans ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, ta, tb, int(M), int(N), int(K), alpha, A, int(la.ld), B, int(lb.ld), beta_w, Cw,
                int(ldc));
  else
    cblas_dgemm(CblasRowMajor, ta, tb, int(M), int(N), int(K), alpha, A, int(la.ld), B, int(lb.ld), beta_w, Cw,
                int(ldc));
  if (!c_direct)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        T& c = C[i * rsc + j * csc];
        c = cbuf[size_t(i * N + j)] + (beta == T(0) ? T(0) : beta * c);
      }
  detail::apply_epilogue(M, N, C, rsc, csc, epi);
}
#endif

#ifdef DUET_HAVE_EIGEN
template <typename T>
void eigen_gemm(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t rsa, int64_t csa, const T* B,
                int64_t rsb, int64_t csb, T beta, T* C, int64_t rsc, int64_t csc, const GemmEpilogueT<T>* epi) {
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using S = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;
  Eigen::Map<const Mat, 0, S> a(A, M, K, S(rsa, csa));
  Eigen::Map<const Mat, 0, S> b(B, K, N, S(rsb, csb));
  Eigen::Map<Mat, 0, S> c(C, M, N, S(rsc, csc));
  if (beta == T(0)) {
    c.noalias() = alpha * (a * b);
  } else {
    c *= beta;
    c.noalias() += alpha * (a * b);
  }
  detail::apply_epilogue(M, N, C, rsc, csc, epi);
}
#endif

}  // namespace

const char* gemm_backend_name(GemmBackend backend) {
  switch (backend) {
    case GemmBackend::Duet: return "duet";
    case GemmBackend::OpenBLAS: return "openblas";
    case GemmBackend::Eigen: return "eigen";
  }
  return "?";
}

bool gemm_backend_available(GemmBackend backend) {
  switch (backend) {
    case GemmBackend::Duet: return true;
#ifdef DUET_HAVE_OPENBLAS
    case GemmBackend::OpenBLAS: return true;
#endif
#ifdef DUET_HAVE_EIGEN
    case GemmBackend::Eigen: return true;
#endif
    default: return false;
  }
}

void set_gemm_backend(GemmBackend backend) {
  DUET_CHECK(gemm_backend_available(backend), "set_gemm_backend: the GEMM backend '", gemm_backend_name(backend),
             "' was not compiled into this build; available: ", available_names());
  g_backend.store(int(backend));
}

void set_gemm_backend(std::string_view name) { g_backend.store(int(parse_backend(name, "set_gemm_backend"))); }

GemmBackend get_gemm_backend() {
  int b = g_backend.load();
  if (b < 0) {
    b = int(env_choice().cpu);
    g_backend.store(b);
  }
  return GemmBackend(b);
}

void detail::reset_gemm_backends_for_testing() {
  g_backend.store(-1);
  g_cuda_backend.store(-1);
}

template <typename T>
void gemm(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t rsa, int64_t csa, const T* B,
          int64_t rsb, int64_t csb, T beta, T* C, int64_t rsc, int64_t csc, const GemmEpilogueT<T>* epi) {
  const GemmBackend backend = get_gemm_backend();
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || backend == GemmBackend::Duet) {
    duet_gemm(M, N, K, alpha, A, rsa, csa, B, rsb, csb, beta, C, rsc, csc, epi);
    return;
  }
#ifdef DUET_HAVE_OPENBLAS
  if (backend == GemmBackend::OpenBLAS) {
    openblas_gemm(M, N, K, alpha, A, rsa, csa, B, rsb, csb, beta, C, rsc, csc, epi);
    return;
  }
#endif
#ifdef DUET_HAVE_EIGEN
  if (backend == GemmBackend::Eigen) {
    eigen_gemm(M, N, K, alpha, A, rsa, csa, B, rsb, csb, beta, C, rsc, csc, epi);
    return;
  }
#endif
  DUET_ASSERT(false, "gemm: backend ", gemm_backend_name(backend), " selected but not compiled in");
}

template void gemm<float>(int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t, const float*, int64_t,
                          int64_t, float, float*, int64_t, int64_t, const GemmEpilogueT<float>*);
template void gemm<double>(int64_t, int64_t, int64_t, double, const double*, int64_t, int64_t, const double*,
                           int64_t, int64_t, double, double*, int64_t, int64_t, const GemmEpilogueT<double>*);

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const GemmEpilogue* epi) {
  gemm<float>(M, N, K, alpha, A, trans_a ? 1 : lda, trans_a ? lda : 1, B, trans_b ? 1 : ldb, trans_b ? ldb : 1,
              beta, C, ldc, 1, epi);
}

void dgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
           int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc,
           const DGemmEpilogue* epi) {
  gemm<double>(M, N, K, alpha, A, trans_a ? 1 : lda, trans_a ? lda : 1, B, trans_b ? 1 : ldb, trans_b ? ldb : 1,
               beta, C, ldc, 1, epi);
}

}  // namespace duet::cpu

namespace duet::cuda {

const char* gemm_backend_name(GemmBackend backend) {
  switch (backend) {
    case GemmBackend::Duet: return "duet";
    case GemmBackend::CuBLAS: return "cublas";
  }
  return "?";
}

bool gemm_backend_available(GemmBackend backend) {
  return backend == GemmBackend::Duet || (backend == GemmBackend::CuBLAS && built_with_cuda());
}

void set_gemm_backend(GemmBackend backend) {
  DUET_CHECK(gemm_backend_available(backend), "cuda::set_gemm_backend: the GEMM backend '",
             gemm_backend_name(backend), "' needs a build with CUDA, and this build has none");
  cpu::g_cuda_backend.store(int(backend));
}

void set_gemm_backend(std::string_view name) {
  for (GemmBackend b : {GemmBackend::Duet, GemmBackend::CuBLAS})
    if (name == gemm_backend_name(b)) return set_gemm_backend(b);
  const bool cpu_name = name == "openblas" || name == "eigen";
  DUET_CHECK(!cpu_name, "cuda::set_gemm_backend: '", name, "' is a CPU GEMM backend (select it with ",
             "cpu::set_gemm_backend); the CUDA backends are duet, cublas");
  DUET_FAIL("cuda::set_gemm_backend: unknown GEMM backend '", name, "'; expected one of duet, cublas");
}

GemmBackend get_gemm_backend() {
  int b = cpu::g_cuda_backend.load();
  if (b < 0) {
    b = int(cpu::env_choice().cuda);
    cpu::g_cuda_backend.store(b);
  }
  return GemmBackend(b);
}

}  // namespace duet::cuda
