// The table-driven op test: visits EVERY op in core/ops.def and runs its row of the table
// below. An op without a row fails, so adding an op without tests fails CI.
//
// Each row is a case generator (tests/reference/op_cases_*.cpp) that builds random inputs
// (broadcast shapes, 0-dim, size-0 and size-1 dims, transposed/strided/expanded layouts,
// several dtypes) and the expected result from an independent reference written as plain
// loops in double (tests/reference/reference_ops.h). For every case this test checks
// shape, dtype and values; that view ops share their input's storage; large cases again
// with one thread; elementwise ops again writing into a strided `out` (apply_out); and
// that the bits of every op but the reductions do not depend on layouts: the op on
// contiguous copies of its inputs, and an elementwise op written into a transposed `out`,
// give the same bits. (A reduction's summation order follows the memory layout, so graph
// mode gives every value eager's layout: Note [Graph values keep eager's layouts] in
// graph/capture.cpp.)
// One line per op reports how many cases ran.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <sstream>
#include <string>

#include "core/dispatch.h"
#include "core/functions.h"
#include "core/op_registry.h"
#include "core/parallel.h"
#include "tests/reference/op_cases.h"
#include "tests/test_support.h"

using namespace duet;
using namespace duet::cases;
using duet::testing::ThreadCount;

namespace {

const auto& op_table() { return op_case_table(); }

std::string prefixed(const std::string& prefix, const std::string& err) { return err.empty() ? err : prefix + err; }

// Bitwise equality where any NaN equals any NaN (payloads may differ).
bool same_bits(const Tensor& a, const Tensor& b) {
  if (ref::bitwise_equal(a, b)) return true;
  if (!is_floating(a.dtype()) || a.sizes() != b.sizes()) return false;
  std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i]) && std::isnan(y[i])) continue;
    if (std::memcmp(&x[i], &y[i], sizeof(double)) != 0) return false;
  }
  return true;
}

// Runs one case; "" when it passes, else what went wrong.
std::string run_case(const OpDef& def, const Case& c) {
  if (c.property) return c.property();
  std::span<const Tensor> inputs(c.inputs);
  Tensor got = apply(def.kind, inputs, c.attrs);
  std::string err = ref::compare(got, c.want, c.tol);
  if (err.empty() && c.view && got.storage() != c.inputs[0].storage())
    err = "expected a view sharing the input's storage, got a copy";
  if (err.empty() && c.threads) {
    ThreadCount one(1);
    err = prefixed("with 1 thread: ", ref::compare(apply(def.kind, inputs, c.attrs), c.want, c.tol));
  }
  bool strided = false;
  std::vector<Tensor> dense;
  for (const Tensor& t : c.inputs) {
    strided = strided || !t.is_contiguous();
    dense.push_back(t.contiguous());
  }
  if (err.empty() && strided && !def.view && !def.has(kReduction) &&
      !same_bits(apply(def.kind, std::span<const Tensor>(dense), c.attrs), got))
    err = "on contiguous copies of its inputs it gives other bits";
  // Elementwise kernels must also write a strided `out` (the path in-place ops take).
  if (err.empty() && def.has(kElementwise) && c.want.dim() >= 2 && c.want.numel() > 0) {
    Shape base = c.want.shape;
    std::swap(base.front(), base.back());
    Tensor out = zeros(base, c.want.dtype).transpose(0, int64_t(base.size()) - 1);
    apply_out(def.kind, inputs, c.attrs, out);
    err = prefixed("into a transposed out: ", ref::compare(out, c.want, c.tol));
    if (err.empty() && !same_bits(out, got)) err = "into a transposed out it gives other bits";
  }
  return err;
}

}  // namespace

TEST_CASE("every op in core/ops.def matches its reference") {
  const auto& table = op_table();
  for (const auto& [name, gen] : table) {
    bool registered = true;
    try {
      op_by_name(name);
    } catch (const duet::Error&) {
      registered = false;
    }
    CHECK_MESSAGE(registered, "tests/test_ops_table.cpp has a row for '" << name << "', which is not an op");
  }

  int total_cases = 0, failed_ops = 0;
  for (int k = 0; k < kNumOps; ++k) {
    const OpDef& def = op_def(OpKind(k));
    CHECK(def.kind == OpKind(k));
    CHECK_MESSAGE((def.view != nullptr) == def.has(kView),
                  std::string(def.name) << ": view builder and kView flag disagree");
    CHECK_MESSAGE((def.view != nullptr || def.kernels[int(DeviceType::CPU)] != nullptr),
                  std::string(def.name) << ": has neither a view builder nor a CPU kernel");
    auto row = table.find(def.name);
    if (row == table.end()) {
      FAIL_CHECK("op '" << def.name << "' has no row in tests/test_ops_table.cpp: add one (see core/ops.def)");
      ++failed_ops;
      continue;
    }
    int cases = 0, failures = 0;
    std::string first_error;
    auto sink = [&](Case c) {
      ++cases;
      std::string err;
      try {
        err = run_case(def, c);
      } catch (const std::exception& e) {
        err = std::string("threw: ") + e.what();
      }
      if (!err.empty() && failures++ < 6)
        FAIL_CHECK(std::string(def.name) << " [" << c.desc << (c.attrs.items().empty() ? "" : ", attrs " + c.attrs.str())
                           << "]: " << err);
    };
    try {
      row->second(def.kind, sink);
    } catch (const std::exception& e) {
      ++failures;
      FAIL_CHECK(std::string(def.name) << ": building its cases threw: " << e.what());
    }
    CHECK_MESSAGE(cases > 0, std::string(def.name) << ": its row produced no cases");
    total_cases += cases;
    failed_ops += failures > 0;
    std::ostringstream line;
    line << def.name << ": " << cases << " cases" << (failures ? ", " + std::to_string(failures) + " FAILED" : "");
    MESSAGE(line.str());
  }
  MESSAGE(kNumOps << " ops, " << total_cases << " cases, " << failed_ops << " ops with failures");
}
