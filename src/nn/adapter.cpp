#include "ember/nn/adapter.hpp"

#include <utility>

#include <fmt/core.h>
#include <fmt/ranges.h>

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

at::Tensor adapted(torch::nn::Linear& linear, const at::Tensor& x) {
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
