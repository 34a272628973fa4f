// JSON output for the ember-torch commands (batches, embed, forward,
// generate): Python json.dumps' default separators (", " and ": "), floats
// in the shortest text that reads back as the same float32, buffers streamed
// to stdout as they grow.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <ember/util/utf8.hpp>

namespace ember::cli {

inline void write_out(const fmt::memory_buffer& buf) {
  std::fwrite(buf.data(), 1, buf.size(), stdout);
}

/// Writes `buf` out and empties it once it holds more than 1 MiB.
inline void flush_if_large(fmt::memory_buffer& buf) {
  if (buf.size() > (1u << 20)) {
    write_out(buf);
    buf.clear();
  }
}

/// The nested lists of a tensor with no elements: (0, 3) -> [], (2, 0) ->
/// [[], []].
inline void append_empty(
    fmt::memory_buffer& buf, at::IntArrayRef sizes, size_t dim) {
  buf.push_back('[');
  if (dim + 1 < sizes.size()) {
    for (int64_t i = 0; i < sizes[dim]; ++i) {
      if (i > 0) buf.append(std::string_view(", "));
      append_empty(buf, sizes, dim + 1);
    }
  }
  buf.push_back(']');
}

/// A tensor of any rank >= 1 as nested lists, T = int64_t or float:
/// (R, C) -> [[a, b], [c, d]].
template <typename T>
void append_nested(fmt::memory_buffer& buf, const at::Tensor& t) {
  // bf16 activations (--precision bf16) print as the T they convert to.
  const at::Tensor c =
      t.detach().to(c10::CppTypeToScalarType<T>::value).contiguous();
  const auto* p = c.data_ptr<T>();
  const int64_t rank = c.dim();
  const int64_t cols = c.size(rank - 1);
  if (c.numel() == 0) {
    append_empty(buf, c.sizes(), 0);
    return;
  }
  const int64_t rows = c.numel() / cols;
  // Walk the rows; after each, close and reopen the lists it ends.
  std::vector<int64_t> index(static_cast<size_t>(rank), 0);
  for (int64_t d = 0; d < rank; ++d) buf.push_back('[');
  for (int64_t r = 0; r < rows; ++r) {
    fmt::format_to(
        std::back_inserter(buf),
        "{}",
        fmt::join(p + r * cols, p + (r + 1) * cols, ", "));
    // Advance the index of the dimensions above the last one.
    int64_t d = rank - 2;
    int64_t closed = 1;
    while (d >= 0 && ++index[static_cast<size_t>(d)] == c.size(d)) {
      index[static_cast<size_t>(d)] = 0;
      --d;
      ++closed;
    }
    if (r + 1 < rows) {
      for (int64_t k = 0; k < closed; ++k) buf.push_back(']');
      buf.append(std::string_view(", "));
      for (int64_t k = 0; k < closed; ++k) buf.push_back('[');
    }
    flush_if_large(buf);
  }
  for (int64_t d = 0; d < rank; ++d) buf.push_back(']');
}

// A JSON string literal of `s`; bytes that are not UTF-8 (a decoding that
// ends inside a character, say) become U+FFFD, as tiktoken's decode does.
inline void append_string(fmt::memory_buffer& buf, std::string_view s) {
  buf.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const char ch = s[i];
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      buf.push_back('\\');
      buf.push_back(ch);
      ++i;
    } else if (u < 0x20) {
      fmt::format_to(std::back_inserter(buf), "\\u{:04x}", unsigned{u});
      ++i;
    } else if (u < 0x80) {
      buf.push_back(ch);
      ++i;
    } else {
      size_t bad = 0;
      const size_t n = utf8_sequence(s, i, &bad);
      if (n > 0) {
        buf.append(s.substr(i, n));
        i += n;
      } else {
        buf.append(std::string_view("\xef\xbf\xbd"));  // U+FFFD
        i += bad;
      }
    }
  }
  buf.push_back('"');
}

}  // namespace ember::cli
