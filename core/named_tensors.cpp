// NamedTensors: insertion-ordered name -> tensor pairs.
#include "core/named_tensors.h"

namespace duet {

void NamedTensors::insert(std::string name, Tensor t) {
  for (auto& [k, v] : items_)
    if (k == name) {
      v = std::move(t);
      return;
    }
  items_.emplace_back(std::move(name), std::move(t));
}

const Tensor* NamedTensors::find(const std::string& name) const {
  for (const auto& [k, v] : items_)
    if (k == name) return &v;
  return nullptr;
}

const Tensor& NamedTensors::at(const std::string& name) const {
  const Tensor* t = find(name);
  DUET_CHECK(t != nullptr, "state dict: no entry named '", name, "'");
  return *t;
}

std::vector<std::string> NamedTensors::keys() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : items_) out.push_back(k);
  return out;
}

}  // namespace duet
