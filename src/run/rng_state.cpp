#include "ember/run/rng_state.hpp"

#include <mutex>

#include <ATen/Context.h>

namespace ember {
namespace {

at::Generator default_generator(c10::Device device) {
  return at::globalContext().defaultGenerator(device);
}

}  // namespace

void capture_rng_state(Checkpoint& ckpt, c10::Device device) {
  {
    auto gen = default_generator(c10::Device(c10::kCPU));
    std::lock_guard<std::mutex> lock(gen.mutex());
    ckpt.cpu_rng = gen.get_state();
  }
  if (device.is_cuda()) {
    auto gen = default_generator(device);
    std::lock_guard<std::mutex> lock(gen.mutex());
    ckpt.cuda_rng = gen.get_state();
  }
}

void restore_rng_state(const Checkpoint& ckpt, c10::Device device) {
  {
    auto gen = default_generator(c10::Device(c10::kCPU));
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(ckpt.cpu_rng);
  }
  if (device.is_cuda() && ckpt.cuda_rng.defined()) {
    auto gen = default_generator(device);
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(ckpt.cuda_rng);
  }
}

}  // namespace ember
