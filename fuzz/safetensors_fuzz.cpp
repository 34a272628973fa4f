// libFuzzer target for the safetensors reader (--weights, --init-from):
// arbitrary bytes are either refused with an ember::Error or give tensors
// that all lie inside the bytes (each is read in full, so ASan catches a
// view past the end). The first input byte picks a mode: odd = the rest is
// a JSON header behind a correct 8-byte length, so the fuzzer reaches the
// entry checks instead of stopping at the length.
// Built with -DEMBER_FUZZ=ON (CXX=clang++); run with scripts/fuzz.sh
// safetensors.
#include <cstdint>
#include <string>

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <ember/checkpoint/safetensors.hpp>
#include <ember/util/error.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) != 0) {
    // The JSON part up to the first NUL byte, then whatever follows as data.
    const size_t n = std::min(bytes.find('\0'), bytes.size());
    std::string len(8, '\0');
    for (size_t i = 0; i < 8; ++i)
      len[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    bytes = len + bytes;
  }
  try {
    for (const auto& [name, t] :
         ember::parse_safetensors(bytes, "fuzz.safetensors")) {
      if (t.numel() > 0) (void)t.to(at::kDouble).sum();
    }
    (void)ember::safetensors_metadata(bytes);
  } catch (const ember::Error&) {
  } catch (const c10::Error&) {
  }
  return 0;
}
