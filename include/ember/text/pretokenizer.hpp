// The GPT-2 pre-tokenizer: tiktoken's gpt2 pattern, hand-written as one
// forward pass over the bytes (no regex engine), after llama.cpp's
// unicode.cpp; plus the byte test behind next_safe_split (tokenizer.hpp).
// Internal to the tokenizer; leaves out every other encoding's pattern.
#pragma once

#include <cstddef>
#include <cstdint>

#include <ember/text/unicode_class.hpp>

namespace ember::detail {

// The GPT-2 pre-tokenizer (tiktoken's gpt2 pat_str, verbatim):
//
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// hand-written as a single forward pass. Alternatives are tried in order at
// each position, as the backtracking regex does:
// - contractions are ASCII apostrophe + lowercase only ("'S" is not one);
// - ` ?X+`: a U+0020 joins the run of the class that follows it;
// - a run of [^\s\p{L}\p{N}] is greedy and swallows apostrophes ("!'s" ->
//   "!'", "s");
// - `\s+(?!\S)`: a whitespace run of k >= 2 chars followed by a non-space
//   yields its first k-1 chars; the last one then starts the next piece
//   (joining it if it is U+0020, else alone by `\s+`); at the end of the text
//   the whole run is one piece.
// An invalid byte (encode_bytes only) counts as a non-space that joins
// nothing: it is always a pre-token of its own.
template <class OnPiece>
void split_gpt2(const uint8_t* s, const uint8_t* end, OnPiece&& on_piece) {
  const auto& bmp = bmp_classes();
  const uint8_t* p = s;
  while (p < end) {
    const uint8_t b = *p;
    if (b == '\'' && end - p >= 2) {
      const uint8_t c1 = p[1];
      if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
        on_piece(p, 2);
        p += 2;
        continue;
      }
      if (end - p >= 3) {
        const uint8_t c2 = p[2];
        if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') ||
            (c1 == 'l' && c2 == 'l')) {
          on_piece(p, 3);
          p += 3;
          continue;
        }
      }
    }
    const uint8_t* start = p;
    Char c = decode_char(p, end, bmp);
    if (c.cls == kSpace) {
      if (b == ' ' && p + 1 < end) {
        const Char n = decode_char(p + 1, end, bmp);
        if (n.cls != kSpace && n.cls != kBad) {
          ++p;  // ` ?X+`: the space leads the following run
          c = n;
        }
      }
      if (c.cls == kSpace) {
        // \s+(?!\S) | \s+
        const uint8_t* last = p;
        p += c.len;
        while (p < end) {
          const Char w = decode_char(p, end, bmp);
          if (w.cls != kSpace) break;
          last = p;
          p += w.len;
        }
        if (p < end && last != start) p = last;
        on_piece(start, static_cast<size_t>(p - start));
        continue;
      }
    }
    if (c.cls == kBad) {
      on_piece(p, 1);
      ++p;
      continue;
    }
    // A run of one class (letters, numbers or other).
    const Cls cls = c.cls;
    p += c.len;
    while (p < end) {
      const uint8_t x = *p;
      if (x < 0x80) {
        if (bmp[x] != cls) break;
        ++p;
        continue;
      }
      const Char w = decode_char(p, end, bmp);
      if (w.cls != cls) break;
      p += w.len;
    }
    on_piece(start, static_cast<size_t>(p - start));
  }
}

// The byte before a U+0020 at which a split is safe: ASCII, not whitespace.
inline bool splits_before_space(char before) {
  const auto b = static_cast<uint8_t>(before);
  return b < 0x80 && b != ' ' && !(b >= 0x09 && b <= 0x0D);
}

}  // namespace ember::detail
