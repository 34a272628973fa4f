// Character classes of the GPT-2 pre-tokenizer (\p{L}, \p{N}, \s, other) and
// a UTF-8 decoder that yields them, as tiktoken's regex crate sees Unicode
// 16.0: utf8proc's categories, plus the generated unicode_table.hpp for what
// utf8proc's Unicode 15.0 leaves unassigned. Internal to the tokenizer; leaves
// out every other Unicode property.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include <utf8proc.h>

namespace ember::detail {

// Character classes of the pre-tokenizer.
enum Cls : uint8_t {
  kLetter = 0,  // \p{L}
  kNumber = 1,  // \p{N}
  kSpace = 2,   // \s (Unicode White_Space)
  kOther = 3,   // [^\s\p{L}\p{N}]
  kBad = 4,     // a byte that is not part of valid UTF-8 (encode_bytes only)
};

// Class of a code point utf8proc reports as unassigned (Cn): a letter,
// number or space of Unicode 16.0 if the generated table lists it (binary
// search over a few dozen ranges), else other, as in the regex. Kept out of
// line and cold: inlined, it perturbed the splitter's register allocation
// (callgrind, 4 MB of mixed.txt: +0.42% instructions in encode, vs +0.11%).
[[gnu::cold, gnu::noinline]] Cls class_of_unassigned(int32_t cp);

inline Cls class_of_codepoint(int32_t cp) {
  if ((cp >= 0x09 && cp <= 0x0D) || cp == 0x85) return kSpace;
  switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return kLetter;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return kNumber;
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
      return kSpace;
    case UTF8PROC_CATEGORY_CN:
      return class_of_unassigned(cp);
    default:
      return kOther;
  }
}

// Classes of U+0000..U+FFFF, built once from utf8proc and the generated
// table (about 1 ms).
const std::array<uint8_t, 65536>& bmp_classes();

struct Char {
  Cls cls;
  uint32_t len;  // bytes
};

// Decodes the character at s (s < end); an invalid sequence yields
// {kBad, 1}. Valid = shortest form, no surrogates, <= U+10FFFF.
inline Char decode_char(
    const uint8_t* s,
    const uint8_t* end,
    const std::array<uint8_t, 65536>& bmp) {
  const uint8_t b0 = s[0];
  if (b0 < 0x80) return {static_cast<Cls>(bmp[b0]), 1};
  const size_t avail = static_cast<size_t>(end - s);
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (avail >= 2 && (s[1] & 0xC0) == 0x80) {
      const uint32_t cp = (uint32_t{b0} & 0x1F) << 6 | (s[1] & 0x3Fu);
      return {static_cast<Cls>(bmp[cp]), 2};
    }
    return {kBad, 1};
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (avail >= 3 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80) {
      const uint32_t cp = (uint32_t{b0} & 0x0F) << 12 |
                          (uint32_t{s[1]} & 0x3F) << 6 | (s[2] & 0x3Fu);
      if (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) {
        return {static_cast<Cls>(bmp[cp]), 3};
      }
    }
    return {kBad, 1};
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (avail >= 4 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 &&
        (s[3] & 0xC0) == 0x80) {
      const uint32_t cp = (uint32_t{b0} & 0x07) << 18 |
                          (uint32_t{s[1]} & 0x3F) << 12 |
                          (uint32_t{s[2]} & 0x3F) << 6 | (s[3] & 0x3Fu);
      if (cp >= 0x10000 && cp <= 0x10FFFF) {
        return {class_of_codepoint(static_cast<int32_t>(cp)), 4};
      }
    }
    return {kBad, 1};
  }
  return {kBad, 1};
}

}  // namespace ember::detail
