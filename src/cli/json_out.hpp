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
  const at::Tensor c = t.detach().contiguous();
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

/// `s` as a JSON string (quotes, backslash escapes, \uXXXX for controls;
/// UTF-8 passes through).
// Bytes of the well-formed UTF-8 sequence at s[i], or 0 with `*bad` set to
// the length of its maximal ill-formed prefix (Unicode's "maximal subpart",
// what Python's decode(errors="replace") turns into one U+FFFD).
inline size_t utf8_sequence(std::string_view s, size_t i, size_t* bad) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = b(i);
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // the second byte's range
  if (lead >= 0xc2 && lead <= 0xdf) {
    n = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    n = 3;
    if (lead == 0xe0) lo = 0xa0;
    if (lead == 0xed) hi = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    n = 4;
    if (lead == 0xf0) lo = 0x90;
    if (lead == 0xf4) hi = 0x8f;
  } else {
    *bad = 1;
    return 0;
  }
  for (size_t k = 1; k < n; ++k) {
    const bool ok =
        i + k < s.size() && (k == 1 ? b(i + k) >= lo && b(i + k) <= hi
                                    : b(i + k) >= 0x80 && b(i + k) <= 0xbf);
    if (!ok) {
      *bad = k;
      return 0;
    }
  }
  return n;
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
