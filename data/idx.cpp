// IDX reader: header parsing and bounded reads through zlib (see data/idx.h).
#include "data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <system_error>

#include "core/error.h"
#include "core/functions.h"
#include "core/parallel.h"

namespace duet::data {
namespace {

constexpr const char* kDataHint =
    "; for Fashion-MNIST, install Debian's dataset-fashion-mnist package (scripts/bootstrap.sh does) "
    "or pass --data DIR";
// IDX allows up to 255 dims; anything past duet's tensor rank is a corrupt header in practice.
constexpr uint32_t kMaxIdxDims = 8;
// gzread takes an unsigned count; reading in bounded chunks also lets a corrupt header
// that claims terabytes fail on the missing data instead of on a giant allocation.
constexpr int64_t kReadChunk = int64_t(1) << 24;

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzHandle = std::unique_ptr<gzFile_s, GzCloser>;

std::string gz_message(gzFile f) {
  int errnum = Z_OK;
  const char* msg = gzerror(f, &errnum);
  if (errnum == Z_ERRNO) return std::strerror(errno);
  return msg ? msg : "unknown zlib error";
}

GzHandle open_idx(const std::string& path) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  DUET_CHECK(std::filesystem::exists(status), "read_idx: cannot open '", path, "': no such file", kDataHint);
  DUET_CHECK(!std::filesystem::is_directory(status), "read_idx: '", path, "' is a directory, not an IDX file");
  errno = 0;
  gzFile f = gzopen(path.c_str(), "rb");
  DUET_CHECK(f != nullptr, "read_idx: cannot open '", path, "': ", errno ? std::strerror(errno) : "zlib gzopen failed");
  gzbuffer(f, 1 << 17);
  return GzHandle(f);
}

// Reads exactly n bytes or throws: a zlib error, or a short read reported as truncation
// of `what` (the header or the data) with the expected and actual byte counts.
void read_exact(gzFile f, uint8_t* dst, int64_t n, const std::string& path, const char* what) {
  int64_t got = 0;
  while (got < n) {
    unsigned want = unsigned(std::min(n - got, kReadChunk));
    int r = gzread(f, dst + got, want);
    if (r < 0) DUET_FAIL("read_idx: '", path, "': gzip error while reading the ", what, ": ", gz_message(f));
    if (r == 0) break;
    got += r;
  }
  if (got < n) {
    int errnum = Z_OK;
    gzerror(f, &errnum);
    DUET_FAIL("read_idx: '", path, "' is truncated: expected ", n, " bytes of ", what, ", got ", got,
              errnum == Z_BUF_ERROR ? " (the gzip stream ends early)" : "");
  }
}

uint32_t be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

const char* idx_type_name(uint32_t type) {
  switch (type) {
    case 0x08: return "ubyte";
    case 0x09: return "sbyte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return nullptr;
  }
}

std::string hex32(uint32_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) s += digits[(v >> shift) & 0xF];
  return s;
}

IdxData read_checked(const std::string& path, uint32_t expected_magic, const char* kind, int64_t max_items) {
  IdxData idx = read_idx(path, max_items);
  DUET_CHECK(idx.magic == expected_magic, "read_idx: '", path, "' has magic ", hex32(idx.magic), " (",
             idx.dims.size(), " dims); expected ", kind, " with magic ", hex32(expected_magic));
  return idx;
}

}  // namespace

IdxData read_idx(const std::string& path, int64_t max_items) {
  DUET_CHECK(max_items >= -1, "read_idx: max_items must be -1 (all) or >= 0, got ", max_items);
  GzHandle file = open_idx(path);
  gzFile f = file.get();

  std::array<uint8_t, 4> head{};
  read_exact(f, head.data(), 4, path, "header");
  IdxData idx;
  idx.magic = be32(head.data());
  DUET_CHECK(head[0] == 0 && head[1] == 0, "read_idx: '", path, "' is not an IDX file: bad magic ", hex32(idx.magic),
             " (an IDX file starts with two zero bytes, e.g. 0x00000803 for images)");
  uint32_t type = head[2], ndims = head[3];
  const char* type_name = idx_type_name(type);
  DUET_CHECK(type_name != nullptr, "read_idx: '", path, "' has a corrupt header: unknown element type byte ",
             hex32(type), " (magic ", hex32(idx.magic), ")");
  DUET_CHECK(type == kIdxUbyteType, "read_idx: '", path, "' holds ", type_name,
             " elements; only ubyte (type 0x08) IDX files are supported");
  DUET_CHECK(ndims >= 1 && ndims <= kMaxIdxDims, "read_idx: '", path, "' has a corrupt header: ", ndims,
             " dims (expected 1 to ", kMaxIdxDims, ")");

  std::vector<uint8_t> dim_bytes(4 * ndims);
  read_exact(f, dim_bytes.data(), int64_t(dim_bytes.size()), path, "header");
  idx.dims.resize(ndims);
  for (uint32_t d = 0; d < ndims; ++d) idx.dims[d] = be32(&dim_bytes[4 * d]);
  idx.file_items = idx.dims[0];
  if (max_items >= 0) idx.dims[0] = std::min(idx.dims[0], max_items);

  // Each dim is < 2^32, so the product can only overflow after a multiplication.
  int64_t total = 1;
  for (int64_t d : idx.dims) {
    DUET_CHECK(d == 0 || total <= std::numeric_limits<int64_t>::max() / d, "read_idx: '", path,
               "' has a corrupt header: dims ", idx.dims, " overflow the element count");
    total *= d;
  }

  // Grow the buffer as data arrives so a header claiming more than the file holds
  // fails as truncation, not as an out-of-memory.
  int64_t got = 0;
  while (got < total) {
    int64_t step = std::min(total - got, kReadChunk);
    idx.bytes.resize(size_t(got + step));
    int r = gzread(f, idx.bytes.data() + got, unsigned(step));
    if (r < 0) DUET_FAIL("read_idx: '", path, "': gzip error while reading the data: ", gz_message(f));
    got += r;
    if (r < step) break;
  }
  if (got < total) {
    int errnum = Z_OK;
    gzerror(f, &errnum);
    DUET_FAIL("read_idx: '", path, "' is truncated: expected ", total, " bytes of data for dims ", idx.dims, ", got ",
              got, errnum == Z_BUF_ERROR ? " (the gzip stream ends early)" : "");
  }
  return idx;
}

Tensor idx_to_float(const IdxData& idx, double scale, double offset) {
  DUET_CHECK(int64_t(idx.bytes.size()) == numel_of(idx.dims), "idx_to_float: ", idx.bytes.size(),
             " bytes do not match dims ", idx.dims);
  std::array<float, 256> lut{};
  for (int b = 0; b < 256; ++b) lut[size_t(b)] = float(double(b) * scale + offset);
  Tensor out = empty(idx.dims, DType::Float32);
  float* dst = out.data<float>();
  const uint8_t* src = idx.bytes.data();
  parallel_for(0, int64_t(idx.bytes.size()), int64_t(1) << 18, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) dst[i] = lut[src[i]];
  });
  return out;
}

Tensor idx_to_int64(const IdxData& idx) {
  DUET_CHECK(int64_t(idx.bytes.size()) == numel_of(idx.dims), "idx_to_int64: ", idx.bytes.size(),
             " bytes do not match dims ", idx.dims);
  Tensor out = empty(idx.dims, DType::Int64);
  int64_t* dst = out.data<int64_t>();
  for (size_t i = 0; i < idx.bytes.size(); ++i) dst[i] = idx.bytes[i];
  return out;
}

Tensor load_idx_images(const std::string& path, double scale, double offset, int64_t max_items) {
  return idx_to_float(read_checked(path, kIdxImagesMagic, "ubyte images [N, rows, cols]", max_items), scale, offset);
}

Tensor load_idx_labels(const std::string& path, int64_t max_items) {
  return idx_to_int64(read_checked(path, kIdxLabelsMagic, "ubyte labels [N]", max_items));
}

void check_idx_counts(const IdxData& images, const IdxData& labels, const std::string& images_path,
                      const std::string& labels_path) {
  DUET_CHECK(images.file_items == labels.file_items, "IDX element counts differ: '", images_path, "' has ",
             images.file_items, " images but '", labels_path, "' has ", labels.file_items, " labels");
}

IdxPair load_idx_pair(const std::string& images_path, const std::string& labels_path, double scale, double offset,
                      int64_t max_items) {
  // Labels first: they are small, so a missing or wrong labels file fails before the
  // images are decompressed.
  IdxData labels = read_checked(labels_path, kIdxLabelsMagic, "ubyte labels [N]", max_items);
  IdxData images = read_checked(images_path, kIdxImagesMagic, "ubyte images [N, rows, cols]", max_items);
  check_idx_counts(images, labels, images_path, labels_path);
  return {idx_to_float(images, scale, offset), idx_to_int64(labels)};
}

}  // namespace duet::data
