// A character-level text corpus for language models (the char-gpt workload): text as
// bytes, a vocabulary of the distinct bytes in sorted order, token ids int64, the first
// 90% for training and the rest for validation, and random contiguous blocks drawn with
// duet's RNG (so a seed gives the same batches in eager and graph mode, and in a peer that
// reads the same text).
//
//   using namespace duet::data;
//   CharCorpus text = CharCorpus::fortunes();            // Debian's fortunes package
//   auto [x, y] = text.batch(CharCorpus::Split::Train, 12, 64);   // int64 [12, 64] each,
//                                                        // y = x shifted by one position
//   std::string s = text.decode(x[0]);
//
// "Characters" are bytes: the fortune files are mostly ASCII with some Latin-1 and UTF-8
// bytes and backspace overstrikes, which a byte vocabulary takes as they are.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace duet::data {

// Where Debian's fortunes package puts its fortune files, and dpkg's list of the files
// the package installed (what `dpkg -L fortunes` prints).
inline constexpr const char* kFortunesDir = "/usr/share/games/fortunes";
inline constexpr const char* kFortunesFileList = "/var/lib/dpkg/info/fortunes.list";

class CharCorpus {
 public:
  enum class Split { Train, Validation };

  // The concatenation of `text`, split 90/10.
  explicit CharCorpus(const std::string& text);
  // The files' contents concatenated in the given order; with limit >= 0 only the first
  // `limit` bytes of that.
  static CharCorpus from_files(const std::vector<std::string>& paths, int64_t limit = -1);
  // The fortune files of Debian's fortunes package (every file it installed in
  // kFortunesDir without an extension), sorted by name; a duet::Error saying how to
  // install it when it is not.
  static CharCorpus fortunes();
  static std::vector<std::string> fortune_files();

  int64_t vocab_size() const { return int64_t(vocab_.size()); }
  const std::vector<uint8_t>& vocab() const { return vocab_; }  // sorted distinct bytes
  int64_t size(Split split) const { return tokens(split).numel(); }
  const Tensor& tokens(Split split) const { return split == Split::Train ? train_ : val_; }  // int64 [n]

  Tensor encode(const std::string& s) const;  // int64 [s.size()]; bytes not in the vocabulary are errors
  std::string decode(const Tensor& ids) const;  // any shape, row-major

  // `batch` blocks of `block` + 1 consecutive tokens at starts drawn uniformly with duet's
  // RNG: inputs x = the first `block`, targets y = the last `block` (int64 [batch, block]).
  std::pair<Tensor, Tensor> batch(Split split, int64_t batch, int64_t block) const;

 private:
  std::vector<uint8_t> vocab_;
  std::array<int16_t, 256> id_{};  // byte -> id, -1 when absent
  Tensor train_, val_;
};

}  // namespace duet::data
