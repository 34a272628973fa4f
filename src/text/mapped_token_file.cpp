#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <unistd.h>

#include <ember/text/mapped_token_file.hpp>
#include <ember/util/error.hpp>

namespace ember {

MappedTokenFile::MappedTokenFile(const std::string& path, bool verify_checksum)
    : header_(read_token_file_header(path)), file_(MappedFile::open(path)) {
  const auto bytes = file_->bytes();
  payload_ = reinterpret_cast<const unsigned char*>(bytes.data()) +
             kTokenFileHeaderSize;
  const uint64_t expected = header_.num_tokens * (header_.width_bits / 8);
  if (bytes.size() < kTokenFileHeaderSize ||
      bytes.size() - kTokenFileHeaderSize != expected) {
    throw TokenizerError(
        fmt::format("token file {}: size changed while opening", path));
  }
  if (verify_checksum) {
    // In blocks, each dropped from this process's resident set once read
    // (the page cache keeps it), so the pass leaves RSS where it was.
    PayloadChecksum sum(header_.version);
    constexpr uint64_t kBlock = uint64_t{16} << 20;
    for (uint64_t at = 0; at < expected; at += kBlock) {
      const uint64_t n = std::min(kBlock, expected - at);
      sum.update(payload_ + at, static_cast<size_t>(n));
      file_->drop_pages(kTokenFileHeaderSize + at, n);
    }
    check_payload_checksum(header_, sum.digest(), path);
  }
  file_->advise_random();
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
      (static_cast<uint32_t>(p[2]) << 16) |
      (static_cast<uint32_t>(p[3]) << 24));
}

namespace {

void check_range(
    const std::string& path, uint64_t begin, uint64_t n, uint64_t size) {
  if (begin > size || n > size - begin) {
    throw Error(fmt::format(
        "token file {}: range [{}, {}) past the end ({} tokens)",
        path,
        begin,
        begin + n,
        size));
  }
}

}  // namespace

TokenId MappedTokenFile::max_id(uint64_t begin, uint64_t n) const {
  check_range(path(), begin, n, size());
  // Blocks through copy_to: its widening loop is the fast one.
  constexpr uint64_t kBlock = 1 << 14;
  int64_t buf[kBlock];
  int64_t top = 0;
  const uint64_t width = header_.width_bits / 8;
  const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  // Dropped up to here: each drop starts where the last one's whole pages
  // ended, so a page split between two blocks is dropped too.
  uint64_t dropped = kTokenFileHeaderSize + begin * width;
  for (uint64_t done = 0; done < n; done += kBlock) {
    const uint64_t m = std::min(kBlock, n - done);
    copy_to(begin + done, m, buf);
    for (uint64_t k = 0; k < m; ++k) top = std::max(top, buf[k]);
    const uint64_t end = kTokenFileHeaderSize + (begin + done + m) * width;
    file_->drop_pages(dropped, end - dropped);
    dropped = std::max(dropped, end / page * page);
  }
  return static_cast<TokenId>(top);
}

void MappedTokenFile::copy_to(uint64_t begin, uint64_t n, int64_t* out) const {
  check_range(path(), begin, n, size());
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  // The stored order is the host's: a widening loop the compiler
  // vectorizes (memcpy per id: no alignment assumption).
  if (header_.width_bits == 16) {
    const unsigned char* p = payload_ + 2 * begin;
    for (uint64_t k = 0; k < n; ++k) {
      uint16_t v = 0;
      std::memcpy(&v, p + 2 * k, sizeof v);
      out[k] = static_cast<int64_t>(v);
    }
  } else {
    const unsigned char* p = payload_ + 4 * begin;
    for (uint64_t k = 0; k < n; ++k) {
      uint32_t v = 0;
      std::memcpy(&v, p + 4 * k, sizeof v);
      out[k] = static_cast<int64_t>(v);
    }
  }
#else
  for (uint64_t k = 0; k < n; ++k) {
    out[k] = static_cast<int64_t>(at(begin + k));
  }
#endif
}

}  // namespace ember
