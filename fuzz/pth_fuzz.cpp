// libFuzzer target for read_pth's parser (checkpoint/pth.hpp): arbitrary
// bytes as a .pth are either refused with an ember::Error or give a state
// dict whose tensors are all readable. The first input byte picks a mode:
// odd = the CRC-32 checks are skipped, so that mutations of the pickle and
// the storages reach the unpickler instead of stopping at the checksum.
// Built with -DEMBER_FUZZ=ON (CXX=clang++); run with scripts/fuzz.sh pth.
#include <cstdint>
#include <string_view>

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <ember/checkpoint/pth.hpp>
#include <ember/util/error.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view bytes(
      reinterpret_cast<const char*>(data) + 1, size - 1);
  ember::StateDict sd;
  try {
    sd = ember::detail::parse_pth(bytes, "fuzz.pth", (data[0] & 1) == 0);
  } catch (const ember::Error&) {
    return 0;  // refused with a message: fine
  }
  // Every element of every tensor is read (ASan checks the storage bounds).
  for (const auto& [name, t] : sd) {
    try {
      (void)t.contiguous().sum();
    } catch (const c10::Error&) {  // a dtype sum() does not take
    }
  }
  return 0;
}
