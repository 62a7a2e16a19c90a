// The bounds of clamp(x, min, max) for any device: an absent bound is infinite, and an
// integer tensor clamps to the integers inside [min, max] (bounds 0.5 and 2.5 keep 1 and
// 2). Each device converts the result into its compute type with its own saturating
// conversion.
#pragma once

#include <cmath>
#include <limits>

#include "core/attrs.h"

namespace duet {

inline double clamp_bound_value(const Attrs& attrs, const char* key, bool upper, bool integral) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  double v = attrs.has(key) ? attrs.get_number(key) : (upper ? kInf : -kInf);
  if (integral && !std::isnan(v)) v = upper ? std::floor(v) : std::ceil(v);
  return v;
}

}  // namespace duet
