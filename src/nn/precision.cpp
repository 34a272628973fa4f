#include "ember/nn/precision.hpp"

#include <cstdlib>

#include <ATen/autocast_mode.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/ones.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/version.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <ember/config/config.hpp>
#include <ember/util/error.hpp>

// LibTorch 2.4 names autocast's state by device type; 1.13 to 2.3 have a
// function per device (still there, deprecated, in 2.4+).
#if TORCH_VERSION_MAJOR > 2 || \
    (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define EMBER_AUTOCAST_BY_DEVICE_TYPE 1
#endif

namespace ember {
namespace {

struct Bf16Flags {
  bool avx512 = false;
  bool amx = false;
};

Bf16Flags cpuid_bf16() {
  Bf16Flags f;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  // Leaf 7 sub-leaf 1, EAX bit 5: AVX512_BF16; sub-leaf 0, EDX bit 22:
  // AMX-BF16 (Intel SDM vol. 2A, CPUID).
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d) != 0) f.avx512 = (a >> 5) & 1U;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d) != 0) f.amx = (d >> 22) & 1U;
#endif
  return f;
}

bool autocast_enabled(bool cuda) {
#ifdef EMBER_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::is_autocast_enabled(cuda ? at::kCUDA : at::kCPU);
#else
  return cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

void set_autocast(bool cuda, bool enabled, at::ScalarType dtype) {
#ifdef EMBER_AUTOCAST_BY_DEVICE_TYPE
  const auto type = cuda ? at::kCUDA : at::kCPU;
  at::autocast::set_autocast_enabled(type, enabled);
  at::autocast::set_autocast_dtype(type, dtype);
#else
  if (cuda) {
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
#endif
}

at::ScalarType autocast_dtype(bool cuda) {
#ifdef EMBER_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::get_autocast_dtype(cuda ? at::kCUDA : at::kCPU);
#else
  return cuda ? at::autocast::get_autocast_gpu_dtype()
              : at::autocast::get_autocast_cpu_dtype();
#endif
}

}  // namespace

static_assert(
    kPrecisionNames[static_cast<size_t>(Precision::fp32)] == "fp32" &&
        kPrecisionNames[static_cast<size_t>(Precision::bf16)] == "bf16",
    "kPrecisionNames follows the order of Precision");

Precision parse_precision(const std::string& name, const std::string& key) {
  for (size_t i = 0; i < kPrecisionNames.size(); ++i) {
    if (name == kPrecisionNames[i]) return static_cast<Precision>(i);
  }
  throw ConfigError(fmt::format(
      "{}: unknown precision '{}' (expected {})",
      key,
      name,
      fmt::join(kPrecisionNames, " or ")));
}

const char* precision_name(Precision p) {
  return kPrecisionNames[static_cast<size_t>(p)].data();
}

bool cpu_has_bf16() {
  const char* env = std::getenv("EMBER_CPU_BF16");
  if (env != nullptr && std::string(env) == "0") return false;
  const Bf16Flags f = cpuid_bf16();
  return f.avx512 || f.amx;
}

std::string cpu_bf16_flags() {
  const Bf16Flags f = cpuid_bf16();
  if (f.avx512 && f.amx) return "avx512_bf16 amx_bf16";
  if (f.avx512) return "avx512_bf16";
  if (f.amx) return "amx_bf16";
  return "none";
}

void check_precision(Precision p, c10::Device device) {
  if (p == Precision::fp32) return;
  if (device.is_cpu()) {
    if (cpu_has_bf16()) return;
    throw ConfigError(
        "train.precision: bf16 needs a CPU with AVX512-BF16 or AMX (this one "
        "has neither: its bf16 matrix products would be emulated, slower than "
        "fp32); hint: set train.precision = \"fp32\", or "
        "pass --precision fp32 to a model command");
  }
  try {
    const auto x =
        at::ones({8, 8}, at::TensorOptions(device).dtype(at::kBFloat16));
    (void)at::matmul(x, x).sum().item<float>();
  } catch (const c10::Error& e) {
    throw ConfigError(fmt::format(
        "train.precision: bf16 is not supported by {} (a bf16 matrix product "
        "failed: {}); hint: set train.precision = \"fp32\", or "
        "pass --precision fp32 to a model command",
        device.str(),
        e.what_without_backtrace()));
  }
}

bool autocast_active(c10::Device device) {
  return autocast_enabled(device.is_cuda());
}

AutocastScope::AutocastScope(Precision p, c10::Device device)
    : active_(p == Precision::bf16), cuda_(device.is_cuda()) {
  if (!active_) return;
  was_enabled_ = autocast_enabled(cuda_);
  previous_dtype_ = static_cast<int>(autocast_dtype(cuda_));
  set_autocast(cuda_, true, at::kBFloat16);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  // torch.autocast.__exit__: the cast-weight cache lives until the
  // outermost scope ends.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast(
      cuda_, was_enabled_, static_cast<at::ScalarType>(previous_dtype_));
}

}  // namespace ember
