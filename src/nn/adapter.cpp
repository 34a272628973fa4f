#include "ember/nn/adapter.hpp"

#include <utility>
#include <vector>

#include <ATen/ops/cat.h>
#include <fmt/core.h>
#include <fmt/ranges.h>
#include <torch/nn/functional/linear.h>

#include <ember/nn/precision.hpp>
#include <ember/nn/prefix_cache.hpp>
#include <ember/util/error.hpp>

namespace ember {

void AdapterRegistry::add(const std::string& name, Factory factory) {
  if (!factories_.emplace(name, std::move(factory)).second) {
    throw Error(
        fmt::format("train.adapter: adapter '{}' is already registered", name));
  }
}

void AdapterRegistry::check(const std::string& name) const {
  if (factories_.count(name) == 0) {
    throw ConfigError(fmt::format(
        "train.adapter: unknown adapter '{}' (expected one of: {})",
        name,
        fmt::join(names(), ", ")));
  }
}

std::shared_ptr<AdapterImpl> AdapterRegistry::make(
    const std::string& name, const AdapterSpec& spec) const {
  check(name);
  return factories_.at(name)(spec);
}

std::vector<std::string> AdapterRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& entry : factories_) out.push_back(entry.first);
  return out;
}

AdapterRegistry& adapters() {
  static AdapterRegistry kRegistry;
  return kRegistry;
}

std::shared_ptr<AdapterImpl> adapter_of(const torch::nn::LinearImpl& linear) {
  // A Linear has no children of its own: any child is an adapter.
  for (const auto& child : linear.children()) {
    if (auto a = std::dynamic_pointer_cast<AdapterImpl>(child)) return a;
  }
  return nullptr;
}

namespace {

// adapted() of a (B, T, in) input one (1, T, in) row at a time. Under
// autocast the weight is cast once: autocast's cache keeps only the casts
// of weights that take a gradient, and would cast a frozen one for every
// row. The same values as linear(row): autocast casts the row, not a
// weight already in bf16 (AutocastScope's dtype), and the bias as it does
// for the module (LibTorch 1.13's bf16 linear rounds differently from a
// bias cast beforehand; the unit test checks).
at::Tensor adapted_by_row(torch::nn::Linear& linear, const at::Tensor& x) {
  auto weight = linear->weight;
  if (autocast_active(x.device())) weight = weight.to(at::kBFloat16);
  const auto adapter = adapter_of(*linear);
  std::vector<at::Tensor> rows;
  rows.reserve(static_cast<size_t>(x.size(0)));
  for (int64_t b = 0; b < x.size(0); ++b) {
    const auto row = x.narrow(0, b, 1);
    auto base = torch::nn::functional::linear(row, weight, linear->bias);
    rows.push_back(adapter ? adapter->forward(row, base) : base);
  }
  return at::cat(rows, 0);
}

}  // namespace

at::Tensor adapted(torch::nn::Linear& linear, const at::Tensor& x) {
  // One product a row: its rounding is that of the row alone.
  if (row_alone_linears() && x.dim() == 3 && x.size(0) > 1)
    return adapted_by_row(linear, x);
  auto base = linear(x);
  const auto adapter = adapter_of(*linear);
  return adapter ? adapter->forward(x, base) : base;
}

void attach_adapter(
    torch::nn::LinearImpl& linear,
    const std::string& name,
    std::shared_ptr<AdapterImpl> adapter) {
  linear.register_module(name, std::move(adapter));
}

bool has_adapters(torch::nn::Module& m) {
  for (const auto& child : m.modules()) {
    if (std::dynamic_pointer_cast<AdapterImpl>(child)) return true;
  }
  return false;
}

}  // namespace ember
