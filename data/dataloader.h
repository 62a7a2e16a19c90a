// DataLoader: iterates a Dataset in batches, PyTorch-style.
//
//   DataLoader loader(TensorDataset(images, labels), {.batch_size = 64, .shuffle = true, .seed = 1});
//   for (int epoch = 0; epoch < 3; ++epoch)
//     for (auto& batch : loader) { train_step(batch.data, batch.target); }
//
// Each range-for (each begin()) is one epoch. With shuffle, epoch e visits the examples
// in a permutation drawn from a generator seeded by (seed, e) alone, so a run is
// reproducible and independent of what else draws random numbers. The last batch may be
// smaller than batch_size unless drop_last is set.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <type_traits>
#include <vector>

#include "data/dataset.h"

namespace duet::data {

struct DataLoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;
  bool drop_last = false;  // skip the final batch when it is smaller than batch_size
  uint64_t seed = 0;
};

class DataLoader {
 public:
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Example;
    using difference_type = std::ptrdiff_t;
    using pointer = Example*;
    using reference = Example&;

    Iterator() = default;
    Example& operator*() const;  // gathers the batch on first access
    Example* operator->() const { return &**this; }
    Iterator& operator++();
    void operator++(int) { ++*this; }
    bool operator==(const Iterator& other) const { return batch_ == other.batch_; }

   private:
    friend class DataLoader;
    Iterator(const DataLoader* loader, std::shared_ptr<const std::vector<int64_t>> order, int64_t batch)
        : loader_(loader), order_(std::move(order)), batch_(batch) {}

    const DataLoader* loader_ = nullptr;
    std::shared_ptr<const std::vector<int64_t>> order_;
    int64_t batch_ = 0;
    mutable Example current_;
    mutable bool loaded_ = false;
  };

  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options = {});
  // Takes a copy of (or moves) a concrete dataset; TensorDataset copies are cheap handles.
  template <typename D>
    requires std::derived_from<std::remove_cvref_t<D>, Dataset>
  explicit DataLoader(D&& dataset, DataLoaderOptions options = {})
      : DataLoader(std::make_shared<const std::remove_cvref_t<D>>(std::forward<D>(dataset)), options) {}

  // Starts the next epoch: epoch() counts how many have been started.
  Iterator begin();
  Iterator end() const { return Iterator(this, nullptr, size()); }

  int64_t size() const;  // batches per epoch
  int64_t epoch() const { return epoch_; }
  void set_epoch(int64_t epoch);  // the next begin() runs this epoch
  const DataLoaderOptions& options() const { return options_; }
  const Dataset& dataset() const { return *dataset_; }

  // The order epoch `epoch` visits the dataset in (identity without shuffle).
  std::vector<int64_t> order(int64_t epoch) const;
  // Batch `batch` of an epoch order from order().
  Example batch(const std::vector<int64_t>& order, int64_t batch) const;

 private:
  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions options_;
  int64_t epoch_ = 0;
};

}  // namespace duet::data
