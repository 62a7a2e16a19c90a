// apply() and the dispatch stack; the kernel layer at its bottom.
#include "core/dispatch.h"

#include <atomic>
#include <new>
#include <vector>

#include "core/error.h"

namespace duet {
namespace {

DispatchLayer* g_layers[kNumDispatchKeys] = {};  // Kernel's slot stays empty: it is built in
thread_local bool t_capturing = false;

Tensor kernel_layer(OpKind op, std::span<const Tensor> inputs, const Attrs& attrs, const TensorMeta& meta,
                    const Tensor* out) {
  if (out) {
    run_kernel_into(op, inputs, attrs, *out);
    if (out->storage()) out->storage()->bump_version();
    return *out;
  }
  return run_kernel(op, inputs, attrs, meta);
}

Tensor dispatch_from(int level, OpKind op, std::span<const Tensor> inputs, const Attrs& attrs,
                     const TensorMeta& meta, const Tensor* out) {
  for (; level < int(DispatchKey::Kernel); ++level) {
    DispatchLayer* layer = g_layers[level];
    if (layer && (out ? layer->active_out(op, inputs, *out) : layer->active(op, inputs)))
      return layer->call(op, inputs, attrs, meta, out, DispatchNext(level + 1));
  }
  return kernel_layer(op, inputs, attrs, meta, out);
}

void check_arity(const OpDef& def, std::span<const Tensor> inputs) {
  if (def.arity == kVariadic) {
    DUET_CHECK(!inputs.empty(), def.name, ": expected at least one input tensor, got none");
  } else {
    DUET_CHECK(int(inputs.size()) == def.arity, def.name, ": expected ", def.arity, " input tensor(s), got ",
               inputs.size());
  }
  for (size_t i = 0; i < inputs.size(); ++i)
    DUET_CHECK(inputs[i].defined(), def.name, ": input ", i, " is an undefined tensor");
}

}  // namespace

Tensor DispatchNext::operator()(OpKind op, std::span<const Tensor> inputs, const Attrs& attrs,
                                const TensorMeta& meta, const Tensor* out) const {
  return dispatch_from(level_, op, inputs, attrs, meta, out);
}

void set_layer(DispatchKey key, DispatchLayer* layer) {
  DUET_ASSERT(key != DispatchKey::Kernel, "the kernel layer cannot be replaced");
  g_layers[int(key)] = layer;
}

TensorMeta infer_meta(OpKind op, std::span<const Tensor> inputs, const Attrs& attrs) {
  const OpDef& def = op_def(op);
  check_arity(def, inputs);
  TensorMeta meta = def.shape(op, inputs, attrs);
  // Note [Size limits] in core/shape.cpp; a view takes no memory of its own (an expanded
  // one may have far more elements than bytes exist).
  if (def.view) checked_numel(meta.shape, def.name);
  else checked_nbytes(meta.shape, meta.dtype, def.name);
  return meta;
}

Tensor apply(OpKind op, std::span<const Tensor> inputs, const Attrs& attrs) {
  TensorMeta meta = infer_meta(op, inputs, attrs);
  return dispatch_from(0, op, inputs, attrs, meta, nullptr);
}

// Note [In-place overlap]: apply_out writes into memory its inputs may read. An input that
// is exactly the destination (same storage, offset, sizes, strides and dtype, as x in
// x.add_(y)) is safe: each element is read before it is written, at the same position. Any
// other input whose memory range meets the destination's (a.slice(0, 1, 5).copy_(a.slice(0,
// 0, 4)), m.copy_(m.t())) would see a mix of old and new values in whatever order the loop
// runs, or make memcpy's ranges overlap. Such an input is cloned first, so the result is
// always as if every input were read in full before the destination is written. The test is
// cheap: a storage pointer compare, then two byte ranges. (Ranges are conservative: two
// interleaved views that share no element are cloned too.) A destination that has several
// elements at one address (a dim of size > 1 with stride 0: an expand()ed tensor) is
// refused, as in PyTorch: the result would depend on the order of the writes.
namespace {

bool has_internal_overlap(const Tensor& t) {
  if (t.numel() == 0) return false;  // no elements, none shared
  for (int64_t d = 0; d < t.dim(); ++d)
    if (t.size(d) > 1 && t.stride(d) == 0) return true;
  return false;
}

// [first, last] byte addresses of t's elements, relative to its storage (strides are >= 0).
std::pair<int64_t, int64_t> byte_range(const Tensor& t) {
  int64_t last = t.storage_offset();
  for (int64_t d = 0; d < t.dim(); ++d) last += (t.size(d) - 1) * t.stride(d);
  const int64_t esize = int64_t(t.element_size());
  return {t.storage_offset() * esize, (last + 1) * esize - 1};
}

bool needs_snapshot(const Tensor& in, const Tensor& out) {
  if (in.storage() != out.storage() || !out.storage() || in.numel() == 0 || out.numel() == 0) return false;
  if (in.storage_offset() == out.storage_offset() && in.sizes() == out.sizes() && in.strides() == out.strides() &&
      in.dtype() == out.dtype())
    return false;  // an exact alias
  auto [a0, a1] = byte_range(in);
  auto [b0, b1] = byte_range(out);
  return a0 <= b1 && b0 <= a1;
}

}  // namespace

void apply_out(OpKind op, std::span<const Tensor> inputs, const Attrs& attrs, const Tensor& out) {
  const OpDef& def = op_def(op);
  DUET_CHECK(def.has(kElementwise), def.name, ": has no in-place/out= form (only elementwise ops do)");
  TensorMeta meta = infer_meta(op, inputs, attrs);
  DUET_CHECK(out.defined(), def.name, ": the output tensor is undefined");
  if (op == OpKind::copy) {  // copy_: the source broadcasts to the destination
    DUET_CHECK(broadcast_shapes(meta.shape, out.sizes(), "copy_") == out.sizes(), "copy_: source of shape ",
               meta.shape, " cannot be broadcast to the destination's shape ", out.sizes());
    meta.shape = out.sizes();
    meta.dtype = out.dtype();
  }
  DUET_CHECK(meta.shape == out.sizes(), def.name, ": result of shape ", meta.shape,
             " cannot be written into a tensor of shape ", out.sizes());
  DUET_CHECK(meta.device == out.device(), def.name, ": result on ", meta.device,
             " cannot be written into a tensor on ", out.device());
  DUET_CHECK(meta.dtype == out.dtype(), def.name, ": result of dtype ",
             meta.dtype, " cannot be written into a tensor of dtype ", out.dtype(), " in place");
  // Note [In-place overlap]
  DUET_CHECK(!has_internal_overlap(out), def.name, ": unsupported operation: more than one element of the ",
             "written-to tensor (shape ", out.sizes(), ", strides ", out.strides(), ") refers to a single memory ",
             "location; clone() it first");
  std::vector<Tensor> snapshot;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!needs_snapshot(inputs[i], out)) continue;
    if (snapshot.empty()) snapshot.assign(inputs.begin(), inputs.end());
    snapshot[i] = inputs[i].clone();
  }
  if (!snapshot.empty()) inputs = snapshot;
  dispatch_from(0, op, inputs, attrs, meta, &out);
}

bool is_capturing() { return t_capturing; }
void set_capturing(bool on) { t_capturing = on; }

Tensor empty_like_meta(const TensorMeta& meta, const char* op) {
  const int64_t nbytes = checked_nbytes(meta.shape, meta.dtype, op);
  std::shared_ptr<Storage> storage;
  try {
    storage = std::make_shared<Storage>(size_t(nbytes), meta.device);
  } catch (const OutOfMemoryError& e) {
    throw OutOfMemoryError(detail::concat(op, ": cannot allocate ", nbytes, " bytes for a result of ",
                                          dtype_name(meta.dtype), shape_str(meta.shape), " (", e.what(), ")"));
  } catch (const std::bad_alloc&) {
    throw OutOfMemoryError(detail::concat(op, ": cannot allocate ", nbytes, " bytes for a result of ",
                                          dtype_name(meta.dtype), shape_str(meta.shape), " (out of host memory)"));
  }
  return Tensor(std::make_shared<TensorImpl>(std::move(storage), meta.shape, contiguous_strides(meta.shape), 0,
                                             meta.dtype, meta.device));
}

Tensor run_kernel(OpKind op, std::span<const Tensor> inputs, const Attrs& attrs, const TensorMeta& meta) {
  const OpDef& def = op_def(op);
  if (def.view) return def.view(inputs, attrs, meta);
  Tensor out = empty_like_meta(meta, def.name);
  run_kernel_into(op, inputs, attrs, out);
  return out;
}

void run_kernel_into(OpKind op, std::span<const Tensor> inputs, const Attrs& attrs, const Tensor& out) {
  const OpDef& def = op_def(op);
  DUET_ASSERT(def.view == nullptr, def.name, " is a view op and has no kernel");
  Device dev = out.device();
  KernelFn fn = def.kernels[int(dev.type)];
  DUET_CHECK(fn != nullptr, def.name, ": no kernel for device ", dev, " in this build of duet");
  if (out.numel() == 0) return;
  count_kernel_launches(1);
  try {
    fn(inputs, out, attrs);
  } catch (const std::bad_alloc&) {  // a kernel's scratch buffer
    throw OutOfMemoryError(detail::concat(def.name, ": out of host memory for the kernel's scratch buffers (result ",
                                          dtype_name(out.dtype()), shape_str(out.sizes()), ")"));
  }
}

namespace {
std::atomic<int64_t> g_kernel_launches{0};
}  // namespace

int64_t kernel_launches() { return g_kernel_launches.load(std::memory_order_relaxed); }
void count_kernel_launches(int64_t n) { g_kernel_launches.fetch_add(n, std::memory_order_relaxed); }

}  // namespace duet
