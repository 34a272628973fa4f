// Helpers shared by the data and embedding tests: reading the committed
// golden files of tests/golden/ (written by tests/reference/*.py / *.js).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/ops/from_blob.h>
#include <ember_test_paths.hpp>

#include <ember/util/io.hpp>

namespace ember::test {

inline std::string golden_path(const std::string& name) {
  return std::string(EMBER_SOURCE_DIR) + "/tests/golden/" + name;
}

/// Non-comment lines of a golden file, split on whitespace.
inline std::vector<std::vector<std::string>> golden_lines(
    const std::string& name) {
  std::istringstream in(read_file(golden_path(name)));
  std::vector<std::vector<std::string>> lines;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    std::istringstream words(line);
    std::vector<std::string> fields;
    for (std::string w; words >> w;) {
      fields.push_back(w);
    }
    lines.push_back(std::move(fields));
  }
  return lines;
}

/// the-verdict.txt's 5145 GPT-2 ids (tiktoken), as a 1-D int64 tensor.
inline torch::Tensor verdict_ids() {
  std::vector<int64_t> ids;
  for (const auto& line : golden_lines("the_verdict_ids.txt")) {
    for (const auto& w : line) {
      ids.push_back(std::stoll(w));
    }
  }
  return at::from_blob(
             ids.data(),
             {static_cast<int64_t>(ids.size())},
             at::TensorOptions().dtype(at::kLong))
      .clone();
}

/// A decimal printed with 9 significant digits is exactly one float32.
inline float parse_f32(const std::string& s) {
  return std::strtof(s.c_str(), nullptr);
}

/// SHA-256 of a float32 tensor's raw (little-endian) bytes, as Python's
/// hashlib.sha256(t.numpy().tobytes()).
inline std::string tensor_sha256(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().contiguous();
  return sha256_hex(std::string_view(
      static_cast<const char*>(c.data_ptr()),
      static_cast<size_t>(c.numel()) * c.element_size()));
}

}  // namespace ember::test
