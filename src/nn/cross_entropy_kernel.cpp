#include "cross_entropy_kernel.hpp"

#include <cmath>
#include <cstring>

#include <ember/util/vector_clones.hpp>

namespace ember {

namespace {

EMBER_INLINE float bits_to_float(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

EMBER_INLINE uint32_t float_to_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

EMBER_INLINE float load(float x) {
  return x;
}
EMBER_INLINE float load(uint16_t x) {
  return bits_to_float(static_cast<uint32_t>(x) << 16);
}

EMBER_INLINE void store(float v, float* out) {
  *out = v;
}
// c10::BFloat16's rounding: to nearest, ties to even; NaN to a quiet NaN.
EMBER_INLINE void store(float v, uint16_t* out) {
  const uint32_t b = float_to_bits(v);
  const uint32_t rounded = (b + 0x7FFFu + ((b >> 16) & 1u)) >> 16;
  *out = static_cast<uint16_t>(v != v ? 0x7FC0u : rounded);
}

// exp(x) for x <= 0 within 2 ulp, 0 below -87.3, NaN kept. Cephes' expf: x = n
// ln2 + r, |r| <= ln2 / 2, exp(r) by a degree-7 polynomial, 2^n put into the
// exponent bits. Branch-free, so it vectorizes.
EMBER_INLINE float exp_le0(float x) {
  constexpr float kLow = -87.3f;  // exp(kLow) ~ 1.2e-38, the smallest normal
  const float xc = x < kLow ? kLow : x;
  // round(xc / ln2) by the 1.5 * 2^23 trick: n in the low mantissa bits.
  constexpr float kShift = 12582912.0f;
  const float t = xc * 1.44269504088896341f + kShift;
  const float n = t - kShift;
  const float r = (xc - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const uint32_t n_bits = float_to_bits(t) - float_to_bits(kShift);
  const float two_n = bits_to_float((n_bits + 127u) << 23);
  return x < kLow ? 0.0f : p * two_n;
}

// Rows go through in blocks of kBlock floats (L1-resident), each phase a
// flat loop the compiler vectorizes; reductions keep kLanes partial results
// (a fixed split: the same order in every compiled copy).
constexpr int64_t kLanes = 16;
constexpr int64_t kBlock = 256;

template <typename T>
EMBER_INLINE void to_float(
    const T* __restrict x, float* __restrict f, int64_t n) {
  for (int64_t i = 0; i < n; ++i) f[i] = load(x[i]);
}

EMBER_INLINE void exp_shifted(
    const float* __restrict f, float shift, float* __restrict e, int64_t n) {
  for (int64_t i = 0; i < n; ++i) e[i] = exp_le0(f[i] - shift);
}

template <typename T>
EMBER_INLINE void scaled_to(
    const float* __restrict e, float scale, T* __restrict out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) store(e[i] * scale, out + i);
}

template <typename T>
EMBER_INLINE float row_max(const T* x, int64_t cols) {
  alignas(64) float f[kBlock];
  float lanes[kLanes];
  const float first = load(x[0]);
  for (int64_t k = 0; k < kLanes; ++k) lanes[k] = first;
  for (int64_t j = 0; j < cols; j += kBlock) {
    const int64_t n = cols - j < kBlock ? cols - j : kBlock;
    to_float(x + j, f, n);
    for (int64_t i = n; i < kBlock; ++i) f[i] = first;
    for (int64_t i = 0; i < kBlock; i += kLanes) {
      for (int64_t k = 0; k < kLanes; ++k)
        lanes[k] = f[i + k] > lanes[k] ? f[i + k] : lanes[k];
    }
  }
  float m = lanes[0];
  for (int64_t k = 1; k < kLanes; ++k) m = lanes[k] > m ? lanes[k] : m;
  return m;
}

template <typename T>
EMBER_INLINE float row_logsumexp(const T* x, int64_t cols) {
  const float m = row_max(x, cols);
  // Each block summed into kLanes float lanes (kBlock / kLanes terms
  // each), the blocks into double lanes.
  alignas(64) float f[kBlock];
  alignas(64) float e[kBlock];
  double total[kLanes] = {};
  for (int64_t j = 0; j < cols; j += kBlock) {
    const int64_t n = cols - j < kBlock ? cols - j : kBlock;
    to_float(x + j, f, n);
    exp_shifted(f, m, e, n);
    for (int64_t i = n; i < kBlock; ++i) e[i] = 0.0f;
    float lanes[kLanes] = {};
    for (int64_t i = 0; i < kBlock; i += kLanes) {
      for (int64_t k = 0; k < kLanes; ++k) lanes[k] += e[i + k];
    }
    for (int64_t k = 0; k < kLanes; ++k)
      total[k] += static_cast<double>(lanes[k]);
  }
  for (int64_t width = kLanes / 2; width > 0; width /= 2) {
    for (int64_t k = 0; k < width; ++k) total[k] += total[k + width];
  }
  return static_cast<float>(std::log(total[0])) + m;
}

template <typename T>
EMBER_INLINE void row_softmax_grad(
    const T* x, float lse, int64_t target, float scale, int64_t cols, T* out) {
  alignas(64) float f[kBlock];
  alignas(64) float e[kBlock];
  for (int64_t j = 0; j < cols; j += kBlock) {
    const int64_t n = cols - j < kBlock ? cols - j : kBlock;
    to_float(x + j, f, n);
    exp_shifted(f, lse, e, n);
    scaled_to(e, scale, out + j, n);  // scale 0 (an ignored row): zeros
  }
  if (scale == 0.0f) return;
  const float p = exp_le0(load(x[target]) - lse);
  store((p - 1.0f) * scale, out + target);
}

}  // namespace

EMBER_VECTOR_CLONES
void rows_logsumexp(const float* x, int64_t rows, int64_t cols, float* lse) {
  for (int64_t r = 0; r < rows; ++r) lse[r] = row_logsumexp(x + r * cols, cols);
}

EMBER_VECTOR_CLONES
void rows_logsumexp(const uint16_t* x, int64_t rows, int64_t cols, float* lse) {
  for (int64_t r = 0; r < rows; ++r) lse[r] = row_logsumexp(x + r * cols, cols);
}

EMBER_VECTOR_CLONES
void rows_softmax_grad(
    const float* x,
    const float* lse,
    const int64_t* target,
    const float* scale,
    int64_t rows,
    int64_t cols,
    float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    row_softmax_grad(
        x + r * cols, lse[r], target[r], scale[r], cols, out + r * cols);
  }
}

EMBER_VECTOR_CLONES
void rows_softmax_grad(
    const uint16_t* x,
    const float* lse,
    const int64_t* target,
    const float* scale,
    int64_t rows,
    int64_t cols,
    uint16_t* out) {
  for (int64_t r = 0; r < rows; ++r) {
    row_softmax_grad(
        x + r * cols, lse[r], target[r], scale[r], cols, out + r * cols);
  }
}

}  // namespace ember
