// The autograd histories a compiled step puts at its edges, where eager mode would have a
// history the step cannot give: an input that is not a leaf (recorded before the call), a
// tensor outside the step that it wrote with gradient tracking, a tensor it returns. Each
// requires grad as in eager mode; a backward that reaches one stops with a
// graph::Unsupported error that says what to do, instead of giving no gradient silently.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/node.h"
#include "graph/unsupported.h"

namespace duet::graph {

class BoundaryHistory final : public duet::Node {
 public:
  BoundaryHistory(std::string name, std::string why) : name_(std::move(name)), why_(std::move(why)) {}
  std::vector<Tensor> apply(const Tensor&) override { DUET_REFUSE(why_); }
  std::string name() const override { return name_; }

 private:
  std::string name_, why_;
};

// An input's history recorded before the call.
inline std::shared_ptr<duet::Node> outside_history() {
  return std::make_shared<BoundaryHistory>(
      "OutsideHistory",
      "backward inside the compiled function reached the autograd history of an input (recorded before the call); "
      "a compiled step can only differentiate what it computes: pass the input detach()ed, or a leaf");
}

// What a step leaves on a tensor outside it that it wrote with gradient tracking.
inline std::shared_ptr<duet::Node> step_history_node() {
  return std::make_shared<BoundaryHistory>(
      "CompiledStepHistory",
      "backward reached the autograd history a compiled step gave a tensor that lives outside it (an in-place op "
      "with gradient tracking); gradients do not flow out of a compiled step: call backward() inside the compiled "
      "function");
}

// The history of a tensor a compiled step returns.
inline std::shared_ptr<duet::Node> output_history() {
  return std::make_shared<BoundaryHistory>(
      "CompiledStepOutput",
      "backward reached a tensor returned by a compiled function; gradients do not flow out of a compiled step: "
      "call backward() inside the compiled function (graph::compile compiles whole training steps), or use eager "
      "mode for this part");
}

}  // namespace duet::graph
