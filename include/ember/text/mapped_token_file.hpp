// A read-only memory mapping of a token file (docs/token_file.md): the
// payload is served straight from the page cache, never copied, so a corpus
// larger than memory can be read window by window. Plain C++17 + POSIX, no
// LibTorch. Leaves out the dataset integration (windows widened to int64 per
// batch), which builds on this.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <ember/text/token_file.hpp>
#include <ember/util/mapped_file.hpp>

namespace ember {

/// Opens and maps the token file at `path`. The header and the file size are
/// always checked (read_token_file_header); the payload checksum only when
/// `verify_checksum` is true, since it costs one pass over the whole file
/// (its pages are dropped from the resident set as it goes).
/// Throws Error if unreadable, TokenizerError if not a valid token file.
class MappedTokenFile {
 public:
  explicit MappedTokenFile(
      const std::string& path, bool verify_checksum = true);
  MappedTokenFile(const MappedTokenFile&) = delete;
  MappedTokenFile& operator=(const MappedTokenFile&) = delete;

  const TokenFileHeader& header() const {
    return header_;
  }
  uint64_t size() const {
    return header_.num_tokens;
  }
  /// The id at `i` (i < size(); unchecked).
  TokenId at(uint64_t i) const;
  /// Copies ids [begin, begin + n) into `out`, widened to int64.
  /// Throws Error when the range runs past the end.
  void copy_to(uint64_t begin, uint64_t n, int64_t* out) const;
  /// The largest id in [begin, begin + n) (0 when n == 0): one pass over
  /// the range, which leaves the resident set as it was. Throws Error when
  /// the range runs past the end.
  TokenId max_id(uint64_t begin, uint64_t n) const;
  const std::string& path() const {
    return file_->path();
  }

 private:
  TokenFileHeader header_;
  std::shared_ptr<const MappedFile> file_;
  const unsigned char* payload_ = nullptr;
};

}  // namespace ember
