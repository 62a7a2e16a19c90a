// One-row GEMM (M = 1, a vector times a matrix: the decoding step's x W^T) without
// packing, for duet's GEMM driver (gemm_duet.cpp). Packing B costs as much as the whole
// product when A is one row, so B is read once, in place, in one of two forms:
//   columns of B contiguous (rsb == 1: B is a transposed weight, W^T): one dot product
//     per column, in kLanes independent partial sums added in a fixed order at the end;
//   rows of B contiguous (csb == 1): c += a[k] * B[k, :] for k in order (an axpy per k).
// The compiler vectorises both (the lanes are independent; nothing is reassociated), the
// columns are split across threads in ranges, and each C element's sum is the same
// whatever the split. C = act(alpha * a B + beta * C + bias) as the blocked path (a GELU
// over each thread's range of C after its stores).
// Measured, decoding char-gpt's model (2-core VM, 1 x 128 times 128 x 512 weights):
// 31 us per product blocked, 3-5 us here.
#pragma once

#include <cstdint>
#include <vector>

#include "core/parallel.h"
#include "kernels/cpu/gemm.h"

namespace duet::cpu::detail {

template <typename T>
bool gemm_row(int64_t N, int64_t K, T alpha, const T* A, int64_t csa, const T* B, int64_t rsb, int64_t csb, T beta,
              T* C, int64_t csc, const GemmEpilogueT<T>* epi) {
  if (rsb != 1 && csb != 1) return false;
  std::vector<T> a_copy;
  const T* a = A;
  if (csa != 1) {  // the row, contiguous
    a_copy.resize(size_t(K));
    for (int64_t k = 0; k < K; ++k) a_copy[size_t(k)] = A[k * csa];
    a = a_copy.data();
  }
  auto store = [&](int64_t j, T sum) {
    T c = alpha * sum;
    if (beta != T(0)) c += beta * C[j * csc];
    if (epi && epi->bias) c += epi->bias[j];
    if (epi && epi->act == Activation::Relu) c = relu_epilogue(c);
    C[j * csc] = c;
  };
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(K, 1));
  if (rsb == 1) {
    constexpr int kLanes = 64 / int(sizeof(T));
    parallel_for(0, N, grain, [&](int64_t lo, int64_t hi) {
      for (int64_t j = lo; j < hi; ++j) {
        const T* b = B + j * csb;
        T acc[kLanes] = {};
        int64_t k = 0;
        for (; k + kLanes <= K; k += kLanes)
          for (int l = 0; l < kLanes; ++l) acc[l] += a[k + l] * b[k + l];
        T sum = 0;
        for (int l = 0; l < kLanes; ++l) sum += acc[l];
        for (; k < K; ++k) sum += a[k] * b[k];
        store(j, sum);
      }
      if (epi) apply_activation(epi->act, 1, hi - lo, C + lo * csc, 0, csc);
    });
    return true;
  }
  parallel_for(0, N, grain, [&](int64_t lo, int64_t hi) {
    std::vector<T> acc(size_t(hi - lo), T(0));
    for (int64_t k = 0; k < K; ++k) {
      const T ak = a[k];
      const T* b = B + k * rsb + lo;
      for (int64_t j = 0; j < hi - lo; ++j) acc[size_t(j)] += ak * b[j];
    }
    for (int64_t j = lo; j < hi; ++j) store(j, acc[size_t(j - lo)]);
    if (epi) apply_activation(epi->act, 1, hi - lo, C + lo * csc, 0, csc);
  });
  return true;
}

}  // namespace duet::cpu::detail
