#include "dropout_kernel.hpp"

#include <algorithm>

#include <ember/util/vector_clones.hpp>

namespace ember {

namespace {

constexpr int kN = 624;
constexpr int kM = 397;

EMBER_INLINE uint32_t twist(uint32_t u, uint32_t v) {
  const uint32_t mixed = (u & 0x80000000u) | (v & 0x7fffffffu);
  return (mixed >> 1) ^ ((v & 1u) != 0 ? 0x9908b0dfu : 0u);
}

// MT19937's next state, as at::mt19937_engine::next_state.
EMBER_INLINE void next_state(uint32_t* w) {
  for (int i = 0; i < kN - kM; ++i) w[i] = w[i + kM] ^ twist(w[i], w[i + 1]);
  for (int i = kN - kM; i < kN - 1; ++i)
    w[i] = w[i + kM - kN] ^ twist(w[i], w[i + 1]);
  w[kN - 1] = w[kM - 1] ^ twist(w[kN - 1], w[0]);
}

EMBER_INLINE void temper(
    const uint32_t* __restrict w, uint32_t* __restrict out, int64_t k) {
  for (int64_t i = 0; i < k; ++i) {
    uint32_t y = w[i];
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= (y >> 18);
    out[i] = y;
  }
}

// `count` outputs, as `count` calls of at::mt19937_engine::operator():
// each call first decrements left and regenerates the state at 0.
EMBER_INLINE void draw(MersenneState s, uint32_t* out, int64_t count) {
  while (count > 0) {
    if (*s.left == 1) {
      next_state(s.words);
      *s.left = kN + 1;  // the call that regenerates also takes words[0]
      *s.next = 0;
    }
    const int64_t k = std::min<int64_t>(count, *s.left - 1);
    temper(s.words + *s.next, out, k);
    *s.next += static_cast<uint32_t>(k);
    *s.left -= static_cast<int>(k);
    out += k;
    count -= k;
  }
}

template <typename T>
EMBER_INLINE void mask_from(
    const uint32_t* __restrict raw,
    uint64_t threshold,
    T keep,
    T* __restrict out,
    int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t u =
        (static_cast<uint64_t>(raw[2 * i] & 0x1fffffu) << 32) | raw[2 * i + 1];
    out[i] = u < threshold ? keep : T{0};
  }
}

template <typename T>
EMBER_INLINE void mask(
    MersenneState s, uint64_t threshold, T keep, T* out, int64_t n) {
  constexpr int64_t kChunk = 2048;  // elements: 16 KB of draws on the stack
  uint32_t raw[2 * kChunk];
  for (int64_t done = 0; done < n; done += kChunk) {
    const int64_t m = std::min(kChunk, n - done);
    draw(s, raw, 2 * m);
    mask_from(raw, threshold, keep, out + done, m);
  }
}

}  // namespace

EMBER_VECTOR_CLONES
void bernoulli_mask(
    MersenneState s,
    uint64_t threshold,
    uint32_t keep,
    uint32_t* out,
    int64_t n) {
  mask(s, threshold, keep, out, n);
}

EMBER_VECTOR_CLONES
void bernoulli_mask(
    MersenneState s,
    uint64_t threshold,
    uint16_t keep,
    uint16_t* out,
    int64_t n) {
  mask(s, threshold, keep, out, n);
}

}  // namespace ember
