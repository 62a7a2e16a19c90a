// Graph optimisation passes: the common interface. Each pass rewrites a Graph in place and
// can be run (and tested) alone; graph/passes/pipeline.h runs them in order.
//
//   dead_code_elimination(g);             // drop what feeds no output / write-back
//   common_subexpression_elimination(g);  // merge identical ops and states
//   constant_folding(g);                  // evaluate constant subgraphs into State nodes
//   algebraic_simplification(g);          // x*1 -> x, neg(neg(x)) -> x, ...
//
// Passes that forward one value to another (CSE, simplification) rewire uses with
// replace_uses() and leave dead nodes behind; dead_code_elimination() removes them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "graph/ir.h"

namespace duet::graph {

struct PassStats {
  std::string name;
  size_t nodes_before = 0, nodes_after = 0;  // g.size()
  double ms = 0;
};

using PassFn = void (*)(Graph&);

// Keeps a node iff it (transitively) feeds an output or a write-back (value or target
// state). Input nodes are always kept so that input_index stays meaningful.
void dead_code_elimination(Graph& g);
// Merges Op nodes with the same op, attrs and inputs (never kRandom ops, never Fused
// nodes), and State nodes holding the same TensorImpl. Input nodes never merge. The later
// node's uses go to the earlier one and the later node is removed.
void common_subexpression_elimination(Graph& g);
// Evaluates, on the CPU, Op nodes whose inputs are all constants (or that have no inputs:
// full, arange, linspace, eye) and replaces each by a constant State node named
// "const%<id>". Never folds kRandom ops, results over kMaxFoldElements elements, or nodes
// that live on another device.
void constant_folding(Graph& g);
// Local rewrites that remove work (the rules are listed in simplify.cpp).
void algebraic_simplification(Graph& g);

// Folded results larger than this stay as ops (materialising them would cost memory).
inline constexpr int64_t kMaxFoldElements = int64_t(1) << 16;
// The name prefix that marks a State node as a compile-time constant made by folding.
inline constexpr std::string_view kConstPrefix = "const";

// Whether `n` is a State node made by constant_folding() (its values never change, unlike
// parameters and other persistent state).
bool is_constant_node(const Node& n);

}  // namespace duet::graph
