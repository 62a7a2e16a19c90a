// Errors: the two tiers every duet file uses.
//
//   DUET_CHECK(cond, "matmul: shapes ", a, " and ", b, " cannot be multiplied");
//       A user mistake. Throws duet::Error with the pieces streamed together. Only shape
//       functions and public entry points use it: they are where input is validated.
//   DUET_ASSERT(cond, "why");
//       An internal invariant. Throws duet::InternalError naming file and line.
//
// Library code never calls exit() or abort(): every failure is an exception.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace duet {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

class InternalError : public Error {
 public:
  explicit InternalError(const std::string& what) : Error(what) {}
};

// An allocator could not provide the memory asked for (a duet::Error, so code that catches
// Error sees it too). Ops rethrow it with their name and the result's shape.
class OutOfMemoryError : public Error {
 public:
  explicit OutOfMemoryError(const std::string& what) : Error(what) {}
};

namespace detail {

// Vectors print as [a, b, c] so shapes read naturally in messages.
template <typename T>
void stream_one(std::ostringstream& os, const std::vector<T>& v) {
  os << '[';
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << ']';
}
template <typename T>
void stream_one(std::ostringstream& os, const T& v) {
  os << v;
}

template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (stream_one(os, args), ...);
  return os.str();
}

[[noreturn]] void throw_internal(const char* file, int line, const char* cond, const std::string& msg);

}  // namespace detail
}  // namespace duet

#define DUET_CHECK(cond, ...)                                          \
  do {                                                                 \
    if (!(cond)) [[unlikely]]                                          \
      throw ::duet::Error(::duet::detail::concat(__VA_ARGS__));        \
  } while (0)

#define DUET_FAIL(...) throw ::duet::Error(::duet::detail::concat(__VA_ARGS__))

#define DUET_ASSERT(cond, ...)                                                              \
  do {                                                                                      \
    if (!(cond)) [[unlikely]]                                                               \
      ::duet::detail::throw_internal(__FILE__, __LINE__, #cond,                             \
                                     ::duet::detail::concat("" __VA_OPT__(, ) __VA_ARGS__)); \
  } while (0)
