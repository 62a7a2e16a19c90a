// The backward engine. It discovers the graph reachable from the roots, counts each
// node's dependents, and runs nodes once all gradients for them have arrived (ready nodes
// in reverse creation order), summing gradients that meet at a node.
#include "autograd/engine.h"

#include <cmath>
#include <queue>
#include <unordered_map>

#include "autograd/autograd_meta.h"
#include "autograd/grad_mode.h"
#include "autograd/op_node.h"
#include "core/capture_hooks.h"
#include "core/functions.h"

namespace duet::autograd {
namespace {

struct Captures {
  std::unordered_map<Node*, std::vector<size_t>> slots;  // node -> indices of inputs it stands for
  std::vector<Tensor> values;
};

void check_finite(const Node& node, const std::vector<Tensor>& grads) {
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i].defined() || !grads[i].is_floating_point()) continue;
    for (double v : grads[i].to_vector<double>())
      DUET_CHECK(std::isfinite(v), "anomaly detected: ", node.name(), " produced ", (std::isnan(v) ? "NaN" : "Inf"),
                 " in the gradient of its input ", i, " (shape ", grads[i].sizes(), ")");
  }
}

Tensor run_pre_hooks(Node& node, Tensor grad) {
  for (auto& hook : node.pre_hooks) {
    Tensor replaced = hook(grad);
    if (replaced.defined()) grad = replaced;
  }
  return grad;
}

void accumulate(Tensor& slot, const Tensor& g) {
  if (!g.defined()) return;
  slot = slot.defined() ? add(slot, g) : g;
}

void execute(const std::vector<Tensor>& roots, const std::vector<Tensor>& grad_roots, bool retain_graph,
             Captures* captures) {
  DUET_CHECK(grad_roots.empty() || grad_roots.size() == roots.size(), "backward: got ", grad_roots.size(),
             " gradients for ", roots.size(), " outputs");
  NoGradGuard no_grad;  // derivative rules compute values; they are not themselves recorded
  std::unordered_map<Node*, Tensor> buffers;
  std::vector<std::shared_ptr<Node>> root_nodes;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    Edge e = r.defined() ? gradient_edge(r) : Edge{};
    DUET_CHECK(e.valid(), "backward: output ", i, " does not require grad and has no grad_fn (did you call it "
               "under a NoGradGuard, or on a tensor no parameter contributed to?)");
    Tensor g = grad_roots.empty() ? Tensor() : grad_roots[i];
    if (!g.defined()) {
      DUET_CHECK(r.numel() == 1, "backward: a gradient can be created implicitly only for a scalar output, but "
                 "output ", i, " has shape ", r.sizes(), "; pass the gradient of the output");
      g = ones_like(r);
    }
    DUET_CHECK(g.sizes() == r.sizes(), "backward: the gradient for output ", i, " has shape ", g.sizes(),
               " but the output has shape ", r.sizes());
    accumulate(buffers[e.fn.get()], g);
    root_nodes.push_back(e.fn);
  }

  // Count, for every reachable node, how many edges lead into it.
  std::unordered_map<Node*, int> dependents;
  std::vector<Node*> stack;
  for (auto& n : root_nodes)
    if (dependents.emplace(n.get(), 0).second) stack.push_back(n.get());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges) {
      if (!e.valid()) continue;
      if (dependents.emplace(e.fn.get(), 0).second) stack.push_back(e.fn.get());
      ++dependents[e.fn.get()];
    }
  }

  auto later_first = [](const Node* a, const Node* b) { return a->sequence_nr < b->sequence_nr; };
  std::priority_queue<Node*, std::vector<Node*>, decltype(later_first)> ready(later_first);
  for (auto& n : root_nodes)
    if (dependents[n.get()] == 0) {
      dependents[n.get()] = -1;  // queued
      ready.push(n.get());
    }

  bool anomaly = AnomalyMode::is_enabled();
  while (!ready.empty()) {
    Node* node = ready.top();
    ready.pop();
    Tensor grad = std::move(buffers[node]);
    buffers.erase(node);
    std::vector<Tensor> grads;
    if (grad.defined()) {
      note_backward_node(*node);
      grad = run_pre_hooks(*node, grad);
      auto* acc = dynamic_cast<AccumulateGrad*>(node);
      if (captures) {
        auto it = captures->slots.find(node);
        if (it != captures->slots.end()) {
          Tensor g = acc ? acc->run_leaf_hooks(grad) : grad;
          for (size_t slot : it->second) captures->values[slot] = g;
        }
      }
      if (acc) {
        if (!captures) node->apply(grad);
      } else {
        grads = node->apply(grad);
        if (anomaly) check_finite(*node, grads);
      }
    }
    if (!retain_graph) node->release_saved();
    for (size_t i = 0; i < node->next_edges.size(); ++i) {
      const Edge& e = node->next_edges[i];
      if (!e.valid()) continue;
      if (i < grads.size()) accumulate(buffers[e.fn.get()], grads[i]);
      if (--dependents[e.fn.get()] == 0) ready.push(e.fn.get());
    }
  }
}

}  // namespace

void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grad_roots, bool retain_graph) {
  execute(roots, grad_roots, retain_graph, nullptr);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph, bool allow_unused) {
  Captures captures;
  captures.values.resize(inputs.size());
  std::vector<std::shared_ptr<Node>> keep_alive;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (CaptureHooks* h = capture_hooks(); h && inputs[i].defined()) h->on_identity_use(inputs[i]);
    Edge e = inputs[i].defined() ? gradient_edge(inputs[i]) : Edge{};
    DUET_CHECK(e.valid(), "autograd::grad: input ", i, " does not require grad");
    captures.slots[e.fn.get()].push_back(i);
    keep_alive.push_back(e.fn);
  }
  execute(outputs, grad_outputs, retain_graph, &captures);
  for (size_t i = 0; i < inputs.size(); ++i)
    DUET_CHECK(allow_unused || captures.values[i].defined(), "autograd::grad: input ", i,
               " was not used to compute the outputs (pass allow_unused=true to get an undefined gradient)");
  return captures.values;
}

}  // namespace duet::autograd
