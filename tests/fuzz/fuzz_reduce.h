// Shrinking a failing fuzz program to the few instructions that still fail the same way,
// so a failure reads as a short listing rather than a page of random code.
//
//   fuzz::Program p = fuzz::generate(seed);
//   fuzz::Result r = fuzz::run_differential(p);
//   std::cout << fuzz::describe(fuzz::reduce(p, r));
#pragma once

#include <optional>

#include "tests/fuzz/fuzz_diff.h"

namespace duet::fuzz {

// The smallest program found by deleting calls, host actions, body instructions (those
// whose slot nothing later reads) and outputs, one at a time, while the differential
// outcome stays `failure.outcome`.
Program reduce(const Program& p, const Result& failure);

}  // namespace duet::fuzz
