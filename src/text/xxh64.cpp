#include "ember/text/xxh64.hpp"

#include <cstring>

namespace ember {
namespace {

constexpr uint64_t kP1 = 0x9E3779B185EBCA87ull;
constexpr uint64_t kP2 = 0xC2B2AE3D27D4EB4Full;
constexpr uint64_t kP3 = 0x165667B19E3779F9ull;
constexpr uint64_t kP4 = 0x85EBCA77C2B2AE63ull;
constexpr uint64_t kP5 = 0x27D4EB2F165667C5ull;

inline uint64_t rotl(uint64_t x, int r) {
  return (x << r) | (x >> (64 - r));
}

// Little-endian loads (the spec reads lanes as little-endian words); memcpy
// compiles to one load.
template <typename T>
inline T load_le(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  if constexpr (sizeof(T) == 8) {
    v = __builtin_bswap64(v);
  } else {
    v = __builtin_bswap32(v);
  }
#endif
  return v;
}
inline uint64_t load64(const unsigned char* p) {
  return load_le<uint64_t>(p);
}
inline uint64_t load32(const unsigned char* p) {
  return load_le<uint32_t>(p);
}

inline uint64_t round(uint64_t acc, uint64_t lane) {
  acc += lane * kP2;
  acc = rotl(acc, 31);
  return acc * kP1;
}

inline uint64_t merge(uint64_t h, uint64_t acc) {
  h ^= round(0, acc);
  return h * kP1 + kP4;
}

// Whole 32-byte stripes of p[0, n) into acc; returns the bytes consumed.
size_t stripes(uint64_t (&acc)[4], const unsigned char* p, size_t n) {
  size_t done = 0;
  for (; done + 32 <= n; done += 32) {
    acc[0] = round(acc[0], load64(p + done));
    acc[1] = round(acc[1], load64(p + done + 8));
    acc[2] = round(acc[2], load64(p + done + 16));
    acc[3] = round(acc[3], load64(p + done + 24));
  }
  return done;
}

}  // namespace

Xxh64::Xxh64(uint64_t seed)
    : acc_{seed + kP1 + kP2, seed + kP2, seed, seed - kP1},
      buf_{},
      seed_(seed) {}

void Xxh64::update(const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  total_ += n;
  if (buf_len_ > 0) {  // fill the pending stripe first
    const size_t take = n < 32 - buf_len_ ? n : 32 - buf_len_;
    std::memcpy(buf_ + buf_len_, p, take);
    buf_len_ += take;
    p += take;
    n -= take;
    if (buf_len_ < 32) return;
    stripes(acc_, buf_, 32);
    buf_len_ = 0;
  }
  const size_t done = stripes(acc_, p, n);
  buf_len_ = n - done;
  if (buf_len_ > 0) std::memcpy(buf_, p + done, buf_len_);
}

uint64_t Xxh64::digest() const {
  uint64_t h;
  if (total_ >= 32) {
    h = rotl(acc_[0], 1) + rotl(acc_[1], 7) + rotl(acc_[2], 12) +
        rotl(acc_[3], 18);
    for (uint64_t a : acc_) h = merge(h, a);
  } else {
    h = seed_ + kP5;
  }
  h += total_;
  const unsigned char* p = buf_;
  size_t n = buf_len_;
  for (; n >= 8; n -= 8, p += 8) {
    h ^= round(0, load64(p));
    h = rotl(h, 27) * kP1 + kP4;
  }
  if (n >= 4) {
    h ^= load32(p) * kP1;
    h = rotl(h, 23) * kP2 + kP3;
    n -= 4;
    p += 4;
  }
  for (; n > 0; --n, ++p) {
    h ^= *p * kP5;
    h = rotl(h, 11) * kP1;
  }
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h;
}

uint64_t xxh64(const void* data, size_t n, uint64_t seed) {
  Xxh64 h(seed);
  h.update(data, n);
  return h.digest();
}

}  // namespace ember
