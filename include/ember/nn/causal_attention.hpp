// Causal scaled-dot-product attention in one call: PyTorch's
// scaled_dot_product_attention(q, k, v, is_causal=True), FlashAttention or
// the memory-efficient kernel on CUDA with LibTorch 2.x, the math path on
// the CPU. LibTorch 1.13 has it only as the private
// _scaled_dot_product_attention (math on every device): the build selects.
// The attention `fused` of model.attention (nn/multi_head_attention.hpp)
// uses it; the book's `multihead` does not.
// Leaves out: masks other than causal, attention weights as an output.
#pragma once

#include <ATen/core/Tensor.h>

namespace ember {

/// softmax(q k^T / sqrt(h) + causal mask) v with dropout `dropout_p` on the
/// weights (drawn by PyTorch's kernel, not the book's Dropout: pass 0 in
/// evaluation). q, k, v: (B, H, T, h), the same T (position t attends to
/// positions <= t); returns (B, H, T, h).
at::Tensor causal_attention(
    const at::Tensor& q,
    const at::Tensor& k,
    const at::Tensor& v,
    double dropout_p);

}  // namespace ember
