// A whole file mapped read-only into memory (mmap), unmapped when the last
// owner lets go. For weight files read in place (a tensor can view the
// mapping and keep it alive through a shared_ptr) and token files
// (text/mapped_token_file.hpp: a corpus larger than memory).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace ember {

class MappedFile {
 public:
  /// Maps `path`; throws ember::Error naming the file and the system's
  /// reason when it cannot be opened or mapped. An empty file maps to no
  /// bytes.
  static std::shared_ptr<const MappedFile> open(const std::string& path);

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::string_view bytes() const {
    return {static_cast<const char*>(data_), size_};
  }
  const std::string& path() const {
    return path_;
  }
  /// Drops the whole pages inside bytes [offset, offset + n) from this
  /// process's resident set after a one-off scan (MADV_DONTNEED on a
  /// read-only mapping: the data stays in the page cache; a neighbour's
  /// page still in use is never dropped).
  void drop_pages(uint64_t offset, uint64_t n) const;
  /// Tells the kernel reads will come in no order (MADV_RANDOM: no
  /// read-ahead beyond the pages touched).
  void advise_random() const;

 private:
  MappedFile(std::string path, void* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace ember
