// apply(): the single path every op takes, and the dispatch layers it passes through.
//
//   Tensor y = apply(OpKind::add, {a, b});
//
//   1. the op's shape function validates the inputs and infers the output's meta;
//   2. the call goes down a fixed stack of layers, each of which may handle it or pass it on:
//        Autograd  — records a grad_fn when an input requires grad (autograd/)
//        Capture   — while a graph is being captured, records a node instead (graph/)
//        Profiler  — times the call when profiling is on
//        Kernel    — allocates the output and runs the kernel for the inputs' device (core/)
// Core defines the interface; the layers above core install themselves with set_layer().
#pragma once

#include <span>

#include "core/op_registry.h"

namespace duet {

enum class DispatchKey : uint8_t { Autograd, Capture, Profiler, Kernel };
inline constexpr int kNumDispatchKeys = 4;

class DispatchLayer;

// What a layer calls to pass the op to the layers below it.
class DispatchNext {
 public:
  DispatchNext(int level) : level_(level) {}
  Tensor operator()(OpKind op, std::span<const Tensor> inputs, const Attrs& attrs, const TensorMeta& meta,
                    const Tensor* out) const;

 private:
  int level_;
};

class DispatchLayer {
 public:
  virtual ~DispatchLayer() = default;
  // Whether this layer wants the call (cheap: checked on every op).
  virtual bool active(OpKind op, std::span<const Tensor> inputs) const = 0;
  // The same for an in-place call (apply_out) writing into `out`, which may matter even
  // when no input does (autograd: copy_ into a tensor that requires grad).
  virtual bool active_out(OpKind op, std::span<const Tensor> inputs, const Tensor& out) const {
    return active(op, inputs);
  }
  // `out` is null for ordinary calls and the destination for apply_out (in-place ops);
  // the result is then `*out`.
  virtual Tensor call(OpKind op, std::span<const Tensor> inputs, const Attrs& attrs, const TensorMeta& meta,
                      const Tensor* out, const DispatchNext& next) = 0;
};

// Installs (or, with nullptr, removes) the layer for a key above Kernel.
void set_layer(DispatchKey key, DispatchLayer* layer);

Tensor apply(OpKind op, std::span<const Tensor> inputs, const Attrs& attrs = {});
inline Tensor apply(OpKind op, std::initializer_list<Tensor> inputs, const Attrs& attrs = {}) {
  return apply(op, std::span<const Tensor>(inputs.begin(), inputs.size()), attrs);
}

// Writes op(inputs) into `out` (an existing, possibly strided tensor of the inferred
// shape and dtype) for kCanInplace/kElementwise ops: the basis of in-place ops (add_)
// and of copy_. Goes through the same layers as apply().
void apply_out(OpKind op, std::span<const Tensor> inputs, const Attrs& attrs, const Tensor& out);

// Kernel launches so far in this process: every kernel the Kernel layer ran, plus those a
// compiled graph step reports through count_kernel_launches (benchmarks read the difference).
int64_t kernel_launches();
void count_kernel_launches(int64_t n);

// The op's meta from its shape function: validates, computes nothing.
TensorMeta infer_meta(OpKind op, std::span<const Tensor> inputs, const Attrs& attrs);

// Runs the kernel layer alone (no autograd, no capture): for layers that have decided to
// compute, and for executors that already hold an output buffer.
Tensor run_kernel(OpKind op, std::span<const Tensor> inputs, const Attrs& attrs, const TensorMeta& meta);
void run_kernel_into(OpKind op, std::span<const Tensor> inputs, const Attrs& attrs, const Tensor& out);

// Whether ops on this thread are being recorded into a graph rather than computed (graph
// capture sets it). Code that would bake a changing host value into a captured graph
// (an optimizer's step count) asks this to use tensor math instead.
bool is_capturing();
void set_capturing(bool on);

// Makes real tensors inside a capture (state that must persist across runs).
class CaptureSuspendGuard {
 public:
  CaptureSuspendGuard() : prev_(is_capturing()) { set_capturing(false); }
  ~CaptureSuspendGuard() { set_capturing(prev_); }
  CaptureSuspendGuard(const CaptureSuspendGuard&) = delete;
  CaptureSuspendGuard& operator=(const CaptureSuspendGuard&) = delete;

 private:
  bool prev_;
};

// A fresh contiguous tensor of the given meta (uninitialised memory). Throws duet::Error
// when the meta's byte count does not fit in int64, and OutOfMemoryError naming `op`, the
// bytes and the shape when the allocator cannot provide them.
Tensor empty_like_meta(const TensorMeta& meta, const char* op = "empty");

}  // namespace duet
