// The draws of LibTorch's CPU bernoulli_(p) (PyTorch 1.13 and later built
// without MKL): per element two outputs r1, r2 of the default generator's
// MT19937, u = (((r1 & (2^21 - 1)) << 32) | r2) / 2^53, kept when u < p,
// element by element in order. Torch-free; compiled like
// util/vector_clones.hpp says (vectorized copies, the same bits on any CPU).
#pragma once

#include <cstdint>

namespace ember {

/// at::mt19937's state (mt19937_data_pod's fields that move).
struct MersenneState {
  uint32_t* words;  ///< 624
  int* left;
  uint32_t* next;
};

/// Writes n mask values: `keep` where element i's draw is kept (u <
/// threshold / 2^53, threshold = ceil(p * 2^53)), 0 otherwise; advances
/// `s` by 2n outputs, as n calls of ATen's bernoulli(p) would.
void bernoulli_mask(
    MersenneState s,
    uint64_t threshold,
    uint32_t keep,
    uint32_t* out,
    int64_t n);
void bernoulli_mask(
    MersenneState s,
    uint64_t threshold,
    uint16_t keep,
    uint16_t* out,
    int64_t n);

}  // namespace ember
