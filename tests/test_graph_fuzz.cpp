// The differential fuzzer's short run: random programs (views, in-place writes through
// views and aliases, casts, reductions, matmul, backward, optimizer steps, mutated inputs
// and closure tensors) run eagerly and compiled must agree bit for bit after every call,
// or be refused at compile time with a graph::Unsupported error. DUET_FUZZ_PROGRAMS sets
// how many (default 3000); a failure prints its seed, and `duet_fuzz --seed S` replays it.
#include <doctest/doctest.h>

#include <cstdlib>
#include <map>

#include "tests/fuzz/fuzz_diff.h"

using namespace duet;

TEST_CASE("graph mode agrees with eager mode on random programs") {
  uint64_t n = 3000;
  if (const char* e = std::getenv("DUET_FUZZ_PROGRAMS")) n = std::strtoull(e, nullptr, 10);
  std::map<fuzz::Outcome, int> totals;
  for (uint64_t seed = 0; seed < n; ++seed) {
    fuzz::Result r = fuzz::run_seed(seed);
    totals[r.outcome]++;
    bool ok = r.outcome == fuzz::Outcome::Equal || r.outcome == fuzz::Outcome::Refused;
    CHECK_MESSAGE(ok, "seed ", seed, ": ", fuzz::outcome_name(r.outcome), " at call ", r.call, ": ", r.detail,
                  "\n(replay: duet_fuzz --seed ", seed, ")");
  }
  MESSAGE(n, " programs: ", totals[fuzz::Outcome::Equal], " equal, ", totals[fuzz::Outcome::Refused], " refused");
  CHECK(totals[fuzz::Outcome::Refused] * 20 <= int(n));  // a refusal is a missing feature: keep them rare
}
