// XXH64 (xxHash, 64-bit): the token file's payload checksum since format
// version 2. Several bytes a cycle where FNV-1a (version 1) takes a cycle or
// more a byte, so the one thread that writes a token file no longer limits
// a parallel tokenize. Written from the algorithm's public specification
// (github.com/Cyan4973/xxHash, doc/xxhash_spec.md); plain C++17.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ember {

/// Streaming XXH64: update() with the bytes in pieces of any size, digest()
/// at any time. Xxh64 h; h.update("abc", 3); h.digest() == 0x44bc2cf5ad770999
/// (xxhsum -H64 prints the same for "abc").
class Xxh64 {
 public:
  explicit Xxh64(uint64_t seed = 0);
  void update(const void* data, size_t n);
  uint64_t digest() const;

 private:
  uint64_t acc_[4];
  unsigned char buf_[32];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
  uint64_t seed_;
};

/// XXH64 of `n` bytes in one call.
uint64_t xxh64(const void* data, size_t n, uint64_t seed = 0);

}  // namespace ember
