// Attrs: the non-tensor arguments of an op (dims, keepdim, a dtype, a scalar value, ...),
// as a small list of named values. Printable (for the graph IR), comparable and hashable
// (for common subexpression elimination).
//
//   Attrs a;  a.set("dims", std::vector<int64_t>{1}).set("keepdim", true);
//   bool k = a.get<bool>("keepdim");
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/error.h"

namespace duet {

using AttrValue = std::variant<bool, int64_t, double, std::vector<int64_t>, DType, Device, std::string>;

class Attrs {
 public:
  Attrs& set(std::string_view key, bool v) { return put(key, AttrValue(v)); }
  Attrs& set(std::string_view key, int v) { return put(key, AttrValue(int64_t(v))); }
  Attrs& set(std::string_view key, int64_t v) { return put(key, AttrValue(v)); }
  Attrs& set(std::string_view key, double v) { return put(key, AttrValue(v)); }
  Attrs& set(std::string_view key, std::vector<int64_t> v) { return put(key, AttrValue(std::move(v))); }
  Attrs& set(std::string_view key, DType v) { return put(key, AttrValue(v)); }
  Attrs& set(std::string_view key, Device v) { return put(key, AttrValue(v)); }
  Attrs& set(std::string_view key, std::string v) { return put(key, AttrValue(std::move(v))); }
  Attrs& set(std::string_view key, const char* v) { return put(key, AttrValue(std::string(v))); }

  bool has(std::string_view key) const { return find(key) != nullptr; }

  // The value stored under `key`; a missing key or wrong type is a bug in the caller.
  template <typename T>
  const T& get(std::string_view key) const {
    const AttrValue* v = find(key);
    DUET_ASSERT(v != nullptr, "attribute '", std::string(key), "' is missing");
    const T* p = std::get_if<T>(v);
    DUET_ASSERT(p != nullptr, "attribute '", std::string(key), "' has another type");
    return *p;
  }
  template <typename T>
  T get_or(std::string_view key, T fallback) const {
    return has(key) ? get<T>(key) : fallback;
  }
  // A number stored as either int64 or double, read as double.
  double get_number(std::string_view key) const;

  const std::vector<std::pair<std::string, AttrValue>>& items() const { return items_; }
  std::string str() const;  // "dims=[1], keepdim=true"
  size_t hash() const;
  friend bool operator==(const Attrs& a, const Attrs& b) { return a.items_ == b.items_; }

 private:
  Attrs& put(std::string_view key, AttrValue v);
  const AttrValue* find(std::string_view key) const;

  std::vector<std::pair<std::string, AttrValue>> items_;  // sorted by key
};

std::string attr_value_str(const AttrValue& v);

}  // namespace duet
