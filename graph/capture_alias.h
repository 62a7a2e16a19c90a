// The record graph capture keeps for each storage the captured code touches (Note
// [Functionalization] in capture.cpp); shared by the files that implement CaptureSession.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "graph/capture.h"

namespace duet::graph {

inline std::string describe_tensor(const Tensor& t) {
  return std::string(dtype_name(t.dtype())) + shape_str(t.sizes());
}

inline bool same_window(const Tensor& t, int64_t offset, const Shape& sizes, const Shape& strides) {
  return t.storage_offset() == offset && t.sizes() == sizes && t.strides() == strides;
}

struct CaptureSession::Alias {
  std::weak_ptr<Storage> storage;
  DType dtype = DType::Float32;
  Device device;
  int64_t base_offset = 0, base_numel = 0;
  Shape base_sizes, base_strides;
  ValueId initial = kNoValue;  // the State or Input node; kNoValue for values the step makes
  ValueId current = kNoValue;  // the base's value now
  bool constant = false;       // a real storage the captured code made (Note [Constants made inside])
  std::map<ViewKey, ValueId> views;
  TensorMeta base_meta() const { return {base_sizes, dtype, device}; }
  bool is_base(const Tensor& t) const { return same_window(t, base_offset, base_sizes, base_strides); }
  // Covers the base in row-major order: the base's value reshaped.
  bool reshapes_base(const Tensor& t) const {
    return t.storage_offset() == base_offset && t.numel() == base_numel && t.is_contiguous();
  }
};

}  // namespace duet::graph
