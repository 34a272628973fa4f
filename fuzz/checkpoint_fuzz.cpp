// libFuzzer target for the checkpoint loader on the resume path: arbitrary
// bytes as checkpoint.pt are either refused with an ember::Error (or a
// c10::Error from a LibTorch precondition, which the driver prints as one
// line) or give a checkpoint whose tensors are all readable. The first input
// byte picks a mode: odd = the rest gets a valid trailer (size and hash), so
// the fuzzer reaches the archive parser instead of stopping at the checksum.
// Built with -DEMBER_FUZZ=ON (CXX=clang++); run with scripts/fuzz.sh
// checkpoint.
#include <cstdint>
#include <cstdlib>
#include <string>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <ember/checkpoint/checkpoint.hpp>
#include <ember/config/config.hpp>
#include <ember/util/error.hpp>

namespace {

// Reads every element of `t` (ASan checks the storage bounds).
void touch(const at::Tensor& t) {
  if (!t.defined()) return;
  try {
    (void)t.sum();
  } catch (const c10::Error&) {  // e.g. a dtype sum() does not take
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) != 0) bytes += ember::checkpoint_trailer(bytes);
  ember::Checkpoint c;
  try {
    c = ember::parse_checkpoint(bytes, "fuzz/checkpoint.pt");
  } catch (const ember::Error&) {
    return 0;  // refused with a message: fine
  }
  // What train() does next with a loaded checkpoint, before any training.
  try {
    (void)ember::parse_config(c.config_toml, "fuzz (its config)");
  } catch (const ember::Error&) {
  }
  for (const auto& [name, t] : c.model) touch(t);
  for (const auto& [name, t] : c.optimizer) touch(t);
  try {
    auto gen = at::make_generator<at::CPUGeneratorImpl>();
    gen.set_state(c.cpu_rng);
  } catch (const c10::Error&) {
  }
  return 0;
}
