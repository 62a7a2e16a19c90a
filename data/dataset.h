// Datasets, PyTorch-style: a Dataset maps an index to an Example (data, target), and
// knows how to gather a batch of indices into stacked [B, ...] tensors.
//
//   TensorDataset ds(images, labels);            // images [N, 784], labels [N]
//   Example e = ds.get(3);                       // e.data [784], e.target []
//   std::vector<int64_t> idx = {0, 5, 7};
//   Example b = ds.get_batch(idx);               // b.data [3, 784], b.target [3]
//
// DataLoader (data/dataloader.h) draws batches from any Dataset.
#pragma once

#include <cstdint>
#include <span>

#include "core/tensor.h"

namespace duet::data {

struct Example {
  Tensor data;
  Tensor target;  // undefined for datasets without targets
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual Example get(int64_t index) const = 0;
  // The examples at `indices` stacked along a new dim 0 into fresh contiguous tensors.
  // The default calls get() per index; every example must have the same shape and dtype.
  virtual Example get_batch(std::span<const int64_t> indices) const;
};

// A dataset over tensors whose dim 0 indexes examples. Batches are gathered by copying
// whole rows with memcpy, with no per-example tensors.
class TensorDataset : public Dataset {
 public:
  // targets may be undefined (examples then have no target). Non-contiguous inputs are
  // copied once here so batches are plain row copies.
  explicit TensorDataset(Tensor data, Tensor targets = Tensor());

  int64_t size() const override { return size_; }
  Example get(int64_t index) const override;  // views of row `index`
  Example get_batch(std::span<const int64_t> indices) const override;

  const Tensor& data() const { return data_; }
  const Tensor& targets() const { return targets_; }

 private:
  Tensor data_;
  Tensor targets_;
  int64_t size_ = 0;
};

}  // namespace duet::data
