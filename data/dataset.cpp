// Datasets: the default per-example batch stacking and TensorDataset's row gather.
#include "data/dataset.h"

#include <cstring>

#include "core/error.h"
#include "core/functions.h"

namespace duet::data {
namespace {

void check_index(int64_t index, int64_t size, const char* op) {
  DUET_CHECK(index >= 0 && index < size, op, ": index ", index, " is out of range for a dataset of size ", size);
}

// Rows `indices` of contiguous `src` (dim 0 = examples) copied into a fresh [B, ...].
Tensor gather_rows(const Tensor& src, std::span<const int64_t> indices) {
  Shape shape = src.sizes();
  shape[0] = int64_t(indices.size());
  Tensor out = empty(shape, {src.dtype(), src.device()});
  size_t row_bytes = size_t(numel_of(Shape(src.sizes().begin() + 1, src.sizes().end()))) * src.element_size();
  if (row_bytes == 0) return out;
  const auto* from = static_cast<const char*>(src.data_ptr());
  auto* to = static_cast<char*>(out.data_ptr());
  for (size_t b = 0; b < indices.size(); ++b)
    std::memcpy(to + b * row_bytes, from + size_t(indices[b]) * row_bytes, row_bytes);
  return out;
}

// Examples' tensors (all one shape and dtype) stacked into a fresh [B, ...].
Tensor stack_examples(const std::vector<Tensor>& parts, const char* field) {
  const Tensor& first = parts.front();
  Shape shape = first.sizes();
  shape.insert(shape.begin(), int64_t(parts.size()));
  Tensor out = empty(shape, {first.dtype(), first.device()});
  size_t bytes = size_t(first.numel()) * first.element_size();
  auto* to = static_cast<char*>(out.data_ptr());
  for (size_t b = 0; b < parts.size(); ++b) {
    const Tensor& p = parts[b];
    DUET_CHECK(p.defined() && p.sizes() == first.sizes() && p.dtype() == first.dtype(), "Dataset::get_batch: example ",
               b, "'s ", field, " has ", p.defined() ? shape_str(p.sizes()) : std::string("no tensor"), " ",
               p.defined() ? dtype_name(p.dtype()) : "", " but example 0's has ", shape_str(first.sizes()), " ",
               dtype_name(first.dtype()), "; batched examples must match");
    if (bytes) std::memcpy(to + b * bytes, p.contiguous().data_ptr(), bytes);
  }
  return out;
}

}  // namespace

Example Dataset::get_batch(std::span<const int64_t> indices) const {
  DUET_CHECK(!indices.empty(), "Dataset::get_batch: no indices given");
  std::vector<Tensor> data, targets;
  data.reserve(indices.size());
  targets.reserve(indices.size());
  for (int64_t i : indices) {
    check_index(i, size(), "Dataset::get_batch");
    Example e = get(i);
    DUET_CHECK(e.data.defined(), "Dataset::get_batch: example ", i, " has no data tensor");
    DUET_CHECK(e.data.device().is_cpu(), "Dataset::get_batch: example ", i, " is on ", e.data.device(),
               "; datasets must return cpu tensors");
    data.push_back(std::move(e.data));
    targets.push_back(std::move(e.target));
  }
  Example batch;
  batch.data = stack_examples(data, "data");
  if (targets.front().defined()) batch.target = stack_examples(targets, "target");
  else
    for (size_t b = 1; b < targets.size(); ++b)
      DUET_CHECK(!targets[b].defined(), "Dataset::get_batch: example 0 has no target but example ", b, " has one");
  return batch;
}

TensorDataset::TensorDataset(Tensor data, Tensor targets) {
  DUET_CHECK(data.defined(), "TensorDataset: the data tensor is undefined");
  DUET_CHECK(data.dim() >= 1, "TensorDataset: data must have a dim 0 that indexes examples, got a 0-dim tensor");
  DUET_CHECK(data.device().is_cpu(), "TensorDataset: data is on ", data.device(), "; only cpu tensors are supported");
  if (targets.defined()) {
    DUET_CHECK(targets.dim() >= 1, "TensorDataset: targets must have a dim 0 that indexes examples, got a 0-dim tensor");
    DUET_CHECK(targets.device().is_cpu(), "TensorDataset: targets are on ", targets.device(),
               "; only cpu tensors are supported");
    DUET_CHECK(targets.size(0) == data.size(0), "TensorDataset: data ", data.sizes(), " and targets ", targets.sizes(),
               " differ in size along dim 0 (", data.size(0), " vs ", targets.size(0), ")");
    targets_ = targets.contiguous();
  }
  data_ = data.contiguous();
  size_ = data_.size(0);
}

Example TensorDataset::get(int64_t index) const {
  check_index(index, size_, "TensorDataset::get");
  Example e;
  e.data = data_.select(0, index);
  if (targets_.defined()) e.target = targets_.select(0, index);
  return e;
}

Example TensorDataset::get_batch(std::span<const int64_t> indices) const {
  for (int64_t i : indices) check_index(i, size_, "TensorDataset::get_batch");
  Example batch;
  batch.data = gather_rows(data_, indices);
  if (targets_.defined()) batch.target = gather_rows(targets_, indices);
  return batch;
}

}  // namespace duet::data
