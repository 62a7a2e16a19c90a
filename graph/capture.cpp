// Graph capture: the Capture dispatch layer and the session that builds the graph.
#include "graph/capture.h"

#include <mutex>

#include "autograd/autograd_meta.h"
#include "core/dispatch.h"
#include "core/functions.h"

namespace duet::graph {
namespace {

thread_local CaptureSession* t_session = nullptr;

class CaptureLayer final : public DispatchLayer {
 public:
  bool active(OpKind, std::span<const Tensor>) const override { return is_capturing() && t_session != nullptr; }
  Tensor call(OpKind op, std::span<const Tensor> inputs, const Attrs& attrs, const TensorMeta& meta, const Tensor* out,
              const DispatchNext&) override {
    return t_session->record(op, inputs, attrs, meta, out);
  }
};

void install_capture_layer() {
  static std::once_flag once;
  static CaptureLayer layer;
  std::call_once(once, [] { set_layer(DispatchKey::Capture, &layer); });
}

std::string state_name(const Tensor& t, size_t index) {
  return "s" + std::to_string(index) + ":" + dtype_name(t.dtype()) + shape_str(t.sizes());
}

}  // namespace

CaptureSession::CaptureSession() {
  install_capture_layer();
  DUET_CHECK(t_session == nullptr, "graph capture: a capture is already running on this thread (nested compile "
             "calls are not supported)");
  prev_session_ = t_session;
  t_session = this;
  prev_capturing_ = is_capturing();
  set_capturing(true);
}

CaptureSession::~CaptureSession() {
  if (!finished_) {
    t_session = prev_session_;
    set_capturing(prev_capturing_);
  }
}

CaptureSession* CaptureSession::current() { return t_session; }

bool CaptureSession::is_symbolic(const Tensor& t) const {
  const CaptureMeta* cm = t.unsafe_impl()->capture_.get();
  return cm != nullptr && cm->session == this;
}

Tensor CaptureSession::symbolic(ValueId v, const TensorMeta& meta, const Shape& strides) const {
  auto impl = std::make_shared<TensorImpl>(nullptr, meta.shape, strides, 0, meta.dtype, meta.device);
  impl->capture_ = std::make_shared<CaptureMeta>(CaptureMeta{v, this});
  return Tensor(std::move(impl));
}

Tensor CaptureSession::add_input(const TensorMeta& meta) {
  Node n;
  n.kind = NodeKind::Input;
  n.input_index = inputs_++;
  n.meta = meta;
  n.name = "input" + std::to_string(n.input_index);
  ValueId v = g_.add(std::move(n));
  return symbolic(v, meta, contiguous_strides(meta.shape));
}

ValueId CaptureSession::value_of(const Tensor& t) {
  if (is_symbolic(t)) return t.unsafe_impl()->capture_->value;
  DUET_CHECK(t.storage() != nullptr, "graph capture: a symbolic tensor from another capture was used; tensors made "
             "while compiling one function cannot be used by another");
  Layout key{t.storage().get(), t.storage_offset(), t.sizes(), t.strides(), t.dtype()};
  auto it = states_.find(key);
  if (it != states_.end()) return it->second.current;
  Node n;
  n.kind = NodeKind::State;
  n.meta = {t.sizes(), t.dtype(), t.device()};
  n.state = t.impl_ptr();
  n.name = state_name(t, states_.size());
  ValueId v = g_.add(std::move(n));
  AutogradMeta* am = autograd_meta(t);
  states_.emplace(key, StateEntry{v, v, t, am ? am->grad : Tensor()});
  state_order_.push_back(key);
  return v;
}

ValueId CaptureSession::add_op(OpKind op, std::vector<ValueId> inputs, Attrs attrs, TensorMeta meta) {
  Node n;
  n.kind = NodeKind::Op;
  n.op = op;
  n.inputs = std::move(inputs);
  n.attrs = std::move(attrs);
  n.meta = std::move(meta);
  return g_.add(std::move(n));
}

void CaptureSession::rebind(const Tensor& t, ValueId v) {
  if (is_symbolic(t)) {
    t.unsafe_impl()->capture_ = std::make_shared<CaptureMeta>(CaptureMeta{v, this});
    return;
  }
  value_of(t);  // registers it as state if it was not read before
  Layout key{t.storage().get(), t.storage_offset(), t.sizes(), t.strides(), t.dtype()};
  states_.at(key).current = v;
}

Tensor CaptureSession::record(OpKind op, std::span<const Tensor> inputs, const Attrs& attrs, const TensorMeta& meta,
                              const Tensor* out) {
  const OpDef& def = op_def(op);
  std::vector<ValueId> ins;
  for (const Tensor& t : inputs) ins.push_back(value_of(t));
  if (out) {
    DUET_CHECK(!out->unsafe_impl()->is_view_, "graph capture: ", def.name, "_ writes into a view, which compiled "
               "code does not support; use the out-of-place op inside the compiled function");
    ValueId v;
    if (op == OpKind::copy) {  // copy_: the value is the source, broadcast and converted
      v = ins[0];
      TensorMeta src = g_.node(v).meta;
      if (src.shape != meta.shape) {
        v = add_op(OpKind::expand, {v}, Attrs().set("shape", meta.shape), {meta.shape, src.dtype, src.device});
      }
      if (src.dtype != meta.dtype) v = add_op(OpKind::cast, {v}, Attrs().set("dtype", meta.dtype), meta);
      if (v == ins[0]) v = add_op(OpKind::copy, {v}, {}, meta);
    } else {
      v = add_op(op, ins, attrs, meta);
    }
    rebind(*out, v);
    return *out;
  }
  ValueId v = add_op(op, ins, attrs, meta);
  Shape strides = contiguous_strides(meta.shape);
  // Views keep the strides eager mode would give them, so code that asks is_contiguous()
  // takes the same path; a reshape that needs a copy is laid out contiguously.
  if (def.view && op != OpKind::reshape) {
    strides = def.view(inputs, attrs, meta).strides();
  } else if (op == OpKind::reshape) {
    if (auto s = view_strides(inputs[0].sizes(), inputs[0].strides(), meta.shape)) strides = *s;
  }
  return symbolic(v, meta, strides);
}

Graph CaptureSession::finish(const std::vector<Tensor>& outputs) {
  for (const Tensor& t : outputs) {
    DUET_CHECK(t.defined(), "graph capture: the compiled function returned an undefined tensor");
    g_.outputs.push_back(value_of(t));
  }
  // Gradients left in .grad by the captured backward become persistent buffers.
  for (const Layout& key : std::vector<Layout>(state_order_)) {
    StateEntry& e = states_.at(key);
    AutogradMeta* am = autograd_meta(e.tensor);
    if (am == nullptr || !am->grad.defined() || !is_symbolic(am->grad)) continue;
    const Tensor& g = am->grad;
    auto usable = [&](const Tensor& b) {
      return b.defined() && b.storage() && b.sizes() == g.sizes() && b.dtype() == g.dtype() && b.device() == g.device();
    };
    Tensor buffer = e.grad_before;
    if (!usable(buffer) && grad_buffers_) {
      auto it = grad_buffers_->find(e.tensor.unsafe_impl());
      if (it != grad_buffers_->end()) buffer = it->second;
    }
    if (!usable(buffer)) {
      CaptureSuspendGuard real;
      buffer = zeros(g.sizes(), {g.dtype(), g.device()});
    }
    if (grad_buffers_) (*grad_buffers_)[e.tensor.unsafe_impl()] = buffer;
    ValueId grad_value = value_of(g);
    value_of(buffer);
    Layout bkey{buffer.storage().get(), buffer.storage_offset(), buffer.sizes(), buffer.strides(), buffer.dtype()};
    states_.at(bkey).current = grad_value;
    am->grad = buffer;
  }
  for (const Layout& key : state_order_) {
    const StateEntry& e = states_.at(key);
    if (e.current != e.node) g_.writebacks.push_back({e.current, e.node});
  }
  finished_ = true;
  t_session = prev_session_;
  set_capturing(prev_capturing_);
  return std::move(g_);
}

}  // namespace duet::graph
