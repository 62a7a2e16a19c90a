// NamedTensors: an ordered list of (name, tensor) pairs — the form of state dicts for
// modules and optimizers. Keeps insertion order, as PyTorch's OrderedDict does.
//
//   NamedTensors sd = model.state_dict();      // "0.weight", "0.bias", ...
//   const Tensor* w = sd.find("0.weight");
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace duet {

class NamedTensors {
 public:
  void insert(std::string name, Tensor t);  // replaces an existing entry of that name
  const Tensor* find(const std::string& name) const;
  bool contains(const std::string& name) const { return find(name) != nullptr; }
  const Tensor& at(const std::string& name) const;  // throws duet::Error naming the key
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  std::vector<std::string> keys() const;
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  std::vector<std::pair<std::string, Tensor>> items_;
};

}  // namespace duet
