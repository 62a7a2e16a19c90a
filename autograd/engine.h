// The backward engine: runs the graph of Nodes from the roots towards the leaves.
//
//   loss.backward();                                   // accumulates into leaves' .grad()
//   auto g = autograd::grad({loss}, {w, b});           // returns gradients, .grad() untouched
#pragma once

#include <vector>

#include "core/tensor.h"

namespace duet::autograd {

// Accumulates d(roots)/d(leaf) * grad_roots into every reachable leaf's .grad().
void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grad_roots = {}, bool retain_graph = false);

// Gradients of `outputs` w.r.t. `inputs` (leaves or not), without touching any .grad().
// An input the outputs do not depend on is an error unless allow_unused (then undefined).
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool retain_graph = false,
                         bool allow_unused = false);

}  // namespace duet::autograd
