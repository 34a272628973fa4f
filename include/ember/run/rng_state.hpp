// The random state a checkpoint keeps so that a resumed run draws what the
// uninterrupted run would have: LibTorch's default CPU generator and, on a
// CUDA run, the device's (torch.get_rng_state / torch.cuda.get_rng_state in
// the book's terms). Leaves out: other devices' generators.
#pragma once

#include <c10/core/Device.h>

#include <ember/checkpoint/checkpoint.hpp>

namespace ember {

/// Copies the default CPU generator's state, and `device`'s when it is a
/// CUDA device, into `ckpt` (cpu_rng, cuda_rng).
void capture_rng_state(Checkpoint& ckpt, c10::Device device);

/// Sets the default generators from `ckpt`: the CPU's, and `device`'s when
/// it is a CUDA device and the checkpoint has one.
void restore_rng_state(const Checkpoint& ckpt, c10::Device device);

}  // namespace ember
