// The registry of workloads (workloads.def lists them): looked up by name by the example
// programs and by bench/train_bench's --workload.
//
//   const WorkloadSpec& spec = find_workload("fashion-lenet");
#pragma once

#include <string>
#include <vector>

#include "examples/common/workload.h"

namespace duet::workloads {

// Every registered workload, in workloads.def's order.
const std::vector<WorkloadSpec>& all_workloads();
// Their names, e.g. for a command-line check.
std::vector<std::string> workload_names();
// The workload named `name`; a duet::Error naming the ones there are otherwise.
const WorkloadSpec& find_workload(const std::string& name);

}  // namespace duet::workloads
