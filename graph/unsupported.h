// graph::Unsupported: the error graph mode raises for a program it will not compile,
// because capturing it would give something other than eager mode's results (a value
// read on the host while capturing, two inputs that share memory and are written, ...).
// Its message names the construct and says what to do instead. It is raised before the
// compiled step changes anything: the state the program touches is left as it was.
//
//   DUET_REFUSE("a tensor's values (item()) were read while capturing; ...");
#pragma once

#include "core/error.h"

namespace duet::graph {

class Unsupported : public Error {
 public:
  explicit Unsupported(const std::string& what) : Error(what) {}
};

}  // namespace duet::graph

#define DUET_REFUSE(...) throw ::duet::graph::Unsupported(::duet::detail::concat("graph mode: ", __VA_ARGS__))
