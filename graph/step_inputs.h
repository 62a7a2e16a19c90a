// How a compiled step takes the caller's tensors (graph/compile.h).
//
// Note [Inputs share what they share]: the caller's inputs are grouped by storage, and a
// group is one Input node: the span of the storage its tensors cover, flat (or, for a
// lone contiguous tensor, the tensor itself). Inside the step each input is a view of its
// group's placeholder with its own layout at its own offset, so inputs that are views of
// each other stay aliased, as in eager mode: a write through one is seen through the
// others. The layouts and the sharing are part of the input signature. A group whose
// storage is also state the function reads directly (a parameter passed as an input) is
// *bound*: the caller's tensors are passed in as themselves, become state like any other
// real tensor, and the compiled step is specialised to that storage.
//
//   InputPlan plan = InputPlan::of(inputs);
//   std::string key = plan.signature;                 // the compile cache's key
//   std::vector<Tensor> spans = plan.spans(inputs);   // what a run passes for the groups
#pragma once

#include <set>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace duet::graph {

struct InputPlan {
  struct Group {
    std::vector<int> members;  // caller inputs, in order
    bool whole = false;        // one contiguous member: its Input node is the tensor itself
    bool bound = false;        // passed as the caller's tensors (state), no Input node
    int64_t span = 0;          // elements from the first member element to past the last
  };
  std::vector<Group> groups;
  std::vector<int> group_of;            // per caller input
  std::vector<int64_t> offset_in_span;  // per caller input: its first element's place in the span
  std::vector<int> same_as;             // per caller input: an earlier input that is the same tensor, or -1
  std::string signature;                // layouts, dtypes, devices, sharing, requires_grad

  // Groups of `inputs`; those whose storages are in `bound` are bound.
  static InputPlan of(const std::vector<Tensor>& inputs, const std::set<const Storage*>& bound = {});
  // The tensor a run passes for group g's Input node: the span over the caller's storage.
  Tensor span_of(const std::vector<Tensor>& inputs, size_t g) const;
  // The placeholder of input i over its group's placeholder `base` (with i's layout).
  Tensor member_of(const Tensor& base, const std::vector<Tensor>& inputs, size_t i) const;
};

// The flat span of storage a tensor covers (the tensor itself when it is contiguous).
Tensor input_window(const Tensor& t);

}  // namespace duet::graph
