// The tokenizer's open-addressing hash tables: whole tokens of <= 8 bytes
// (ShortMap), token pairs -> merged token (PairMap, behind a Bloom filter),
// and the per-call cache of pieces that ran BPE (PieceCache). They stand in
// for tiktoken's src/lib.rs HashMaps (encoder, the byte_pair_merge ranks);
// sizes and measurements are in the notes of src/text/tokenizer.cpp.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include <ember/text/tokenizer.hpp>

namespace ember::detail {

/// "Not in the table": no token has this id.
inline constexpr uint32_t kNoRank = 0xFFFFFFFFu;

inline uint64_t mix64(uint64_t x) {
  x ^= x >> 31;
  x *= 0x9E3779B97F4A7C15ull;
  x ^= x >> 29;
  return x;
}

inline uint64_t hash_bytes(const uint8_t* s, size_t n) {
  // FNV-1a-like over 8-byte words; good enough for an open-addressing table
  // whose keys are compared in full.
  uint64_t h = 0xcbf29ce484222325ull ^ n;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, s + i, 8);
    h = (h ^ w) * 0x100000001b3ull;
    h ^= h >> 32;
  }
  uint64_t w = 0;
  for (size_t j = 0; i + j < n; ++j) w |= uint64_t{s[i + j]} << (8 * j);
  h = (h ^ w) * 0x100000001b3ull;
  return mix64(h);
}

inline size_t pow2_at_least(size_t n) {
  size_t c = 16;
  while (c < n) c <<= 1;
  return c;
}

inline int log2_of(size_t pow2) {
  int b = 0;
  while ((size_t{1} << b) < pow2) ++b;
  return b;
}

// Packs a piece of 1..8 bytes into a uint64 (little-endian, zero padded).
// `end` is the end of the buffer: a full 8-byte load is used when it fits.
inline uint64_t pack8(const uint8_t* s, size_t n, const uint8_t* end) {
  uint64_t v = 0;
  if (end - s >= 8) {
    std::memcpy(&v, s, 8);
    if (n < 8) v &= ~uint64_t{0} >> (64 - 8 * n);
  } else {
    for (size_t i = 0; i < n; ++i) v |= uint64_t{s[i]} << (8 * i);
  }
  return v;
}

// One-hash Bloom filter in front of the pair table: most pair lookups in BPE
// miss, and this answers them from a 128 KiB bitset that stays in L2 (8+ bits
// per key, about 10% false positives) instead of a cache miss on the 2 MiB
// table.
class BitFilter {
 public:
  void init(size_t num_keys) {
    const size_t bits = pow2_at_least(num_keys * 8);
    words_.assign(bits / 64, 0);
    mask_ = bits - 1;
  }
  void add(uint64_t key) {
    const size_t b = bit(key);
    words_[b >> 6] |= uint64_t{1} << (b & 63);
  }
  bool may_contain(uint64_t key) const {
    const size_t b = bit(key);
    return (words_[b >> 6] >> (b & 63)) & 1;
  }

 private:
  size_t bit(uint64_t key) const {
    return static_cast<size_t>(mix64(key ^ 0x5bd1e995u)) & mask_;
  }
  std::vector<uint64_t> words_;
  size_t mask_ = 0;
};

// Tokens of 1..8 bytes: key = packed bytes + length.
class ShortMap {
 public:
  void init(size_t num_keys) {
    const size_t cap = pow2_at_least(num_keys * 3 / 2);
    slots_.assign(cap, Slot{});
    shift_ = 64 - log2_of(cap);
    mask_ = cap - 1;
  }
  void insert(uint64_t key, uint32_t len, uint32_t id) {
    size_t i = index(key, len);
    while (slots_[i].len != 0) i = (i + 1) & mask_;
    slots_[i] = Slot{key, id, len};
  }
  uint32_t find(uint64_t key, uint32_t len) const {
    return find_from(index(key, len), key, len);
  }
  // Lookup split in two: the slot index is computed with the piece's key.
  size_t index(uint64_t key, uint32_t len) const {
    return static_cast<size_t>(
        ((key ^ (uint64_t{len} << 59)) * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  uint32_t find_from(size_t i, uint64_t key, uint32_t len) const {
    for (;;) {
      const Slot& s = slots_[i];
      if (s.key == key && s.len == len) return s.id;
      if (s.len == 0) return kNoRank;
      i = (i + 1) & mask_;
    }
  }

 private:
  struct Slot {
    uint64_t key = 0;
    uint32_t id = 0;
    uint32_t len = 0;  // 0 = empty
  };
  std::vector<Slot> slots_;
  int shift_ = 60;
  size_t mask_ = 0;
};

// Token pairs (a, b), both < 65536, packed into a uint32 -> merged id.
class PairMap {
 public:
  void init(size_t num_keys) {
    const size_t cap = pow2_at_least(num_keys * 2);
    slots_.assign(cap, Slot{});
    shift_ = 64 - log2_of(cap);
    mask_ = cap - 1;
    filter_.init(num_keys);
  }
  void insert(uint32_t a, uint32_t b, uint32_t id) {
    const uint32_t key = a << 16 | b;
    filter_.add(key);
    size_t i = index(key);
    while (slots_[i].key != kEmpty) {
      if (slots_[i].key == key) return;
      i = (i + 1) & mask_;
    }
    slots_[i] = Slot{key, id};
  }
  uint32_t find(uint32_t a, uint32_t b) const {
    const uint32_t key = a << 16 | b;
    if (!filter_.may_contain(key)) return kNoRank;
    size_t i = index(key);
    for (;;) {
      const Slot& s = slots_[i];
      if (s.key == key) return s.id;
      if (s.key == kEmpty) return kNoRank;
      i = (i + 1) & mask_;
    }
  }

 private:
  static constexpr uint32_t kEmpty = 0xFFFFFFFFu;
  struct Slot {
    uint32_t key = kEmpty;
    uint32_t id = 0;
  };
  size_t index(uint32_t key) const {
    return static_cast<size_t>(
        (uint64_t{key} * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  std::vector<Slot> slots_;
  int shift_ = 60;
  size_t mask_ = 0;
  BitFilter filter_;
};

// Character classes of the pre-tokenizer.

// Ids of pre-tokens that missed the vocabulary, for the rest of one encode
// call. Keys are views into the caller's text, which outlives the cache.
class PieceCache {
 public:
  // Appends the cached ids of `key` to `out`; false if absent. `h` is the
  // key's bytes packed into a uint64 when it has <= 8 bytes (then equal h
  // and length mean equal keys, and the text is not read again), else its
  // hash_bytes.
  bool find(std::string_view key, uint64_t h, std::vector<TokenId>& out) {
    if (slots_.empty()) return false;
    size_t i = static_cast<size_t>(mix64(h)) & mask_;
    for (;;) {
      const Slot& s = slots_[i];
      if (s.len == 0) return false;
      if (s.hash == h && s.len == key.size() &&
          (key.size() <= 8 ||
           std::memcmp(s.key, key.data(), key.size()) == 0)) {
        out.insert(
            out.end(),
            ids_.begin() + s.offset,
            ids_.begin() + s.offset + s.count);
        return true;
      }
      i = (i + 1) & mask_;
    }
  }
  void insert(std::string_view key, uint64_t h, const TokenId* ids, size_t n) {
    if (used_ * 2 >= slots_.size()) grow();
    const Slot s{
        key.data(),
        h,
        static_cast<uint32_t>(key.size()),
        static_cast<uint32_t>(ids_.size()),
        static_cast<uint32_t>(n)};
    ids_.insert(ids_.end(), ids, ids + n);
    put(s);
    ++used_;
  }
  // Forgets every entry (their keys point into text about to go away) and
  // keeps the memory for the next text.
  void clear() {
    std::fill(slots_.begin(), slots_.end(), Slot{});
    ids_.clear();
    used_ = 0;
  }

 private:
  struct Slot {
    const char* key = nullptr;
    uint64_t hash = 0;
    uint32_t len = 0;  // 0 = empty
    uint32_t offset = 0;
    uint32_t count = 0;
  };
  void put(const Slot& s) {
    size_t i = static_cast<size_t>(mix64(s.hash)) & mask_;
    while (slots_[i].len != 0) i = (i + 1) & mask_;
    slots_[i] = s;
  }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.len != 0) put(s);
    }
  }
  std::vector<Slot> slots_;
  std::vector<TokenId> ids_;
  size_t mask_ = 0;
  size_t used_ = 0;
};

}  // namespace ember::detail
