// Fashion-MNIST loading: the IDX pair of a split, normalised and flattened (see header).
#include "data/fashion_mnist.h"

#include <filesystem>

#include "core/error.h"
#include "data/idx.h"

namespace duet::data {
namespace {

const char* split_prefix(FashionMnist::Split split) { return split == FashionMnist::Split::Train ? "train" : "t10k"; }

TensorDataset load_split(FashionMnist::Split split, const FashionMnistOptions& o) {
  DUET_CHECK(o.limit >= -1, "FashionMnist: limit must be -1 (all) or >= 0, got ", o.limit);
  DUET_CHECK(o.std > 0, "FashionMnist: std must be positive, got ", o.std);
  std::string images_path = FashionMnist::images_path(o.root, split);
  std::string labels_path = FashionMnist::labels_path(o.root, split);
  // (b / 255 - mean) / std as one affine map of the byte b.
  double scale = 1.0 / (255.0 * o.std), offset = -o.mean / o.std;
  IdxPair pair = load_idx_pair(images_path, labels_path, scale, offset, o.limit);

  const int64_t k = FashionMnist::kImageSize;
  DUET_CHECK(pair.images.size(1) == k && pair.images.size(2) == k, "FashionMnist: '", images_path, "' holds images of ",
             pair.images.size(1), "x", pair.images.size(2), "; Fashion-MNIST images are ", k, "x", k);
  const int64_t* y = pair.labels.data<int64_t>();
  for (int64_t i = 0; i < pair.labels.numel(); ++i)
    DUET_CHECK(y[i] < FashionMnist::kNumClasses, "FashionMnist: '", labels_path, "' has label ", y[i], " at index ", i,
               "; expected 0 to ", FashionMnist::kNumClasses - 1);
  return TensorDataset(pair.images.reshape({pair.images.size(0), k * k}), pair.labels);
}

}  // namespace

std::string FashionMnist::images_path(const std::string& root, Split split) {
  return (std::filesystem::path(root) / (std::string(split_prefix(split)) + "-images-idx3-ubyte.gz")).string();
}

std::string FashionMnist::labels_path(const std::string& root, Split split) {
  return (std::filesystem::path(root) / (std::string(split_prefix(split)) + "-labels-idx1-ubyte.gz")).string();
}

bool FashionMnist::available(const std::string& root, Split split) {
  std::error_code ec;
  return std::filesystem::is_regular_file(images_path(root, split), ec) &&
         std::filesystem::is_regular_file(labels_path(root, split), ec);
}

FashionMnist::FashionMnist(Split split, const FashionMnistOptions& options)
    : TensorDataset(load_split(split, options)), split_(split) {}

}  // namespace duet::data
