// Where a run computes: the device and the intra-op threads a config asks
// for, and the one place where the config's LibTorch-side checks happen
// (module names, device, threads), which config.cpp cannot make without
// LibTorch. Mirrors the book's `device = torch.device("cuda" if
// torch.cuda.is_available() else "cpu")`. Leaves out: MPS and other devices.
#pragma once

#include <cstdint>
#include <string>

#include <c10/core/Device.h>

#include <ember/config/config.hpp>
#include <ember/nn/precision.hpp>

namespace ember {

/// "auto" -> CUDA when this LibTorch has it and a GPU is present, else CPU;
/// "cpu"; "cuda" / "cuda:N". Throws ConfigError naming why CUDA is unusable:
///   "train.device: cuda requested but this LibTorch build has no CUDA
///    support; hint: use device = "cpu" or "auto""
c10::Device resolve_device(const std::string& device);

/// Threads for intra-op parallelism: `threads`, or all cores when 0.
int64_t resolve_threads(int64_t threads);

/// A config's device and threads, checked.
struct Runtime {
  c10::Device device{c10::kCPU};
  int64_t threads = 1;
  Precision precision = Precision::fp32;
  /// train.tf32, in effect on CUDA only.
  bool tf32 = false;
};

/// "fp32", "bf16", or "fp32 (tf32 products)" on CUDA with train.tf32:
/// what a run's first line says of its precision.
std::string precision_label(const Runtime& r);

/// Checks what only LibTorch can check of `config` (its model's module names
/// are registered, its device exists and computes in its precision),
/// resolves the device, threads and precision, and
/// sets LibTorch's intra-op threads (Debian's LibTorch would otherwise run
/// one) and whether CUDA's fp32 products use TF32 (train.tf32; off on the
/// CPU). Throws ConfigError.
Runtime prepare_runtime(const Config& config);

}  // namespace ember
