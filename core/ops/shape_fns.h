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
DUET_SHAPE_FN(softmax_shape)
// linalg.cpp
DUET_SHAPE_FN(matmul_shape)
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

}  // namespace duet
