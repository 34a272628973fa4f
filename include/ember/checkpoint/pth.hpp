// STUB (until the pth branch merges)
#pragma once
#include <string>
#include <ember/checkpoint/state_dict.hpp>
namespace ember {
StateDict read_pth(const std::string& path);
void write_pth(const std::string& path, const StateDict& sd);
}  // namespace ember
