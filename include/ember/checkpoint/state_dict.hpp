// A state dict as the Python world writes it: named tensors in order (the
// order of model.state_dict(), which torch.save keeps). What the weight
// files of checkpoint/pth.hpp and checkpoint/safetensors.hpp read and write.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace ember {

/// (name, tensor) pairs in file order; names are unique.
using StateDict = std::vector<std::pair<std::string, at::Tensor>>;

}  // namespace ember
