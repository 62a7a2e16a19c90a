// The compiler builds what the source says: known code-generation bugs of the toolchain
// duet builds with are worked around in cmake/DuetCompileFlags.cmake, and each has a
// reproducer here that fails when the workaround is missing.
#include <doctest/doctest.h>

#include <cstddef>
#include <vector>

namespace {

// Reads memory back through a volatile, so the compiler cannot answer from its constants.
double read_back(const std::vector<double>& v, std::size_t i) {
  const volatile double* p = v.data();
  return p[i];
}

}  // namespace

TEST_CASE("a vector initializer stores what it says (Note [GCC 12 SLP miscompile])") {
  std::vector<double> w = {1, 1, 0, 0};
  CHECK(read_back(w, 0) == 1.0);
  CHECK(read_back(w, 1) == 1.0);
  CHECK(read_back(w, 2) == 0.0);
  CHECK(read_back(w, 3) == 0.0);
  std::vector<double> x = {2, 2, 3, 3};
  CHECK(read_back(x, 2) == 3.0);
  CHECK(read_back(x, 3) == 3.0);
}
