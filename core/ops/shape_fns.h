// Shape functions: for each op, validate the inputs (the only place user input is
// checked) and infer the output's shape, dtype and device. Named in core/ops.def.
// View ops also have their view builders here.
#pragma once

#include <span>

#include "core/op_registry.h"

namespace duet {

#define DUET_SHAPE_FN(fn) TensorMeta fn(OpKind op, std::span<const Tensor> inputs, const Attrs& attrs);
// elementwise.cpp
DUET_SHAPE_FN(unary_same_shape)
DUET_SHAPE_FN(unary_float_shape)
DUET_SHAPE_FN(unary_bool_shape)
DUET_SHAPE_FN(clamp_shape)
DUET_SHAPE_FN(cast_shape)
DUET_SHAPE_FN(binary_shape)
DUET_SHAPE_FN(compare_shape)
DUET_SHAPE_FN(where_shape)
// reduction.cpp
DUET_SHAPE_FN(reduce_shape)
DUET_SHAPE_FN(arg_reduce_shape)
DUET_SHAPE_FN(topk_shape)
DUET_SHAPE_FN(softmax_shape)
// linalg.cpp
DUET_SHAPE_FN(matmul_shape)
// conv.cpp
DUET_SHAPE_FN(conv2d_shape)
DUET_SHAPE_FN(conv2d_input_grad_shape)
DUET_SHAPE_FN(conv2d_weight_grad_shape)
DUET_SHAPE_FN(pool2d_shape)
DUET_SHAPE_FN(adaptive_pool2d_shape)
// layer_norm.cpp
DUET_SHAPE_FN(layer_norm_shape)
DUET_SHAPE_FN(layer_norm_backward_shape)
DUET_SHAPE_FN(layer_norm_affine_shape)
// attention.cpp
DUET_SHAPE_FN(attention_shape)
DUET_SHAPE_FN(attention_backward_shape)
// batch_norm.cpp
DUET_SHAPE_FN(batch_norm_stats_shape)
DUET_SHAPE_FN(batch_norm_shape)
DUET_SHAPE_FN(batch_norm_reduce_shape)
DUET_SHAPE_FN(batch_norm_backward_shape)
// indexing.cpp
DUET_SHAPE_FN(index_select_shape)
DUET_SHAPE_FN(gather_shape)
DUET_SHAPE_FN(scatter_add_shape)
DUET_SHAPE_FN(cat_shape)
DUET_SHAPE_FN(one_hot_shape)
// factory.cpp
DUET_SHAPE_FN(full_shape)
DUET_SHAPE_FN(arange_shape)
DUET_SHAPE_FN(linspace_shape)
DUET_SHAPE_FN(eye_shape)
DUET_SHAPE_FN(random_shape)
// view.cpp
DUET_SHAPE_FN(reshape_shape)
DUET_SHAPE_FN(permute_shape)
DUET_SHAPE_FN(expand_shape)
DUET_SHAPE_FN(slice_shape)
DUET_SHAPE_FN(as_strided_shape)
DUET_SHAPE_FN(as_strided_scatter_shape)
#undef DUET_SHAPE_FN

// View builders, one per DUET_VIEW_OP (view.cpp).
#define DUET_VIEW_OP(name, arity, shape_fn) \
  Tensor name##_view(std::span<const Tensor> inputs, const Attrs& attrs, const TensorMeta& meta);
#define DUET_OP(name, arity, flags, shape_fn)
#include "core/ops.def"
#undef DUET_OP
#undef DUET_VIEW_OP

// Helpers shared by shape functions.
// All inputs on one device; returns it. Names the op and the devices otherwise.
Device common_device(OpKind op, std::span<const Tensor> inputs);
// Shape and dtype of a tensor as "float32[2, 3]" for messages.
std::string describe(const Tensor& t);
// Throws naming `op` when `value` cannot be converted to `dtype` without overflow: NaN,
// an infinity or an out-of-range value for int32/int64 (PyTorch's checked scalar
// conversion; a fraction truncates). Other dtypes take any value.
void check_scalar_fits(const char* op, double value, DType dtype);
// Limits on the work one op may be asked to do (Note [Work limits] in common.cpp): the
// elements it reads, and matmul's multiply-adds on each device (as powers of two).
inline constexpr int kMaxOpReadsLog2 = 40;
inline int max_matmul_macs_log2(Device device) { return device.is_cpu() ? 48 : 52; }
// a * b for non-negative a and b, INT64_MAX when it overflows.
inline int64_t saturating_mul(int64_t a, int64_t b) {
  int64_t p;
  return __builtin_mul_overflow(a, b, &p) ? INT64_MAX : p;
}
[[noreturn]] void fail_op_limit(OpKind op, int64_t amount, int limit_log2, const char* what,
                                const std::string& operands);
// Throws naming the op and its operands (describe_operands(), only called then) when
// `amount` of `what` ("element reads") exceeds 2^limit_log2; INT64_MAX means "overflowed".
template <typename Describe>
void check_op_limit(OpKind op, int64_t amount, int limit_log2, const char* what, Describe&& describe_operands) {
  if (amount > (int64_t(1) << limit_log2)) [[unlikely]]
    fail_op_limit(op, amount, limit_log2, what, describe_operands());
}

}  // namespace duet
