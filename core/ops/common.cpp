// Helpers shared by the shape functions.
#include <string>

#include "core/ops/shape_fns.h"

namespace duet {

Device common_device(OpKind op, std::span<const Tensor> inputs) {
  Device d = inputs.empty() ? Device::cpu() : inputs[0].device();
  for (size_t i = 1; i < inputs.size(); ++i)
    DUET_CHECK(inputs[i].device() == d, op_name(op), ": expected all tensors on one device, but input 0 is on ", d,
               " and input ", i, " is on ", inputs[i].device());
  return d;
}

std::string describe(const Tensor& t) { return std::string(dtype_name(t.dtype())) + shape_str(t.sizes()); }

// Note [Work limits]: an expanded view costs no memory, so zeros({1}).expand({1LL << 62})
// is a valid 2^62-element tensor, and an op that walks it (sum) or multiplies with it
// (matmul) would run for days, or fail deep in a kernel. Ops whose work is not bounded by
// the memory of their result therefore refuse it up front, in the shape function, with
// two limits:
//   - what an op reads: the elements of its operands as broadcast (a reduction's input,
//     matmul's two operands over the batch, scatter_add's index) may not exceed 2^40. That
//     is 4 TiB of float32, more than any device duet runs on holds, so only an expanded
//     view reaches it: matmul of an expanded [2^20, 2^20] with a [2^20, 1] is refused (on a
//     2-core machine it would run about 7 minutes: 2^30 multiply-adds of that shape take
//     0.4 s);
//   - matmul's multiply-adds may not exceed 2^48 on the CPU (2.8e14: about 20 minutes at a
//     2-core AVX-512 machine's peak) or 2^52 on CUDA (about 3 minutes of FP32 on an H100).
//     Typical products stay far below (a transformer layer's are under 2^44).
// Neither bounds time in general (a 2^40-element sum still takes minutes on a CPU); they
// turn the absurd cases, almost always an expand() that should have come after the
// reduction, into an error naming the op and its operands.
void fail_op_limit(OpKind op, int64_t amount, int limit_log2, const char* what, const std::string& operands) {
  DUET_FAIL(op_name(op), ": ", operands, " needs ", amount == INT64_MAX ? "2^63 or more" : std::to_string(amount), " ",
            what, ", more than the 2^", limit_log2, " one op may do (an expanded view? reduce or multiply before ",
            "expanding; Note [Work limits])");
}

}  // namespace duet
