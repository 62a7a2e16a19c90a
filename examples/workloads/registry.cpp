// The registry: workloads.def's factories, called once.
#include "examples/workloads/registry.h"

#include "core/error.h"

namespace duet::workloads {

#define DUET_WORKLOAD(factory) WorkloadSpec factory();
#include "examples/workloads/workloads.def"
#undef DUET_WORKLOAD

const std::vector<WorkloadSpec>& all_workloads() {
#define DUET_WORKLOAD(factory) factory(),
  static const std::vector<WorkloadSpec> workloads{
#include "examples/workloads/workloads.def"
  };
#undef DUET_WORKLOAD
  return workloads;
}

std::vector<std::string> workload_names() {
  std::vector<std::string> names;
  for (const WorkloadSpec& w : all_workloads()) names.push_back(w.name);
  return names;
}

const WorkloadSpec& find_workload(const std::string& name) {
  for (const WorkloadSpec& w : all_workloads())
    if (w.name == name) return w;
  std::string known;
  for (const std::string& n : workload_names()) known += (known.empty() ? "" : ", ") + n;
  DUET_FAIL("unknown workload '", name, "'; available: ", known);
}

}  // namespace duet::workloads
