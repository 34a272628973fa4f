// Which c10d backends this build of ember has. Decided by LibTorch's compile
// definitions and headers alone (no LibTorch code runs), so the torch-free
// `ember` front reports the same list as ember-torch without loading
// LibTorch. Compile with the `torch` target's include directories and
// definitions (USE_C10D_GLOO comes from them); EMBER_WITH_NCCL from CMake.
#pragma once

#include <string>
#include <vector>

// Gloo: LibTorch defines USE_C10D_GLOO when it was built with Gloo, but not
// every LibTorch ships Gloo's own headers (Debian's needs libgloo-dev).
#if defined(USE_C10D_GLOO) && __has_include(<gloo/algorithm.h>)
#define EMBER_WITH_GLOO 1
#endif

namespace ember::dist {

/// Backends compiled in, in preference order: {"gloo"} with Debian's
/// LibTorch and libgloo-dev; {"gloo", "nccl"} with a CUDA LibTorch.
inline std::vector<std::string> available_backends() {
  std::vector<std::string> names;
#ifdef EMBER_WITH_GLOO
  names.emplace_back("gloo");
#endif
#ifdef EMBER_WITH_NCCL
  names.emplace_back("nccl");
#endif
  return names;
}

}  // namespace ember::dist
