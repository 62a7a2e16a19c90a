// Attrs storage, printing and hashing.
#include "core/attrs.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <sstream>

namespace duet {

Attrs& Attrs::put(std::string_view key, AttrValue v) {
  auto it = std::lower_bound(items_.begin(), items_.end(), key,
                             [](const auto& item, std::string_view k) { return item.first < k; });
  if (it != items_.end() && it->first == key) {
    it->second = std::move(v);
  } else {
    items_.insert(it, {std::string(key), std::move(v)});
  }
  return *this;
}

const AttrValue* Attrs::find(std::string_view key) const {
  for (const auto& [k, v] : items_)
    if (k == key) return &v;
  return nullptr;
}

double Attrs::get_number(std::string_view key) const {
  const AttrValue* v = find(key);
  DUET_ASSERT(v != nullptr, "attribute '", std::string(key), "' is missing");
  if (auto* i = std::get_if<int64_t>(v)) return double(*i);
  if (auto* b = std::get_if<bool>(v)) return *b ? 1.0 : 0.0;
  return std::get<double>(*v);
}

std::string attr_value_str(const AttrValue& v) {
  std::ostringstream os;
  std::visit(
      [&](const auto& x) {
        using X = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<X, bool>) {
          os << (x ? "true" : "false");
        } else if constexpr (std::is_same_v<X, std::vector<int64_t>>) {
          os << detail::concat(x);
        } else if constexpr (std::is_same_v<X, double>) {
          os.precision(9);
          os << x;
        } else if constexpr (std::is_same_v<X, std::string>) {
          os << '"' << x << '"';
        } else {
          os << x;
        }
      },
      v);
  return os.str();
}

std::string Attrs::str() const {
  std::string s;
  for (const auto& [k, v] : items_) {
    if (!s.empty()) s += ", ";
    s += k + "=" + attr_value_str(v);
  }
  return s;
}

size_t Attrs::hash() const {
  size_t h = 0xcbf29ce484222325ull;
  auto mix = [&](size_t x) { h = (h ^ x) * 0x100000001b3ull; };
  for (const auto& [k, v] : items_) {
    mix(std::hash<std::string>{}(k));
    mix(v.index());
    std::visit(
        [&](const auto& x) {
          using X = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<X, std::vector<int64_t>>) {
            for (int64_t e : x) mix(std::hash<int64_t>{}(e));
          } else if constexpr (std::is_same_v<X, Device>) {
            mix(size_t(x.type) * 131 + size_t(x.index));
          } else if constexpr (std::is_same_v<X, DType>) {
            mix(size_t(x));
          } else if constexpr (std::is_same_v<X, double>) {
            uint64_t bits;
            std::memcpy(&bits, &x, 8);
            mix(bits);
          } else {
            mix(std::hash<X>{}(x));
          }
        },
        v);
  }
  return h;
}

}  // namespace duet
