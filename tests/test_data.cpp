// The data layer: IDX reading (plain and gzip, and every way a file can be broken),
// Fashion-MNIST loading, TensorDataset gathering and DataLoader epochs/batches/shuffles.
#include <doctest/doctest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/test_support.h"
#include "core/functions.h"
#include "data/dataloader.h"
#include "core/generator.h"
#include "data/char_corpus.h"
#include "data/dataset.h"
#include "data/fashion_mnist.h"
#include "data/idx.h"

using namespace duet;
using namespace duet::data;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp dir, removed with everything in it.
struct TempDir {
  fs::path path;
  TempDir() {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path() / ("duet_test_data_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// An IDX header, written independently of the reader: 0, 0, type, ndims, then
// big-endian uint32 dims.
std::vector<uint8_t> idx_header(uint8_t type, const std::vector<uint32_t>& dims) {
  std::vector<uint8_t> h = {0, 0, type, uint8_t(dims.size())};
  for (uint32_t d : dims) {
    h.push_back(uint8_t(d >> 24));
    h.push_back(uint8_t(d >> 16));
    h.push_back(uint8_t(d >> 8));
    h.push_back(uint8_t(d));
  }
  return h;
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes, bool gzip) {
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    if (!bytes.empty()) REQUIRE(gzwrite(f, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
    REQUIRE(gzclose(f) == Z_OK);
  } else {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    REQUIRE(out.good());
  }
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// Writes a ubyte IDX file of `dims` whose payload is `data` (which may be shorter or
// longer than the dims claim, to build broken files).
void write_idx(const std::string& path, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data,
               bool gzip) {
  std::vector<uint8_t> all = idx_header(0x08, dims);
  all.insert(all.end(), data.begin(), data.end());
  write_bytes(path, all, gzip);
}

std::vector<uint8_t> pattern(size_t n, int mul = 37, int add = 11) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint8_t((i * size_t(mul) + size_t(add)) % 256);
  return v;
}


template <typename T>
std::vector<T> values(const Tensor& t) {
  Tensor c = t.contiguous();
  const T* p = c.data<T>();
  return std::vector<T>(p, p + c.numel());
}

}  // namespace

// ------------------------------------------------------------------------------------ IDX

TEST_CASE("idx: plain and gzip files read back exactly") {
  TempDir dir;
  const std::vector<uint32_t> dims = {3, 2, 5};
  const std::vector<uint8_t> data = pattern(30);
  for (bool gzip : {false, true}) {
    CAPTURE(gzip);
    std::string path = dir.file(gzip ? "img.gz" : "img");
    write_idx(path, dims, data, gzip);
    if (gzip) CHECK(read_bytes(path)[0] == 0x1f);  // really compressed

    IdxData raw = read_idx(path);
    CHECK(raw.magic == kIdxImagesMagic);
    CHECK(raw.dims == std::vector<int64_t>{3, 2, 5});
    CHECK(raw.file_items == 3);
    CHECK(raw.bytes == data);

    Tensor x = load_idx_images(path, 1.0 / 255, -0.5);
    CHECK(x.dtype() == DType::Float32);
    CHECK(x.sizes() == Shape{3, 2, 5});
    std::vector<float> xv = values<float>(x);
    for (size_t i = 0; i < data.size(); ++i) CHECK(xv[i] == doctest::Approx(data[i] / 255.0 - 0.5).epsilon(1e-6));

    // The first items only.
    IdxData head = read_idx(path, 2);
    CHECK(head.dims == std::vector<int64_t>{2, 2, 5});
    CHECK(head.file_items == 3);
    CHECK(head.bytes == std::vector<uint8_t>(data.begin(), data.begin() + 20));
    CHECK(load_idx_images(path, 1.0, 0.0, 0).sizes() == Shape{0, 2, 5});
    CHECK(load_idx_images(path, 1.0, 0.0, 100).sizes() == Shape{3, 2, 5});
  }
}

TEST_CASE("idx: labels load as int64 and pair with images") {
  TempDir dir;
  std::vector<uint8_t> labels = {9, 0, 3, 255};
  write_idx(dir.file("lab.gz"), {4}, labels, true);
  write_idx(dir.file("img"), {4, 1, 2}, pattern(8), false);
  Tensor y = load_idx_labels(dir.file("lab.gz"));
  CHECK(y.dtype() == DType::Int64);
  CHECK(y.sizes() == Shape{4});
  CHECK(values<int64_t>(y) == std::vector<int64_t>{9, 0, 3, 255});

  IdxPair pair = load_idx_pair(dir.file("img"), dir.file("lab.gz"), 2.0, 1.0, 3);
  CHECK(pair.images.sizes() == Shape{3, 1, 2});
  CHECK(pair.labels.sizes() == Shape{3});
  CHECK(values<float>(pair.images)[1] == float(pattern(8)[1]) * 2 + 1);
  CHECK(values<int64_t>(idx_to_int64(read_idx(dir.file("img"))))[5] == pattern(8)[5]);
}

TEST_CASE("idx: broken files give errors naming the file") {
  TempDir dir;
  const std::string missing = dir.file("nope-images-idx3-ubyte.gz");
  EXPECT_ERROR(read_idx(missing), missing, "no such file", "dataset-fashion-mnist", "--data DIR");
  EXPECT_ERROR(load_idx_images(missing), missing, "no such file");
  EXPECT_ERROR(read_idx(dir.path.string()), "is a directory");

  for (bool gzip : {false, true}) {
    CAPTURE(gzip);
    std::string sfx = gzip ? ".gz" : "";
    // Data shorter than the header claims.
    std::string trunc = dir.file("trunc" + sfx);
    write_idx(trunc, {3, 2, 4}, pattern(20), gzip);
    EXPECT_ERROR(read_idx(trunc), trunc, "truncated", "expected 24 bytes of data", "got 20");
    CHECK(read_idx(trunc, 2).bytes.size() == 16);  // the complete leading items still read

    // Header cut short.
    std::string short_head = dir.file("head" + sfx);
    write_bytes(short_head, {0, 0}, gzip);
    EXPECT_ERROR(read_idx(short_head), short_head, "truncated", "expected 4 bytes of header", "got 2");
    std::string short_dims = dir.file("dims" + sfx);
    write_bytes(short_dims, {0, 0, 8, 3, 0, 0, 0, 1}, gzip);
    EXPECT_ERROR(read_idx(short_dims), short_dims, "truncated", "expected 12 bytes of header", "got 4");
    std::string empty_file = dir.file("empty" + sfx);
    write_bytes(empty_file, {}, gzip);
    EXPECT_ERROR(read_idx(empty_file), empty_file, "truncated", "got 0");

    // Not an IDX file.
    std::string bad = dir.file("bad" + sfx);
    write_bytes(bad, {0x12, 0x34, 0x08, 0x01, 0, 0, 0, 1, 7}, gzip);
    EXPECT_ERROR(read_idx(bad), bad, "bad magic", "0x12340801");

    // Other element types, unknown types, impossible dims counts.
    std::string floats = dir.file("floats" + sfx);
    write_bytes(floats, idx_header(0x0D, {2}), gzip);
    EXPECT_ERROR(read_idx(floats), floats, "float32", "only ubyte");
    std::string unknown = dir.file("unknown" + sfx);
    write_bytes(unknown, idx_header(0x42, {2}), gzip);
    EXPECT_ERROR(read_idx(unknown), unknown, "corrupt header", "type");
    std::string nodims = dir.file("nodims" + sfx);
    write_bytes(nodims, {0, 0, 8, 0}, gzip);
    EXPECT_ERROR(read_idx(nodims), nodims, "corrupt header", "0 dims");
    // A header claiming ~2^64 elements: overflow, not a giant allocation.
    std::string huge = dir.file("huge" + sfx);
    write_bytes(huge, idx_header(0x08, {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}), gzip);
    EXPECT_ERROR(read_idx(huge), huge, "corrupt header", "overflow");
    // A header claiming far more data than the file holds fails as truncation.
    std::string big = dir.file("big" + sfx);
    write_idx(big, {1000000, 100, 100}, pattern(10), gzip);
    EXPECT_ERROR(read_idx(big), big, "truncated", "got 10");

    // Images and labels mixed up.
    std::string labels = dir.file("labels" + sfx);
    write_idx(labels, {3}, {1, 2, 3}, gzip);
    std::string images = dir.file("images" + sfx);
    write_idx(images, {2, 2, 2}, pattern(8), gzip);
    EXPECT_ERROR(load_idx_images(labels), labels, "0x00000801", "expected ubyte images", "0x00000803");
    EXPECT_ERROR(load_idx_labels(images), images, "0x00000803", "expected ubyte labels", "0x00000801");
    // Counts disagree (also when a limit hides the difference).
    EXPECT_ERROR(load_idx_pair(images, labels), images, labels, "2 images", "3 labels");
    EXPECT_ERROR(load_idx_pair(images, labels, 1.0, 0.0, 1), "2 images", "3 labels");
  }

  // A gzip stream cut in the middle, and one that is corrupt.
  std::string whole = dir.file("whole.gz");
  write_idx(whole, {64, 8, 8}, pattern(64 * 64, 7919, 3), true);
  std::vector<uint8_t> gz = read_bytes(whole);
  REQUIRE(gz.size() > 40);
  std::string cut = dir.file("cut.gz");
  write_bytes(cut, std::vector<uint8_t>(gz.begin(), gz.begin() + std::ptrdiff_t(gz.size() / 2)), false);
  EXPECT_ERROR(read_idx(cut), cut, "truncated", "the gzip stream ends early");
  std::string corrupt = dir.file("corrupt.gz");
  std::vector<uint8_t> bad = gz;
  for (size_t i = 20; i < bad.size() - 8; ++i) bad[i] ^= 0x5A;
  write_bytes(corrupt, bad, false);
  EXPECT_ERROR(read_idx(corrupt), corrupt);
  EXPECT_ERROR(read_idx(dir.file("x"), -2), "max_items");
}

// ----------------------------------------------------------------------- Fashion-MNIST

TEST_CASE("FashionMnist: synthetic files in a directory") {
  TempDir dir;
  const uint32_t n = 5;
  std::vector<uint8_t> px = pattern(n * 28 * 28);
  std::vector<uint8_t> lab = {0, 9, 4, 4, 1};
  write_idx(dir.file("t10k-images-idx3-ubyte.gz"), {n, 28, 28}, px, true);
  write_idx(dir.file("t10k-labels-idx1-ubyte.gz"), {n}, lab, true);
  CHECK(FashionMnist::available(dir.path.string(), FashionMnist::Split::Test));
  CHECK_FALSE(FashionMnist::available(dir.path.string(), FashionMnist::Split::Train));

  FashionMnist ds(FashionMnist::Split::Test, {.root = dir.path.string(), .limit = 4, .mean = 0.5, .std = 0.25});
  CHECK(ds.size() == 4);
  CHECK(ds.images().sizes() == Shape{4, 784});
  CHECK(ds.images().dtype() == DType::Float32);
  CHECK(ds.labels().dtype() == DType::Int64);
  CHECK(values<int64_t>(ds.labels()) == std::vector<int64_t>{0, 9, 4, 4});
  std::vector<float> xv = values<float>(ds.images());
  for (size_t i = 0; i < xv.size(); i += 97) CHECK(xv[i] == doctest::Approx((px[i] / 255.0 - 0.5) / 0.25).epsilon(1e-5));
  Example e = ds.get(1);
  CHECK(e.data.sizes() == Shape{784});
  CHECK(e.target.item<int64_t>() == 9);

  // Default normalisation.
  FashionMnist full(FashionMnist::Split::Test, {.root = dir.path.string()});
  CHECK(full.size() == 5);
  CHECK(values<float>(full.images())[3] == doctest::Approx((px[3] / 255.0 - 0.2860) / 0.3530).epsilon(1e-5));

  EXPECT_ERROR(FashionMnist(FashionMnist::Split::Train, {.root = dir.path.string()}),
               FashionMnist::labels_path(dir.path.string(), FashionMnist::Split::Train), "dataset-fashion-mnist",
               "--data DIR");
  EXPECT_ERROR(FashionMnist(FashionMnist::Split::Test, {.root = dir.path.string(), .std = 0}), "std");

  // Labels outside 0..9, and images of the wrong size.
  write_idx(dir.file("train-images-idx3-ubyte.gz"), {2, 14, 14}, pattern(2 * 196), true);
  write_idx(dir.file("train-labels-idx1-ubyte.gz"), {2}, {3, 12}, true);
  EXPECT_ERROR(FashionMnist(FashionMnist::Split::Train, {.root = dir.path.string()}), "14x14", "28x28");
  write_idx(dir.file("train-images-idx3-ubyte.gz"), {2, 28, 28}, pattern(2 * 784), true);
  EXPECT_ERROR(FashionMnist(FashionMnist::Split::Train, {.root = dir.path.string()}), "label 12", "index 1");
}

TEST_CASE("FashionMnist: the installed test split") {
  if (!FashionMnist::available(kFashionMnistDefaultDir, FashionMnist::Split::Test)) {
    MESSAGE("skipped: Fashion-MNIST is not installed at " << kFashionMnistDefaultDir
                                                          << " (install Debian's dataset-fashion-mnist package)");
    return;
  }
  FashionMnist head(FashionMnist::Split::Test, {.limit = 1000});
  CHECK(head.images().sizes() == Shape{1000, 784});
  CHECK(head.labels().sizes() == Shape{1000});
  std::vector<int64_t> y = values<int64_t>(head.labels());
  CHECK(*std::min_element(y.begin(), y.end()) == 0);
  CHECK(*std::max_element(y.begin(), y.end()) == 9);

  FashionMnist all(FashionMnist::Split::Test);
  CHECK(all.size() == 10000);
  const float* x = all.images().data<float>();
  double s = 0, s2 = 0;
  const int64_t n = all.images().numel();
  for (int64_t i = 0; i < n; ++i) {
    s += x[i];
    s2 += double(x[i]) * x[i];
  }
  double mean = s / double(n), var = s2 / double(n) - mean * mean;
  CHECK(std::abs(mean) < 0.02);                   // the train statistics fit the test split
  CHECK(std::sqrt(var) == doctest::Approx(1.0).epsilon(0.02));
  // The limited load is the head of the full one.
  CHECK(values<float>(head.images()) ==
        std::vector<float>(x, x + 1000 * 784));
}

// ------------------------------------------------------------------- datasets, loaders

namespace {

// data [n, 2, 3] with row i filled with i * 10 + k; targets [n] = i.
TensorDataset index_dataset(int64_t n) {
  std::vector<float> d(size_t(n * 6));
  for (size_t i = 0; i < d.size(); ++i) d[i] = float((i / 6) * 10 + i % 6);
  std::vector<int64_t> t(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) t[size_t(i)] = i;
  return TensorDataset(tensor<float>(d, {n, 2, 3}), tensor<int64_t>(t, {n}));
}

// A dataset without a fast batch path, so the default Dataset::get_batch stacks examples.
class SquaresDataset : public Dataset {
 public:
  int64_t size() const override { return 7; }
  Example get(int64_t i) const override {
    return {tensor<double>({double(i), double(i * i)}, {2}), scalar_tensor(double(i), DType::Int64)};
  }
};

// Every batch of one epoch: targets (the example indices) and the batch sizes.
struct Epoch {
  std::vector<int64_t> order;
  std::vector<int64_t> sizes;
};
Epoch run_epoch(DataLoader& loader) {
  Epoch e;
  for (auto& batch : loader) {
    REQUIRE(batch.data.size(0) == batch.target.size(0));
    std::vector<int64_t> t = values<int64_t>(batch.target);
    std::vector<float> d = values<float>(batch.data);
    for (size_t b = 0; b < t.size(); ++b)
      for (size_t k = 0; k < 6; ++k) REQUIRE(d[b * 6 + k] == float(t[b] * 10 + int64_t(k)));  // rows match targets
    e.order.insert(e.order.end(), t.begin(), t.end());
    e.sizes.push_back(int64_t(t.size()));
  }
  return e;
}

bool is_permutation_of_iota(std::vector<int64_t> v, int64_t n) {
  std::sort(v.begin(), v.end());
  for (int64_t i = 0; i < int64_t(v.size()); ++i)
    if (v[size_t(i)] != i) return false;
  return int64_t(v.size()) == n;
}

}  // namespace

TEST_CASE("TensorDataset: get and gathered batches") {
  TensorDataset ds = index_dataset(5);
  CHECK(ds.size() == 5);
  Example e = ds.get(3);
  CHECK(e.data.sizes() == Shape{2, 3});
  CHECK(values<float>(e.data) == std::vector<float>{30, 31, 32, 33, 34, 35});
  CHECK(e.target.item<int64_t>() == 3);

  std::vector<int64_t> idx = {4, 0, 4};
  Example b = ds.get_batch(idx);
  CHECK(b.data.sizes() == Shape{3, 2, 3});
  CHECK(b.data.is_contiguous());
  CHECK(values<float>(b.data)[6] == 0);
  CHECK(values<float>(b.data)[17] == 45);
  CHECK(values<int64_t>(b.target) == idx);
  // A fresh tensor, not a view of the dataset.
  CHECK(b.data.storage() != ds.data().storage());

  // Non-contiguous inputs; no targets.
  Tensor m = tensor<int32_t>({0, 1, 2, 3, 4, 5}, {2, 3}).transpose(0, 1);  // [3, 2]: rows (0,3) (1,4) (2,5)
  TensorDataset nt(m);
  std::vector<int64_t> two = {2, 1};
  Example nb = nt.get_batch(two);
  CHECK_FALSE(nb.target.defined());
  CHECK(values<int32_t>(nb.data) == std::vector<int32_t>{2, 5, 1, 4});

  EXPECT_ERROR(ds.get(5), "index 5", "size 5");
  EXPECT_ERROR(ds.get(-1), "index -1");
  std::vector<int64_t> oob = {0, 7};
  EXPECT_ERROR(ds.get_batch(oob), "index 7");
  EXPECT_ERROR(TensorDataset(zeros({3, 2}), zeros({4}, DType::Int64)), "[3, 2]", "[4]", "dim 0");
  EXPECT_ERROR(TensorDataset(scalar_tensor(1.0)), "0-dim");
  EXPECT_ERROR(TensorDataset(Tensor()), "undefined");
}

TEST_CASE("Dataset: the default get_batch stacks examples") {
  SquaresDataset ds;
  std::vector<int64_t> idx = {3, 1};
  Example b = ds.get_batch(idx);
  CHECK(b.data.sizes() == Shape{2, 2});
  CHECK(b.data.dtype() == DType::Float64);
  CHECK(values<double>(b.data) == std::vector<double>{3, 9, 1, 1});
  CHECK(b.target.sizes() == Shape{2});
  CHECK(values<int64_t>(b.target) == std::vector<int64_t>{3, 1});

  DataLoader loader(SquaresDataset(), {.batch_size = 3, .shuffle = true, .seed = 5});
  std::vector<int64_t> seen;
  for (auto& batch : loader) {
    std::vector<int64_t> t = values<int64_t>(batch.target);
    std::vector<double> d = values<double>(batch.data);
    for (size_t i = 0; i < t.size(); ++i) CHECK(d[2 * i + 1] == double(t[i] * t[i]));
    seen.insert(seen.end(), t.begin(), t.end());
  }
  CHECK(is_permutation_of_iota(seen, 7));
}

TEST_CASE("DataLoader: batches, epochs and shuffling") {
  TensorDataset ds = index_dataset(10);

  SUBCASE("no shuffle visits in order, last batch partial") {
    DataLoader loader(ds, {.batch_size = 3});
    CHECK(loader.size() == 4);
    Epoch e = run_epoch(loader);
    CHECK(e.sizes == std::vector<int64_t>{3, 3, 3, 1});
    CHECK(e.order == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    CHECK(run_epoch(loader).order == e.order);
    CHECK(loader.epoch() == 2);
  }
  SUBCASE("drop_last") {
    DataLoader loader(ds, {.batch_size = 3, .shuffle = true, .drop_last = true});
    CHECK(loader.size() == 3);
    Epoch e = run_epoch(loader);
    CHECK(e.sizes == std::vector<int64_t>{3, 3, 3});
    std::vector<int64_t> o = e.order;
    std::sort(o.begin(), o.end());
    CHECK(std::adjacent_find(o.begin(), o.end()) == o.end());  // no repeats
    DataLoader exact(ds, {.batch_size = 5, .drop_last = true});
    CHECK(run_epoch(exact).sizes == std::vector<int64_t>{5, 5});
  }
  SUBCASE("shuffle covers every index once per epoch; epochs differ; seeds reproduce") {
    DataLoader a(ds, {.batch_size = 4, .shuffle = true, .seed = 42});
    DataLoader b(ds, {.batch_size = 4, .shuffle = true, .seed = 42});
    DataLoader c(ds, {.batch_size = 4, .shuffle = true, .seed = 43});
    std::vector<std::vector<int64_t>> orders;
    for (int epoch = 0; epoch < 4; ++epoch) {
      Epoch ea = run_epoch(a), eb = run_epoch(b), ec = run_epoch(c);
      CHECK(ea.sizes == std::vector<int64_t>{4, 4, 2});
      CHECK(is_permutation_of_iota(ea.order, 10));
      CHECK(is_permutation_of_iota(ec.order, 10));
      CHECK(ea.order == eb.order);
      CHECK(ea.order != ec.order);
      CHECK(ea.order == a.order(epoch));
      orders.push_back(ea.order);
    }
    for (size_t i = 0; i < orders.size(); ++i)
      for (size_t j = i + 1; j < orders.size(); ++j) CHECK(orders[i] != orders[j]);
    // set_epoch replays an epoch.
    a.set_epoch(2);
    CHECK(run_epoch(a).order == orders[2]);
    CHECK(a.epoch() == 3);
  }
  SUBCASE("shuffles are uniform-ish: every index lands first now and then") {
    DataLoader loader(ds, {.batch_size = 10, .shuffle = true, .seed = 7});
    std::vector<int> first(10, 0);
    for (int epoch = 0; epoch < 400; ++epoch) first[size_t(loader.order(epoch)[0])]++;
    for (int count : first) CHECK(count > 15);  // expected 40 each
  }
  SUBCASE("batch larger than the dataset; batch size 1") {
    DataLoader big(ds, {.batch_size = 64});
    CHECK(big.size() == 1);
    CHECK(run_epoch(big).sizes == std::vector<int64_t>{10});
    DataLoader one(ds, {.batch_size = 1, .shuffle = true});
    Epoch e = run_epoch(one);
    CHECK(e.sizes == std::vector<int64_t>(10, 1));
    CHECK(is_permutation_of_iota(e.order, 10));
  }
  SUBCASE("iterator use outside range-for") {
    DataLoader loader(std::make_shared<TensorDataset>(ds), {.batch_size = 4});
    auto it = loader.begin();
    CHECK(it->data.sizes() == Shape{4, 2, 3});
    ++it;
    ++it;
    CHECK((*it).target.sizes() == Shape{2});
    ++it;
    CHECK(it == loader.end());
    EXPECT_ERROR(*it, "past the last batch");
  }
  SUBCASE("errors") {
    EXPECT_ERROR(DataLoader(ds, {.batch_size = 0}), "batch_size", "positive", "0");
    EXPECT_ERROR(DataLoader(ds, {.batch_size = -2}), "batch_size", "-2");
    TensorDataset empty_ds(zeros({0, 3}));
    EXPECT_ERROR(DataLoader(empty_ds, {.batch_size = 4}), "empty");
    EXPECT_ERROR(DataLoader(ds, {.batch_size = 11, .drop_last = true}), "drop_last", "no batches");
    EXPECT_ERROR(DataLoader(std::shared_ptr<const Dataset>(), {}), "null");
    DataLoader loader(ds, {.batch_size = 4});
    EXPECT_ERROR(loader.batch(loader.order(0), 3), "batch 3", "3 batches");
    EXPECT_ERROR(loader.set_epoch(-1), "epoch");
  }
}

TEST_CASE("CharCorpus: vocabulary, split, round trips and reproducible blocks") {
  const std::string text = "hello, world\nhow are you?\nfine, thanks.\nbye\n";
  const data::CharCorpus c(text);
  CHECK(c.vocab().size() == 22);
  CHECK(std::is_sorted(c.vocab().begin(), c.vocab().end()));
  CHECK(c.size(data::CharCorpus::Split::Train) == int64_t(text.size()) * 9 / 10);
  CHECK(c.size(data::CharCorpus::Split::Train) + c.size(data::CharCorpus::Split::Validation) == int64_t(text.size()));
  CHECK(c.decode(c.encode("how are")) == "how are");
  CHECK(c.encode("\n").item<int64_t>() == 0);  // the smallest byte has id 0
  EXPECT_ERROR(c.encode("xyz"), "byte 120", "not in the corpus's vocabulary of 22 bytes");
  manual_seed(3);
  auto [x, y] = c.batch(data::CharCorpus::Split::Train, 4, 6);
  CHECK(x.sizes() == Shape{4, 6});
  CHECK(x.dtype() == DType::Int64);
  // Each row is a window of the training text; y is x moved on by one.
  const std::string train = text.substr(0, size_t(c.size(data::CharCorpus::Split::Train)));
  for (int64_t r = 0; r < 4; ++r) {
    const std::string xs = c.decode(x.select(0, r)), ys = c.decode(y.select(0, r));
    CHECK(train.find(xs + ys.back()) != std::string::npos);
    CHECK(xs.substr(1) == ys.substr(0, 5));
  }
  manual_seed(3);
  auto [x2, y2] = c.batch(data::CharCorpus::Split::Train, 4, 6);
  CHECK(x2.to_vector<int64_t>() == x.to_vector<int64_t>());
  EXPECT_ERROR(c.batch(data::CharCorpus::Split::Validation, 2, 10), "CharCorpus::batch", "from a split of 5");
}

TEST_CASE("CharCorpus: Debian's fortunes") {
  if (!std::filesystem::exists(data::kFortunesFileList)) {
    MESSAGE("skipped: Debian's fortunes package is not installed (scripts/bootstrap.sh installs it)");
    return;
  }
  const auto files = data::CharCorpus::fortune_files();
  CHECK(files.size() >= 30);
  CHECK(std::is_sorted(files.begin(), files.end()));
  for (const std::string& f : files) CHECK(f.find('.', std::string(data::kFortunesDir).size()) == std::string::npos);
  const data::CharCorpus c = data::CharCorpus::fortunes();
  const int64_t n = c.size(data::CharCorpus::Split::Train) + c.size(data::CharCorpus::Split::Validation);
  MESSAGE("fortunes: ", files.size(), " files, ", n, " bytes, a vocabulary of ", c.vocab_size());
  CHECK(n > 1000000);
  CHECK(c.vocab_size() > 90);
  CHECK(c.vocab_size() <= 256);
}
