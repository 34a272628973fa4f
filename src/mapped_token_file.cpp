#include <ember/mapped_token_file.hpp>

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <ember/error.hpp>

namespace ember {

MappedTokenFile::MappedTokenFile(const std::string& path, bool verify_checksum)
    : path_(path), header_(read_token_file_header(path)) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    throw Error(fmt::format("read {}: {}", path, std::strerror(errno)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw Error(fmt::format("stat {}: {}", path, std::strerror(errno)));
  }
  map_size_ = static_cast<size_t>(st.st_size);
  void* m = ::mmap(nullptr, map_size_, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) {
    throw Error(fmt::format("mmap {}: {}", path, std::strerror(errno)));
  }
  map_ = m;
  payload_ = static_cast<const unsigned char*>(map_) + kTokenFileHeaderSize;
  const uint64_t expected = static_cast<uint64_t>(
      map_size_ - kTokenFileHeaderSize);  // size already checked
  if (expected != header_.num_tokens * (header_.width_bits / 8)) {
    ::munmap(map_, map_size_);
    throw TokenizerError(fmt::format(
        "token file {}: size changed while opening", path));
  }
  if (verify_checksum) {
    const uint64_t sum = fnv1a64(payload_, static_cast<size_t>(expected));
    if (sum != header_.checksum) {
      ::munmap(map_, map_size_);
      throw TokenizerError(fmt::format(
          "token file {}: checksum mismatch (got {:016x}, expected {:016x}); "
          "hint: the file is corrupt",
          path,
          sum,
          header_.checksum));
    }
  }
  ::madvise(map_, map_size_, MADV_RANDOM);
}

MappedTokenFile::~MappedTokenFile() {
  if (map_ != nullptr) {
    ::munmap(map_, map_size_);
  }
}

TokenId MappedTokenFile::at(uint64_t i) const {
  // Little-endian ids, read byte by byte (no alignment or host-order needs).
  if (header_.width_bits == 16) {
    const unsigned char* p = payload_ + 2 * i;
    return static_cast<TokenId>(
        static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8));
  }
  const unsigned char* p = payload_ + 4 * i;
  return static_cast<TokenId>(
      static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
      (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24));
}

void MappedTokenFile::copy_to(uint64_t begin, uint64_t n, int64_t* out) const {
  if (begin > size() || n > size() - begin) {
    throw Error(fmt::format(
        "token file {}: range [{}, {}) past the end ({} tokens)",
        path_,
        begin,
        begin + n,
        size()));
  }
  for (uint64_t k = 0; k < n; ++k) {
    out[k] = static_cast<int64_t>(at(begin + k));
  }
}

}  // namespace ember
