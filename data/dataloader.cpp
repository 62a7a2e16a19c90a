// DataLoader: seeded per-epoch permutations and batch slicing over a Dataset.
#include "data/dataloader.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <span>

#include "core/error.h"

namespace duet::data {
namespace {

// splitmix64 finaliser: turns (seed, epoch) into well-spread generator seeds, so
// neighbouring seeds or epochs give unrelated permutations.
uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A uniform draw from [0, n). std::uniform_int_distribution differs between standard
// libraries; mt19937_64's raw output does not, so rejection sampling on it keeps
// shuffles identical on every platform.
uint64_t draw_below(std::mt19937_64& gen, uint64_t n) {
  uint64_t threshold = (0 - n) % n;  // 2^64 mod n: the biased low values to reject
  for (;;) {
    uint64_t r = gen();
    if (r >= threshold) return r % n;
  }
}

}  // namespace

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(options) {
  DUET_CHECK(dataset_ != nullptr, "DataLoader: the dataset is null");
  DUET_CHECK(options_.batch_size > 0, "DataLoader: batch_size must be positive, got ", options_.batch_size);
  int64_t n = dataset_->size();
  DUET_CHECK(n > 0, "DataLoader: the dataset is empty (size ", n, "); there is nothing to load");
  DUET_CHECK(!options_.drop_last || options_.batch_size <= n, "DataLoader: drop_last with batch_size ",
             options_.batch_size, " larger than the dataset (size ", n, ") would yield no batches");
}

int64_t DataLoader::size() const {
  int64_t n = dataset_->size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

void DataLoader::set_epoch(int64_t epoch) {
  DUET_CHECK(epoch >= 0, "DataLoader::set_epoch: epoch must be >= 0, got ", epoch);
  epoch_ = epoch;
}

std::vector<int64_t> DataLoader::order(int64_t epoch) const {
  std::vector<int64_t> idx(size_t(dataset_->size()));
  std::iota(idx.begin(), idx.end(), int64_t(0));
  if (!options_.shuffle) return idx;
  std::mt19937_64 gen(mix64(options_.seed ^ mix64(uint64_t(epoch))));
  for (size_t i = idx.size(); i > 1; --i) std::swap(idx[i - 1], idx[draw_below(gen, i)]);
  return idx;
}

Example DataLoader::batch(const std::vector<int64_t>& order, int64_t batch) const {
  int64_t count = size();
  DUET_CHECK(batch >= 0 && batch < count, "DataLoader::batch: batch ", batch, " is out of range (", count,
             " batches per epoch)");
  DUET_CHECK(int64_t(order.size()) == dataset_->size(), "DataLoader::batch: the order has ", order.size(),
             " indices but the dataset has ", dataset_->size(), " examples");
  int64_t lo = batch * options_.batch_size;
  int64_t hi = std::min(lo + options_.batch_size, int64_t(order.size()));
  return dataset_->get_batch(std::span<const int64_t>(order.data() + lo, size_t(hi - lo)));
}

DataLoader::Iterator DataLoader::begin() {
  auto ord = std::make_shared<const std::vector<int64_t>>(order(epoch_));
  ++epoch_;
  return Iterator(this, std::move(ord), 0);
}

Example& DataLoader::Iterator::operator*() const {
  DUET_CHECK(loader_ != nullptr && order_ != nullptr && batch_ < loader_->size(),
             "DataLoader: dereferenced an iterator that is past the last batch");
  if (!loaded_) {
    current_ = loader_->batch(*order_, batch_);
    loaded_ = true;
  }
  return current_;
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  ++batch_;
  current_ = Example();
  loaded_ = false;
  return *this;
}

}  // namespace duet::data
