// Graph capture: while a CaptureSession is active on a thread, apply() records nodes
// instead of computing (the Capture dispatch layer). Inputs become symbolic placeholders;
// real tensors the code touches (parameters, optimizer state, constants) become State
// nodes read in place; in-place writes to them are functionalised: later reads see the new
// value, and the final value is written back when the compiled step runs.
//
//   CaptureSession s;                               // recording starts
//   Tensor x = s.add_input({{128, 784}, DType::Float32, Device::cpu()});
//   Tensor loss = user_step(x);                     // ops are recorded, nothing computed
//   Graph g = s.finish({loss});                     // recording stops
//
// Note [Capture specialises]: control flow in user code runs once, at capture, on shapes
// and host values; the graph holds the path taken. Host numbers computed during capture
// (a learning rate, a step count) are constants of the graph unless the code keeps them in
// tensors (Adam does, when is_capturing()). Reading values (item(), to_vector()) of a
// captured tensor is an error, since they do not exist yet.
#pragma once

#include <map>
#include <memory>
#include <tuple>

#include "graph/ir.h"

namespace duet {

// What a symbolic tensor carries: the value it stands for in the session's graph.
struct CaptureMeta {
  graph::ValueId value;
  const void* session;
};

namespace graph {

class CaptureSession {
 public:
  CaptureSession();
  ~CaptureSession();
  CaptureSession(const CaptureSession&) = delete;
  CaptureSession& operator=(const CaptureSession&) = delete;

  static CaptureSession* current();

  // A placeholder for the index-th input of the step.
  Tensor add_input(const TensorMeta& meta);
  // Records an op (out == nullptr) or an in-place write into *out; what the Capture layer calls.
  Tensor record(OpKind op, std::span<const Tensor> inputs, const Attrs& attrs, const TensorMeta& meta,
                const Tensor* out);
  // Stops recording; returns the graph with `outputs` and the write-backs of changed state.
  // Gradients the code left in parameters' .grad become persistent buffers updated by
  // write-back, so .grad() reads real values after each run.
  Graph finish(const std::vector<Tensor>& outputs);

  // Gradient buffers by parameter, kept across the captures of one compiled function, so
  // that every signature writes the same .grad buffer instead of each adding its own.
  using GradBuffers = std::map<const TensorImpl*, Tensor>;
  void reuse_grad_buffers(GradBuffers* pool) { grad_buffers_ = pool; }

  // The value a tensor stands for: its symbolic value, or the (latest) value of a real
  // tensor, registered as State on first use.
  ValueId value_of(const Tensor& t);
  bool is_symbolic(const Tensor& t) const;

 private:
  // Real tensors are identified by their memory layout, so an alias (detach(), or a saved
  // tensor) of a state tensor is the same state.
  using Layout = std::tuple<const Storage*, int64_t, Shape, Shape, DType>;
  struct StateEntry {
    ValueId node;      // the State node (the value at the start of a run)
    ValueId current;   // the latest value, after functionalised writes
    Tensor tensor;
    Tensor grad_before;  // its .grad when first seen
  };

  Tensor symbolic(ValueId v, const TensorMeta& meta, const Shape& strides) const;
  void rebind(const Tensor& t, ValueId v);
  ValueId add_op(OpKind op, std::vector<ValueId> inputs, Attrs attrs, TensorMeta meta);

  Graph g_;
  int inputs_ = 0;
  std::map<Layout, StateEntry> states_;
  std::vector<Layout> state_order_;
  bool prev_capturing_ = false;
  CaptureSession* prev_session_ = nullptr;
  bool finished_ = false;
  GradBuffers* grad_buffers_ = nullptr;
};

}  // namespace graph
}  // namespace duet
