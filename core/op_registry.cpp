// The registry table, built from core/ops.def.
#include "core/op_registry.h"

#include <string>

#include "core/ops/shape_fns.h"
#include "kernels/cpu/kernels.h"

namespace duet {
namespace {

OpDef g_ops[kNumOps] = {
#define DUET_OP(name, arity, flags, shape_fn) \
  {OpKind::name, #name, arity, (flags), &shape_fn, nullptr, {&cpu::name##_kernel, nullptr}},
#define DUET_VIEW_OP(name, arity, shape_fn) \
  {OpKind::name, #name, arity, kView, &shape_fn, &name##_view, {nullptr, nullptr}},
#include "core/ops.def"
#undef DUET_OP
#undef DUET_VIEW_OP
};

}  // namespace

const OpDef& op_def(OpKind op) {
  DUET_ASSERT(int(op) < kNumOps, "op kind ", int(op), " out of range");
  return g_ops[int(op)];
}

OpKind op_by_name(std::string_view name) {
  for (const OpDef& d : g_ops)
    if (name == d.name) return d.kind;
  DUET_FAIL("no op named '", std::string(name), "' is registered");
}

void register_kernel(OpKind op, DeviceType device, KernelFn fn) { g_ops[int(op)].kernels[int(device)] = fn; }

}  // namespace duet
