// The precision a model computes in (train.precision, `--precision`):
// "fp32", or "bf16", PyTorch's autocast: matrix products (linear, matmul)
// in bfloat16 on oneDNN (CPU: AVX512-BF16 or AMX) or on CUDA, with fp32
// weights, fp32 optimizer state and the residual stream, the loss and the
// logits in fp32; exactly what `with torch.autocast(device, dtype=
// torch.bfloat16):` around the book's forward does, the same ops cast.
// Leaves out: fp16 (it needs loss scaling), bf16 weights.
#pragma once

#include <string>

#include <c10/core/Device.h>

namespace ember {

enum class Precision { fp32, bf16 };

/// "fp32" -> fp32, "bf16" -> bf16; throws ConfigError naming `key`
/// otherwise ("train.precision: unknown precision 'fp16' (expected fp32
/// or bf16)").
Precision parse_precision(const std::string& name, const std::string& key);

/// "fp32" or "bf16".
const char* precision_name(Precision p);

/// Whether this CPU computes bf16 matrix products natively: AVX512-BF16 or
/// AMX-BF16 (cpuid). EMBER_CPU_BF16=0 in the environment answers no (to
/// test the refusal on a machine that has them).
bool cpu_has_bf16();

/// The CPU's bf16 instructions for a log line: "avx512_bf16 amx_bf16",
/// "avx512_bf16", or "none".
std::string cpu_bf16_flags();

/// Throws ConfigError when `device` cannot compute in `p`: bf16 on a CPU
/// without AVX512-BF16 or AMX ("train.precision: bf16 needs a CPU with
/// AVX512-BF16 or AMX, this one has neither; hint: ..."), or on a GPU
/// whose bf16 matrix product fails.
void check_precision(Precision p, c10::Device device);

/// Whether autocast is on for `device`'s type on this thread.
bool autocast_active(c10::Device device);

/// Autocast for the scope's lifetime when `p` is bf16 (nothing for fp32):
/// as Python's torch.autocast(device.type, dtype=torch.bfloat16), nesting
/// included; on leaving the outermost scope the cache of weights cast to
/// bf16 is dropped, as torch.autocast's __exit__ does. Do not run backward
/// inside it (PyTorch's advice too).
class AutocastScope {
 public:
  AutocastScope(Precision p, c10::Device device);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  bool cuda_ = false;
  bool was_enabled_ = false;
  int previous_dtype_ = 0;
};

}  // namespace ember
