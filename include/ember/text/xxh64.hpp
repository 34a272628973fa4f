// XXH64 (xxHash, 64-bit): the token file's payload checksum since format
// version 2. The hashing is xxHash's reference implementation (Debian
// libxxhash-dev: xxhash.h, libxxhash); this header only wraps its streaming
// API (XXH64_reset / XXH64_update / XXH64_digest) in a value type with the
// state on the stack. Leaves out XXH3: it would change the checksum (format).
#pragma once

#include <cstddef>
#include <cstdint>

#ifndef XXH_STATIC_LINKING_ONLY
#define XXH_STATIC_LINKING_ONLY  // XXH64_state_t's layout: a stack state
#endif
#include <xxhash.h>

namespace ember {

/// Streaming XXH64: update() with the bytes in pieces of any size, digest()
/// at any time. Xxh64 h; h.update("abc", 3); h.digest() == 0x44bc2cf5ad770999
/// (xxhsum -H64 prints the same for "abc").
class Xxh64 {
 public:
  explicit Xxh64(uint64_t seed = 0) {
    XXH64_reset(&state_, seed);
  }
  void update(const void* data, size_t n) {
    XXH64_update(&state_, data, n);
  }
  uint64_t digest() const {
    return XXH64_digest(&state_);
  }

 private:
  XXH64_state_t state_;
};

/// XXH64 of `n` bytes in one call.
inline uint64_t xxh64(const void* data, size_t n, uint64_t seed = 0) {
  return XXH64(data, n, seed);
}

}  // namespace ember
