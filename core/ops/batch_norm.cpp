// Shape functions of batch normalisation's ops (core/ops.def): x is (N, C), (N, C, L) or
// (N, C, H, W) in float32 or float64, normalised per channel (dim 1) over every other dim;
// the per-channel tensors (mean, var, weight, bias) are 1-D of C values in x's dtype; the
// statistics and the backward sums travel as one [2, C] tensor.
#include "core/ops/shape_fns.h"

namespace duet {
namespace {

int64_t check_input(OpKind op, const Tensor& x, const char* what) {
  DUET_CHECK(x.dim() >= 2 && x.dim() <= 4, op_name(op), ": expected an (N, C), (N, C, L) or (N, C, H, W) ", what,
             ", got ", describe(x));
  DUET_CHECK(x.dtype() == DType::Float32 || x.dtype() == DType::Float64, op_name(op), ": expected a float32 or ",
             "float64 ", what, ", got ", describe(x), " (other dtypes are not supported by these kernels yet)");
  return x.size(1);
}

void check_channel_vector(OpKind op, const Tensor& x, const Tensor& t, const char* what) {
  DUET_CHECK(t.dim() == 1 && t.size(0) == x.size(1), op_name(op), ": ", what, " must be 1-D with ", x.size(1),
             " values (one per channel of the input ", describe(x), "), got ", describe(t));
  DUET_CHECK(t.dtype() == x.dtype(), op_name(op), ": ", what, " ", describe(t), " must have the input's dtype ",
             dtype_name(x.dtype()));
}

void check_pair(OpKind op, const Tensor& x, const Tensor& t, const char* what) {
  DUET_CHECK(t.dim() == 2 && t.size(0) == 2 && t.size(1) == x.size(1) && t.dtype() == x.dtype(), op_name(op), ": ",
             what, " must be ", dtype_name(x.dtype()), "[2, ", x.size(1), "], got ", describe(t));
}

// The backward ops' common inputs (dy, x, mean, var); returns x.
const Tensor& check_backward_inputs(OpKind op, std::span<const Tensor> in) {
  const Tensor &dy = in[0], &x = in[1];
  check_input(op, x, "input");
  DUET_CHECK(dy.sizes() == x.sizes() && dy.dtype() == x.dtype(), op_name(op), ": output gradient ", describe(dy),
             " must match the input ", describe(x));
  check_channel_vector(op, x, in[2], "mean");
  check_channel_vector(op, x, in[3], "var");
  return x;
}

void check_attrs(OpKind op, const Attrs& attrs, bool with_training) {
  DUET_CHECK(attrs.has("eps") && attrs.get_number("eps") >= 0, op_name(op), ": needs a non-negative attr eps");
  if (with_training) DUET_CHECK(attrs.has("training"), op_name(op), ": needs attr training (true or false)");
}

}  // namespace

TensorMeta batch_norm_stats_shape(OpKind op, std::span<const Tensor> in, const Attrs&) {
  const Tensor& x = in[0];
  const int64_t C = check_input(op, x, "input");
  DUET_CHECK(C == 0 || x.numel() > 0, op_name(op), ": statistics of an input with no values per channel: ", describe(x));
  return {{2, C}, x.dtype(), x.device()};
}

TensorMeta batch_norm_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  check_attrs(op, attrs, true);
  Device dev = common_device(op, in);
  const Tensor& x = in[0];
  check_input(op, x, "input");
  const char* names[] = {"", "mean", "var", "weight", "bias"};
  for (size_t i = 1; i < 5; ++i) check_channel_vector(op, x, in[i], names[i]);
  return {x.sizes(), x.dtype(), dev};
}

TensorMeta batch_norm_reduce_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  check_attrs(op, attrs, false);
  Device dev = common_device(op, in);
  const Tensor& x = check_backward_inputs(op, in);
  return {{2, x.size(1)}, x.dtype(), dev};
}

TensorMeta batch_norm_backward_shape(OpKind op, std::span<const Tensor> in, const Attrs& attrs) {
  check_attrs(op, attrs, true);
  Device dev = common_device(op, in);
  const Tensor& x = check_backward_inputs(op, in);
  check_channel_vector(op, x, in[4], "weight");
  check_pair(op, x, in[5], "sums");
  return {x.sizes(), x.dtype(), dev};
}

}  // namespace duet
