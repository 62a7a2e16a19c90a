// Device parsing and printing.
#include "core/device.h"

#include <ostream>

#include "core/error.h"

namespace duet {

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    std::string idx = text.substr(5);
    bool digits = !idx.empty() && idx.size() < 6 && idx.find_first_not_of("0123456789") == std::string::npos;
    DUET_CHECK(digits, "Device: cannot parse '", text, "': expected a device index after 'cuda:'");
    return cuda(std::stoi(idx));
  }
  DUET_FAIL("Device: cannot parse '", text, "': expected 'cpu', 'cuda' or 'cuda:N'");
}

std::string Device::str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }

std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }

}  // namespace duet
