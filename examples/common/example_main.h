// The whole main() of a workload program (examples/fashion_mlp, examples/fashion_lenet):
// the common flags, the run with a progress line, the summary, and the --json record.
//
//   int main(int argc, char** argv) { return duet::workloads::example_main(argc, argv, "fashion_lenet", "fashion-lenet"); }
#pragma once

#include <string>

namespace duet::workloads {

// Trains the registered workload `workload` (workloads/registry.h) as program `program`;
// returns main's exit code (1 after printing an error).
int example_main(int argc, char** argv, const std::string& program, const std::string& workload);

}  // namespace duet::workloads
