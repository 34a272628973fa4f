// UTF-8 as Python reads it: bytes that are not UTF-8 replaced as
// bytes.decode("utf-8", errors="replace") does (tiktoken's decode), and
// Python's str.strip() and len() (code points). Plain C++17.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ember {

/// Bytes of the well-formed UTF-8 sequence at s[i], or 0 with `*bad` set to
/// the length of its maximal ill-formed prefix (Unicode's "maximal
/// subpart", which Python's errors="replace" turns into one U+FFFD).
size_t utf8_sequence(std::string_view s, size_t i, size_t* bad);

/// `bytes` with every maximal ill-formed subpart replaced by U+FFFD:
/// Python's bytes.decode("utf-8", errors="replace").
std::string replace_invalid_utf8(std::string_view bytes);

/// Python's str.strip() of valid UTF-8: the code points str.isspace()
/// calls whitespace removed from both ends (ASCII \t\n\v\f\r, \x1c-\x1f and
/// space, U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F,
/// U+205F, U+3000).
std::string python_strip(std::string_view s);

/// Python's len() of valid UTF-8: its code points.
size_t count_code_points(std::string_view s);

/// Byte offset of code point `n` of valid UTF-8 `s` (s.size() past the
/// end): Python's s[n:] is s.substr(code_point_offset(s, n)).
size_t code_point_offset(std::string_view s, size_t n);

}  // namespace ember
