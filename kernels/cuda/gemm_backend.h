// Which GEMM the CUDA device uses: duet's own kernels (kernels/cuda/gemm_*.cu, the default)
// or cuBLAS (kernels/cuda/cublas_gemm.cpp). Plain C++, declared in every build; defined in
// kernels/cpu/gemm_backends.cpp next to the CPU's selection, because one environment
// variable drives both and must be parsed in one place.
//
// DUET_GEMM names a backend for the device it belongs to; the other device keeps duet's:
//
//   DUET_GEMM   CPU GEMM    CUDA GEMM
//   duet        duet        duet
//   openblas    OpenBLAS    duet
//   eigen       Eigen       duet
//   cublas      duet        cuBLAS
//
// An unknown name, or one not compiled into this build (cublas without CUDA), is a
// duet::Error when a GEMM backend is first asked for; there is no silent fallback. The API
// below selects per device: cuda::set_gemm_backend("openblas") is an error (a CPU backend),
// as is cpu::set_gemm_backend("cublas").
#pragma once

#include <cstdint>
#include <string_view>

namespace duet::cuda {

enum class GemmBackend : uint8_t { Duet, CuBLAS };

// Throws duet::Error when the backend is not in this build (cuBLAS needs a CUDA build).
void set_gemm_backend(GemmBackend backend);
// "duet" or "cublas"; anything else throws duet::Error naming the choices.
void set_gemm_backend(std::string_view name);
// The selection; on first use reads DUET_GEMM (throws if it names no known backend).
GemmBackend get_gemm_backend();
const char* gemm_backend_name(GemmBackend backend);
bool gemm_backend_available(GemmBackend backend);

}  // namespace duet::cuda
