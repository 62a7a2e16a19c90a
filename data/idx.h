// IDX files: the format MNIST and Fashion-MNIST ship in, read plain or gzip-compressed.
//
// An IDX file is a big-endian header (two zero bytes, a type byte, a dims-count byte,
// then one uint32 per dim) followed by the elements in row-major order. Only the
// unsigned-byte type (0x08) is supported: images are magic 0x00000803 [N, rows, cols],
// labels 0x00000801 [N]. Files are read through zlib, which also reads uncompressed
// files, so "x.gz" and "x" both work.
//
//   auto raw = duet::data::read_idx("t10k-labels-idx1-ubyte.gz");    // dims + bytes
//   Tensor x = duet::data::load_idx_images(path, 1.0 / 255);        // float32 [N, 28, 28]
//   Tensor y = duet::data::load_idx_labels(path);                   // int64 [N]
//
// Every failure (missing file, corrupt header, truncated data, gzip error) is a
// duet::Error whose message names the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace duet::data {

inline constexpr uint32_t kIdxUbyteType = 0x08;
inline constexpr uint32_t kIdxImagesMagic = 0x00000803;  // ubyte, 3 dims
inline constexpr uint32_t kIdxLabelsMagic = 0x00000801;  // ubyte, 1 dim

// The raw contents of an IDX file: dims as stored (dims[0] cut to max_items when
// a limit was given) and the ubyte elements.
struct IdxData {
  uint32_t magic = 0;
  std::vector<int64_t> dims;
  int64_t file_items = 0;  // dim 0 as the header states it, before any max_items cut
  std::vector<uint8_t> bytes;
};

// Reads an IDX file. max_items >= 0 reads only the first max_items entries of dim 0
// (the rest of the file is not decompressed); -1 reads everything.
IdxData read_idx(const std::string& path, int64_t max_items = -1);

// Elements as float32 of the same shape, each byte b becoming b * scale + offset
// (computed in double, then rounded).
Tensor idx_to_float(const IdxData& idx, double scale = 1.0, double offset = 0.0);
// Elements as int64 of the same shape.
Tensor idx_to_int64(const IdxData& idx);

// An images file (magic 0x00000803) as float32 [N, rows, cols], b * scale + offset.
Tensor load_idx_images(const std::string& path, double scale = 1.0, double offset = 0.0, int64_t max_items = -1);
// A labels file (magic 0x00000801) as int64 [N].
Tensor load_idx_labels(const std::string& path, int64_t max_items = -1);

// Throws unless both files state the same number of entries along dim 0.
void check_idx_counts(const IdxData& images, const IdxData& labels, const std::string& images_path,
                      const std::string& labels_path);

struct IdxPair {
  Tensor images;  // float32 [N, rows, cols]
  Tensor labels;  // int64 [N]
};
// An images file and its labels file, checked to hold the same count.
IdxPair load_idx_pair(const std::string& images_path, const std::string& labels_path, double scale = 1.0,
                      double offset = 0.0, int64_t max_items = -1);

}  // namespace duet::data
