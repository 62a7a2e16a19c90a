// Shape function of matmul: NumPy semantics. 1-D operands are promoted to a matrix and the
// added dim is removed from the result; leading (batch) dims broadcast.
#include "core/ops/shape_fns.h"

namespace duet {

TensorMeta matmul_shape(OpKind op, std::span<const Tensor> in, const Attrs&) {
  const Tensor &a = in[0], &b = in[1];
  Device dev = common_device(op, in);
  DUET_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both operands need at least 1 dim, got shapes ", a.sizes(),
             " and ", b.sizes());
  DUET_CHECK(a.dtype() == b.dtype(), "matmul: expected operands of one dtype, got ", describe(a), " and ",
             describe(b));
  DUET_CHECK(is_floating(a.dtype()), "matmul: expected floating-point operands, got ", describe(a), " and ",
             describe(b));
  int64_t k_a = a.size(-1);
  int64_t k_b = b.dim() == 1 ? b.size(0) : b.size(-2);
  DUET_CHECK(k_a == k_b, "matmul: shapes ", a.sizes(), " and ", b.sizes(), " cannot be multiplied (", k_a,
             " != ", k_b, ")");
  Shape batch_a(a.sizes().begin(), a.sizes().end() - std::min<int64_t>(a.dim(), 2));
  Shape batch_b(b.sizes().begin(), b.sizes().end() - std::min<int64_t>(b.dim(), 2));
  Shape out = broadcast_shapes(batch_a, batch_b, "matmul");
  // Note [Work limits]: both operands as broadcast over the batch, and k multiply-adds per
  // output element.
  int64_t batch = 1;
  for (int64_t s : out) batch = saturating_mul(batch, s);
  const int64_t m = a.dim() >= 2 ? a.size(-2) : 1, n = b.dim() >= 2 ? b.size(-1) : 1;
  const int64_t read_a = saturating_mul(saturating_mul(batch, m), k_a);
  const int64_t read_b = saturating_mul(saturating_mul(batch, k_a), n);
  auto operands = [&] { return describe(a) + " @ " + describe(b); };
  check_op_limit(op, read_a > INT64_MAX - read_b ? INT64_MAX : read_a + read_b, kMaxOpReadsLog2, "element reads",
                 operands);
  check_op_limit(op, saturating_mul(saturating_mul(batch, m), saturating_mul(n, k_a)), max_matmul_macs_log2(dev),
                 "multiply-adds", operands);
  if (a.dim() >= 2) out.push_back(a.size(-2));
  if (b.dim() >= 2) out.push_back(b.size(-1));
  return {out, a.dtype(), dev};
}

}  // namespace duet
