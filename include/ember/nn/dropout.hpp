// Dropout with LibTorch's random draws, faster on the CPU. ATen's CPU
// dropout draws its mask with bernoulli_(1 - p), one element at a time
// through the generator (~6 ns an element here: 0.17 s of a GPT-2 small
// step at batch 2), then divides it by 1 - p in a second pass. This draws
// the same MT19937 outputs in blocks (nn/dropout_kernel.hpp) and writes the
// divided values directly: the same mask, values, output and gradient to
// the bit, and the default generator left where ATen's would leave it.
// Taken for contiguous float32 and bfloat16 CPU tensors when LibTorch has
// no MKL
// (with MKL, bernoulli_ on an Intel CPU draws from MKL's generator);
// anything else is ATen's dropout.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/pimpl.h>

namespace ember {

/// torch::nn::functional::dropout(x, p, training): x * mask / (1 - p) in
/// training (0 < p < 1), x itself otherwise (p = 1: zeros).
at::Tensor dropout(const at::Tensor& x, double p, bool training);

/// Whether dropout() draws its own mask for `x` (false: ATen's).
bool draws_own_mask(const at::Tensor& x);

/// torch::nn::Dropout (options, module name, printing) whose forward is
/// ember::dropout. GPTModel, TransformerBlock and MultiHeadAttention hold
/// these.
class DropoutImpl : public torch::nn::DropoutImpl {
 public:
  using torch::nn::DropoutImpl::DropoutImpl;
  at::Tensor forward(at::Tensor input);
};

TORCH_MODULE(Dropout);

}  // namespace ember
