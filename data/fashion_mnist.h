// Fashion-MNIST: 28x28 grey clothing images in 10 classes (60000 train, 10000 test),
// read from the IDX .gz files Debian's dataset-fashion-mnist package installs.
//
//   using namespace duet::data;
//   FashionMnist train(FashionMnist::Split::Train);                      // all 60000
//   FashionMnist test(FashionMnist::Split::Test, {.root = dir, .limit = 1000});
//   DataLoader loader(train, {.batch_size = 64, .shuffle = true});
//
// Images come out float32 [N, 784], normalised as (x / 255 - mean) / std with the
// training set's pixel mean and std by default; labels int64 [N] in 0..9.
#pragma once

#include <string>

#include "data/dataset.h"

namespace duet::data {

inline constexpr const char* kFashionMnistDefaultDir = "/usr/share/datasets/fashion-mnist";

struct FashionMnistOptions {
  std::string root = kFashionMnistDefaultDir;
  int64_t limit = -1;    // load only the first `limit` examples; -1 loads all
  double mean = 0.2860;  // of x / 255 over the training images
  double std = 0.3530;
};

class FashionMnist : public TensorDataset {
 public:
  enum class Split { Train, Test };
  static constexpr int64_t kNumClasses = 10;
  static constexpr int64_t kImageSize = 28;

  explicit FashionMnist(Split split, const FashionMnistOptions& options = {});

  const Tensor& images() const { return data(); }    // float32 [N, 784]
  const Tensor& labels() const { return targets(); }  // int64 [N]
  Split split() const { return split_; }

  // Paths of the two files a split reads from `root`.
  static std::string images_path(const std::string& root, Split split);
  static std::string labels_path(const std::string& root, Split split);
  // Whether both files of `split` exist under `root` (e.g. to skip when the data is absent).
  static bool available(const std::string& root = kFashionMnistDefaultDir, Split split = Split::Test);

 private:
  Split split_;
};

}  // namespace duet::data
