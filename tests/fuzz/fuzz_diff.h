// The differential test: a program (tests/fuzz/fuzz_program.h) runs eagerly and compiled
// (graph::compile), each against a fresh world, and after every call the two are
// compared bit for bit: the outputs, the inputs (a program may write into them), their
// gradients, every closure tensor, every parameter and its .grad, the optimizer's state
// dict and the default generator's position. NaNs compare equal to NaNs; -0 and +0 differ.
//
//   fuzz::Result r = fuzz::run_differential(fuzz::generate(seed));
//   if (r.outcome == fuzz::Outcome::Mismatch) std::cerr << r.detail;
#pragma once

#include <string>

#include "tests/fuzz/fuzz_program.h"

namespace duet::fuzz {

enum class Outcome {
  Equal,           // every call agreed (both may have raised at the same call)
  Refused,         // graph mode refused the program with a duet::graph::Unsupported error
  Mismatch,        // a value differed: a silent wrong result
  GraphOnlyError,  // graph mode raised something other than a refusal where eager did not
  EagerOnlyError,  // eager mode raised where graph mode did not
  HarnessError,    // making the program or its world raised (a bug to look at either way)
};
const char* outcome_name(Outcome o);

struct Result {
  Outcome outcome = Outcome::Equal;
  int call = -1;        // the call where the two first differed
  std::string detail;   // what differed, or the error message
};

Result run_differential(const Program& p);
// generate(seed), then run_differential; an error escaping either is a HarnessError.
Result run_seed(uint64_t seed);

}  // namespace duet::fuzz
