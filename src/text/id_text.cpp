#include "ember/text/id_text.hpp"

#include <cstdint>
#include <string>

#include <fmt/core.h>

#include <ember/text/token_file.hpp>
#include <ember/util/error.hpp>

namespace ember {

std::vector<TokenId> parse_id_text(
    std::string_view text, std::string_view what, size_t vocab_size) {
  std::vector<TokenId> ids;
  ids.reserve(text.size() / 5);
  const auto is_space = [](char c) {
    return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' ||
           c == '\f';
  };
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    while (i < n && is_space(text[i])) ++i;
    if (i >= n) break;
    const size_t start = i;
    while (i < n && !is_space(text[i])) ++i;
    const std::string_view token = text.substr(start, i - start);
    uint64_t v = 0;
    bool numeric = true;
    for (const char c : token) {
      if (c < '0' || c > '9') {
        numeric = false;
        break;
      }
      // Saturates: any value this large is outside every vocabulary.
      if (v < (uint64_t{1} << 40)) v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    const std::string shown = token.size() > 40
                                  ? std::string(token.substr(0, 40)) + "..."
                                  : std::string(token);
    if (!numeric) {
      throw TokenizerError(fmt::format(
          "decode: {}: token '{}' at index {} (byte {}) is not an id "
          "(expected a decimal integer from 0 to {})",
          what,
          shown,
          ids.size(),
          start,
          vocab_size - 1));
    }
    if (v >= vocab_size) {
      throw TokenizerError(fmt::format(
          "decode: {}: id {} at index {} (byte {}) is outside the vocabulary "
          "(expected 0 to {})",
          what,
          shown,
          ids.size(),
          start,
          vocab_size - 1));
    }
    ids.push_back(static_cast<TokenId>(v));
  }
  return ids;
}

std::vector<TokenId> parse_decode_input(
    std::string_view data, std::string_view what, size_t vocab_size) {
  if (data.substr(0, 8) == std::string_view(kTokenFileMagic, 8)) {
    auto ids = decode_token_file(data, what);
    // A 16-bit file holds ids up to 65535, a 32-bit one any: check them here
    // so the message names the file.
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] >= vocab_size) {
        throw TokenizerError(fmt::format(
            "decode: token file {}: id {} at index {} is outside the "
            "vocabulary (expected 0 to {})",
            what,
            ids[i],
            i,
            vocab_size - 1));
      }
    }
    return ids;
  }
  return parse_id_text(data, what, vocab_size);
}

}  // namespace ember
