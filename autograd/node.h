// The nodes of the backward graph (the "tape"). Each op output that needs a gradient holds
// its grad_fn: a Node with one edge per input pointing at the node that produced that
// input (or at the AccumulateGrad node of a leaf). Backward walks these edges.
//
// Every duet op has one output, so a Node takes one incoming gradient and returns one
// gradient per input (undefined where an input needs none).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace duet {

class Node;

struct Edge {
  std::shared_ptr<Node> fn;  // null: this input needs no gradient
  bool valid() const { return fn != nullptr; }
};

using GradHook = std::function<Tensor(const Tensor& grad)>;  // returns a replacement, or undefined to keep

class Node {
 public:
  Node();
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Gradients w.r.t. this node's inputs, given the gradient w.r.t. its output.
  virtual std::vector<Tensor> apply(const Tensor& grad_output) = 0;
  virtual std::string name() const = 0;
  // Frees saved tensors once backward no longer needs them (retain_graph=false).
  virtual void release_saved() {}

  std::vector<Edge> next_edges;
  std::vector<GradHook> pre_hooks;  // run on the incoming gradient before apply()
  uint64_t sequence_nr;             // creation order: later nodes run first when both are ready
};

// The sequence number the next Node will get (graph capture tells its own nodes apart).
uint64_t next_node_sequence();

// A tensor saved for backward. It remembers the storage version at save time so that an
// in-place change made since is caught instead of silently giving a wrong gradient.
class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor(const Tensor& t, const char* op_name);
  bool defined() const { return tensor_.defined() || was_saved_; }
  Tensor unpack() const;  // throws if modified in place since, or if released
  void release() { tensor_ = Tensor(); }

 private:
  Tensor tensor_;  // an alias without autograd data, so no reference cycles form
  uint64_t version_ = 0;
  const char* op_name_ = "";
  bool was_saved_ = false;
};

// The sink at a leaf: adds incoming gradients into the leaf's .grad().
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf) : leaf_(std::move(leaf)) {}
  std::vector<Tensor> apply(const Tensor& grad_output) override;
  std::string name() const override { return "AccumulateGrad"; }
  // The hooks registered on the leaf, applied to an incoming gradient.
  Tensor run_leaf_hooks(Tensor grad) const;

 private:
  // Weak: a leaf's .grad may hold a history that leads back here (p.grad().add_(y) with y
  // requiring grad), which a strong reference would make a cycle. A leaf that is gone
  // has no .grad to accumulate into.
  std::weak_ptr<TensorImpl> leaf_;
};

}  // namespace duet
