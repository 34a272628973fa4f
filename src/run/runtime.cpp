#include "ember/run/runtime.hpp"

#include <thread>
#include <typeinfo>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <fmt/core.h>
#include <torch/cuda.h>

#include <ember/nn/gpt_model.hpp>
#include <ember/util/error.hpp>

namespace ember {
namespace {

bool cuda_compiled() {
  // Without the CUDA library LibTorch answers with the stub interface.
  const auto& hooks = at::detail::getCUDAHooks();
  return typeid(hooks) != typeid(at::CUDAHooksInterface);
}

}  // namespace

c10::Device resolve_device(const std::string& device) {
  if (device == "cpu") return c10::Device(c10::kCPU);
  const bool compiled = cuda_compiled();
  const int64_t count =
      compiled ? static_cast<int64_t>(torch::cuda::device_count()) : 0;
  if (device == "auto")
    return count > 0 ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  int64_t index = 0;
  if (device.size() > 5) index = std::stoll(device.substr(5));
  if (!compiled) {
    throw ConfigError(fmt::format(
        "train.device: {} requested but this LibTorch build has no CUDA "
        "support; hint: use device = \"cpu\" or \"auto\", or build against a "
        "CUDA LibTorch (scripts/gpu-check.sh)",
        device));
  }
  if (count == 0) {
    throw ConfigError(fmt::format(
        "train.device: {} requested but no CUDA device is present (driver "
        "missing or no GPU visible); hint: use device = \"cpu\" or \"auto\"",
        device));
  }
  if (index >= count) {
    throw ConfigError(fmt::format(
        "train.device: no such CUDA device (got {}, expected cuda:0 to "
        "cuda:{})",
        device,
        count - 1));
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

int64_t resolve_threads(int64_t threads) {
  if (threads > 0) return threads;
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int64_t>(n);
}

Runtime prepare_runtime(const Config& config) {
  check_module_names(model_options(config.model));
  Runtime r;
  r.device = resolve_device(config.train.runtime.device);
  r.threads = resolve_threads(config.train.runtime.threads);
  r.precision =
      parse_precision(config.train.runtime.precision, "train.precision");
  check_precision(r.precision, r.device);
  r.tf32 = r.device.is_cuda() && config.train.runtime.tf32;
  at::set_num_threads(static_cast<int>(r.threads));
  at::globalContext().setAllowTF32CuBLAS(r.tf32);
  at::globalContext().setAllowTF32CuDNN(r.tf32);
  return r;
}

std::string precision_label(const Runtime& r) {
  std::string label = precision_name(r.precision);
  if (r.tf32 && r.precision == Precision::fp32) label += " (tf32 products)";
  return label;
}

}  // namespace ember
