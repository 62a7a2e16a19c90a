// duet_fuzz: the differential fuzzer of graph mode against eager mode, as a program.
//
//   duet_fuzz --start 0 --count 100000       run programs 0..99999; print the totals, the
//                                            refusals by reason and the failing seeds
//   duet_fuzz --seed 1234                    run one program; print it and what differed
//   duet_fuzz ... --refused 1                also list the seeds of refused programs
//   duet_fuzz --seed 1234 --reduce 1         also shrink a failing program and print that
//
// Exits 1 when any program gave a silent mismatch or an error in one mode only.
// scripts/fuzz.sh runs long campaigns in parallel batches.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_diff.h"
#include "tests/fuzz/fuzz_reduce.h"

using namespace duet;

namespace {

// The refusal's reason: its message up to the first ';' or newline, numbers kept.
std::string reason(const std::string& msg) {
  size_t end = msg.find_first_of(";\n");
  std::string r = msg.substr(0, std::min<size_t>(end, 140));
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t start = 0, count = 1000;
  int64_t single = -1;
  int show = 20;
  bool list_refused = false, shrink = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i];
    uint64_t v = std::strtoull(argv[i + 1], nullptr, 10);
    if (f == "--start") start = v;
    else if (f == "--count") count = v;
    else if (f == "--seed") single = int64_t(v);
    else if (f == "--show") show = int(v);
    else if (f == "--refused") list_refused = v != 0;
    else if (f == "--reduce") shrink = v != 0;
    else {
      std::fprintf(stderr, "usage: duet_fuzz [--start S --count N --show K --refused 0|1] | [--seed S --reduce 0|1]\n");
      return 2;
    }
  }
  if (single >= 0) {
    fuzz::Program p = fuzz::generate(uint64_t(single));
    std::cout << fuzz::describe(p);
    fuzz::Result r = fuzz::run_differential(p);
    std::cout << "result: " << fuzz::outcome_name(r.outcome);
    if (r.call >= 0) std::cout << " at call " << r.call << ": " << r.detail;
    std::cout << "\n";
    if (shrink && r.outcome != fuzz::Outcome::Equal) {
      fuzz::Program small = fuzz::reduce(p, r);
      fuzz::Result rs = fuzz::run_differential(small);
      std::cout << "reduced:\n" << fuzz::describe(small) << "result: " << fuzz::outcome_name(rs.outcome);
      if (rs.call >= 0) std::cout << " at call " << rs.call << ": " << rs.detail;
      std::cout << "\n";
    }
    return r.outcome == fuzz::Outcome::Equal || r.outcome == fuzz::Outcome::Refused ? 0 : 1;
  }
  auto t0 = std::chrono::steady_clock::now();
  std::map<fuzz::Outcome, uint64_t> totals;
  std::map<std::string, uint64_t> refusals;
  std::map<fuzz::Outcome, std::vector<uint64_t>> failing;
  for (uint64_t s = start; s < start + count; ++s) {
    fuzz::Result r = fuzz::run_seed(s);
    totals[r.outcome]++;
    if (r.outcome == fuzz::Outcome::Refused) {
      refusals[reason(r.detail)]++;
      if (list_refused) std::printf("seed %llu: refused: %s\n", (unsigned long long)s, reason(r.detail).c_str());
    }
    if (r.outcome != fuzz::Outcome::Equal && r.outcome != fuzz::Outcome::Refused) {
      auto& f = failing[r.outcome];
      if (int(f.size()) < show) {
        f.push_back(s);
        std::printf("seed %llu: %s at call %d: %s\n", (unsigned long long)s, fuzz::outcome_name(r.outcome), r.call,
                    reason(r.detail).c_str());
      }
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("programs %llu..%llu (%llu) in %.1f s\n", (unsigned long long)start,
              (unsigned long long)(start + count - 1), (unsigned long long)count, secs);
  for (auto o : {fuzz::Outcome::Equal, fuzz::Outcome::Refused, fuzz::Outcome::Mismatch, fuzz::Outcome::GraphOnlyError,
                 fuzz::Outcome::EagerOnlyError, fuzz::Outcome::HarnessError})
    std::printf("  %-18s %llu\n", fuzz::outcome_name(o), (unsigned long long)totals[o]);
  for (const auto& [why, n] : refusals) std::printf("  refused %6llu  %s\n", (unsigned long long)n, why.c_str());
  bool bad = totals[fuzz::Outcome::Mismatch] + totals[fuzz::Outcome::GraphOnlyError] +
             totals[fuzz::Outcome::EagerOnlyError] + totals[fuzz::Outcome::HarnessError] > 0;
  return bad ? 1 : 0;
}
