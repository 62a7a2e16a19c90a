// Out-of-line pieces of core/error.h.
#include "core/error.h"

namespace duet::detail {

void throw_internal(const char* file, int line, const char* cond, const std::string& msg) {
  throw InternalError(concat("duet internal error at ", file, ":", line, ": ", cond,
                             msg.empty() ? "" : " — ", msg,
                             " (this is a bug in duet, not in your program)"));
}

}  // namespace duet::detail
