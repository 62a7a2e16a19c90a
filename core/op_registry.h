// The op registry: one OpDef per line of core/ops.def, holding the op's name, arity,
// flags, shape function and per-device kernels. Eager dispatch, graph capture, the fuser,
// the memory planner and the table-driven tests all read this one table.
//
//   const OpDef& def = op_def(OpKind::matmul);
//   for (int k = 0; k < kNumOps; ++k) visit(op_def(OpKind(k)));
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/attrs.h"
#include "core/tensor.h"

namespace duet {

enum class OpKind : uint16_t {
#define DUET_OP(name, arity, flags, shape_fn) name,
#define DUET_VIEW_OP(name, arity, shape_fn) name,
#include "core/ops.def"
#undef DUET_OP
#undef DUET_VIEW_OP
};

inline constexpr int kNumOps = 0
#define DUET_OP(name, arity, flags, shape_fn) +1
#define DUET_VIEW_OP(name, arity, shape_fn) +1
#include "core/ops.def"
#undef DUET_OP
#undef DUET_VIEW_OP
    ;
// Guards the op count: update this (and the table-driven test) when adding an op.
static_assert(kNumOps == 91, "ops.def changed: update kNumOps' guard and tests/test_ops_table.cpp");

enum OpFlags : uint32_t {
  kNone = 0,
  kElementwise = 1u << 0,  // output[i] depends only on inputs[i] after broadcasting: fusable
  kCanInplace = 1u << 1,   // the output may share the first input's buffer
  kReduction = 1u << 2,
  kMatmul = 1u << 3,
  kView = 1u << 4,         // output aliases the input's storage
  kFactory = 1u << 5,      // no tensor inputs
  kRandom = 1u << 6,       // reads a generator's state (seed/offset attrs)
  kChecksValues = 1u << 7, // the kernel raises on some input values (an index out of range,
                           // an integer to a negative power): a graph keeps it even when dead
};
inline constexpr int kVariadic = -1;

// Output metadata a shape function infers.
struct TensorMeta {
  Shape shape;
  DType dtype = DType::Float32;
  Device device;
};

using ShapeFn = TensorMeta (*)(OpKind op, std::span<const Tensor> inputs, const Attrs& attrs);
// A kernel writes `out` (allocated by the caller with the inferred meta; elementwise
// kernels also accept a strided `out` for in-place ops). Inputs are already validated.
using KernelFn = void (*)(std::span<const Tensor> inputs, const Tensor& out, const Attrs& attrs);
// A view op builds its output from its input's storage.
using ViewFn = Tensor (*)(std::span<const Tensor> inputs, const Attrs& attrs, const TensorMeta& meta);

struct OpDef {
  OpKind kind;
  const char* name;
  int arity;
  uint32_t flags;
  ShapeFn shape;
  ViewFn view;                       // non-null exactly for kView ops
  KernelFn kernels[kNumDeviceTypes]; // null where a device has no kernel (and for views)

  bool has(OpFlags f) const { return (flags & f) != 0; }
};

const OpDef& op_def(OpKind op);
inline const char* op_name(OpKind op) { return op_def(op).name; }
// Looks an op up by name ("matmul"); throws duet::Error if there is none.
OpKind op_by_name(std::string_view name);
// Installs a device's kernel for an op (the CUDA backend does this at start-up).
void register_kernel(OpKind op, DeviceType device, KernelFn fn);

}  // namespace duet
