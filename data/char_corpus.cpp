// CharCorpus (data/char_corpus.h): bytes to ids through a 256-entry table; the split at
// floor(0.9 n); batches as gathers of contiguous windows at randint starts.
#include "data/char_corpus.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/functions.h"

namespace duet::data {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  DUET_CHECK(f.good(), "CharCorpus: cannot open ", path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

CharCorpus::CharCorpus(const std::string& text) {
  DUET_CHECK(text.size() >= 20, "CharCorpus: a corpus needs at least 20 bytes (a 90/10 split of blocks), got ",
             text.size());
  std::array<bool, 256> seen{};
  for (char c : text) seen[uint8_t(c)] = true;
  id_.fill(-1);
  for (int b = 0; b < 256; ++b)
    if (seen[size_t(b)]) id_[size_t(b)] = int16_t(vocab_.size()), vocab_.push_back(uint8_t(b));
  std::vector<int64_t> ids(text.size());
  for (size_t i = 0; i < text.size(); ++i) ids[i] = id_[uint8_t(text[i])];
  const int64_t n = int64_t(ids.size()), n_train = n * 9 / 10;
  train_ = tensor(std::vector<int64_t>(ids.begin(), ids.begin() + n_train));
  val_ = tensor(std::vector<int64_t>(ids.begin() + n_train, ids.end()));
}

CharCorpus CharCorpus::from_files(const std::vector<std::string>& paths, int64_t limit) {
  std::string text;
  for (const std::string& p : paths) text += read_file(p);
  if (limit >= 0 && size_t(limit) < text.size()) text.resize(size_t(limit));
  return CharCorpus(text);
}

std::vector<std::string> CharCorpus::fortune_files() {
  DUET_CHECK(std::filesystem::exists(kFortunesFileList), "CharCorpus: Debian's fortunes package is not installed (no ",
             kFortunesFileList, "); install it with `apt-get install fortunes` (scripts/bootstrap.sh does)");
  std::ifstream list(kFortunesFileList);
  const std::string dir = std::string(kFortunesDir) + "/";
  std::vector<std::string> files;
  for (std::string line; std::getline(list, line);) {
    if (line.rfind(dir, 0) != 0) continue;
    const std::string name = line.substr(dir.size());
    if (name.empty() || name.find('/') != std::string::npos || name.find('.') != std::string::npos) continue;
    if (std::filesystem::is_regular_file(line)) files.push_back(line);
  }
  std::sort(files.begin(), files.end());
  DUET_CHECK(!files.empty(), "CharCorpus: ", kFortunesFileList, " lists no fortune files under ", kFortunesDir);
  return files;
}

CharCorpus CharCorpus::fortunes() { return from_files(fortune_files()); }

Tensor CharCorpus::encode(const std::string& s) const {
  std::vector<int64_t> ids(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const int16_t id = id_[uint8_t(s[i])];
    DUET_CHECK(id >= 0, "CharCorpus::encode: byte ", int(uint8_t(s[i])), " at position ", i,
               " is not in the corpus's vocabulary of ", vocab_.size(), " bytes");
    ids[i] = id;
  }
  return tensor(ids);
}

std::string CharCorpus::decode(const Tensor& ids) const {
  DUET_CHECK(ids.dtype() == DType::Int64, "CharCorpus::decode: expected int64 ids, got ", dtype_name(ids.dtype()));
  std::string s;
  for (int64_t id : ids.to(Device::cpu()).contiguous().to_vector<int64_t>()) {
    DUET_CHECK(id >= 0 && id < vocab_size(), "CharCorpus::decode: id ", id, " is out of range for a vocabulary of ",
               vocab_size());
    s.push_back(char(vocab_[size_t(id)]));
  }
  return s;
}

std::pair<Tensor, Tensor> CharCorpus::batch(Split split, int64_t batch, int64_t block) const {
  const Tensor& t = tokens(split);
  DUET_CHECK(batch > 0 && block > 0 && t.numel() > block, "CharCorpus::batch: ", batch, " blocks of ", block,
             " tokens (+1 target) from a split of ", t.numel());
  const Tensor starts = randint(0, t.numel() - block, {batch, 1});
  const Tensor at = starts + arange(0, block + 1).reshape({1, block + 1});  // [batch, block + 1]
  const Tensor windows = index_select(t, 0, at.reshape({-1})).reshape({batch, block + 1});
  return {windows.narrow(1, 0, block).contiguous(), windows.narrow(1, 1, block).contiguous()};
}

}  // namespace duet::data
