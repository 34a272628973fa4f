// The row loops of nn/cross_entropy.hpp, torch-free, compiled as
// util/vector_clones.hpp says: vectorized, and the same bits on every CPU
// (each row's reductions in a fixed 16-way split).
#pragma once

#include <cstdint>

namespace ember {

/// For each of `rows` rows of `cols` logits (float32, or bfloat16 given as
/// its 16 bits): lse[r] = log(sum_j exp(x[r, j] - max_r)) + max_r, the sum in
/// double. NaN in a row gives a NaN lse.
void rows_logsumexp(const float* x, int64_t rows, int64_t cols, float* lse);
void rows_logsumexp(const uint16_t* x, int64_t rows, int64_t cols, float* lse);

/// The gradient of the loss for each row: out[r, j] = (exp(x[r, j] - lse[r])
/// - [j == target[r]]) * scale[r], computed in float and rounded once to
/// the output's type (bfloat16 to nearest even). scale[r] = 0 (an ignored
/// row) writes zeros. target[r] must be in [0, cols) where scale[r] != 0.
void rows_softmax_grad(
    const float* x,
    const float* lse,
    const int64_t* target,
    const float* scale,
    int64_t rows,
    int64_t cols,
    float* out);
void rows_softmax_grad(
    const uint16_t* x,
    const float* lse,
    const int64_t* target,
    const float* scale,
    int64_t rows,
    int64_t cols,
    uint16_t* out);

}  // namespace ember
