// The version line of both executables, from headers only (LibTorch's
// version macros and compile definitions), so that `ember --version` needs
// no LibTorch at run time. Include in exactly one file per executable.
#pragma once

#include <string>

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <torch/version.h>

#include <ember/dist/backends.hpp>
#include <ember/util/build_config.hpp>

namespace ember::cli {

/// "ember 0.1.0 (LibTorch 1.13.1; attention: multihead (the book's), fused
/// (_scaled_dot_product_attention (math)); precision: fp32, bf16
/// (autocast); distributed backends: gloo)": what
/// this build can do, for bug reports and for tests that need a feature.
inline std::string version_line() {
  const auto backends = dist::available_backends();
  return fmt::format(
      "ember {} (LibTorch {}.{}.{}; attention: multihead (the book's), "
      "fused ({}); precision: fp32, bf16 (autocast); distributed backends: "
      "{})",
      build::kVersion,
      TORCH_VERSION_MAJOR,
      TORCH_VERSION_MINOR,
      TORCH_VERSION_PATCH,
  // The op nn/causal_attention.cpp selects the same way.
#if TORCH_VERSION_MAJOR >= 2
      "scaled_dot_product_attention",
#else
      "_scaled_dot_product_attention (math)",
#endif
      backends.empty() ? std::string("none")
                       : fmt::format("{}", fmt::join(backends, " ")));
}

}  // namespace ember::cli
