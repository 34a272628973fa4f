#include "ember/text/special_tokens.hpp"

#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include <fmt/core.h>

#include <ember/text/bpe.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

namespace ember::detail {
namespace {

using Tables = Tokenizer::Tables;

// First occurrence, at or after `from`, of any special token (leftmost;
// the longest on a tie, though GPT-2 has only one).
struct SpecialMatch {
  size_t pos;
  size_t index;  // into Tables::specials
};
std::optional<SpecialMatch> find_special(
    const Tables& t,
    std::string_view text,
    size_t from,
    const std::function<bool(const std::string&)>& wanted) {
  std::optional<SpecialMatch> best;
  for (size_t k = 0; k < t.specials.size(); ++k) {
    const std::string& name = t.specials[k].first;
    if (!wanted(name)) continue;
    const size_t pos = text.find(name, from);
    if (pos == std::string_view::npos) continue;
    if (!best || pos < best->pos ||
        (pos == best->pos &&
         name.size() > t.specials[best->index].first.size())) {
      best = SpecialMatch{pos, k};
    }
  }
  return best;
}

// tiktoken's core.py: with disallowed_special="all", any special token that
// is not allowed raises, wherever it is.
[[noreturn]] void throw_disallowed(
    const Tables& t, size_t index, uint64_t pos) {
  const std::string& name = t.specials[index].first;
  throw DisallowedSpecialError(
      fmt::format(
          "encode: text contains the special token '{}' at byte {}, which is "
          "not allowed; hint: allow it (allowed_special) to encode it as id "
          "{}, or pass Disallowed::kAsText to encode it as ordinary text",
          name,
          pos,
          t.specials[index].second),
      name,
      static_cast<size_t>(pos));
}

}  // namespace

// `base`: the stream offset of text[0], for the message and offset().
void check_utf8(std::string_view text, uint64_t base) {
  if (const auto bad = find_invalid_utf8(text)) {
    throw Utf8Error(
        fmt::format(
            "encode: invalid utf-8 at byte {} (got 0x{:02x}); hint: use "
            "encode_bytes for arbitrary bytes",
            base + *bad,
            static_cast<unsigned>(static_cast<uint8_t>(text[*bad]))),
        static_cast<size_t>(base + *bad));
  }
}

// `base`: the stream offset of text[0], for the message and offset().
void raise_if_disallowed(
    const Tables& t,
    std::string_view text,
    const AllowedSpecial& allowed,
    uint64_t base) {
  const auto bad = find_special(t, text, 0, [&](const std::string& name) {
    return !allowed.allows(name);
  });
  if (bad) throw_disallowed(t, bad->index, base + bad->pos);
}

// tiktoken's encode: disallowed specials raise (core.py), allowed ones cut
// the text into segments that are pre-tokenized independently (lib.rs
// _encode_native), everything else is ordinary text.
void encode_with_specials(
    const Tables& t,
    std::string_view text,
    const AllowedSpecial& allowed,
    Disallowed on_disallowed,
    PieceCache& cache,
    std::vector<TokenId>& out) {
  if (on_disallowed == Disallowed::kRaise)
    raise_if_disallowed(t, text, allowed);
  const auto is_allowed = [&](const std::string& name) {
    return allowed.allows(name);
  };
  size_t start = 0;
  for (;;) {
    const auto m = find_special(t, text, start, is_allowed);
    const size_t end = m ? m->pos : text.size();
    encode_segment(t, text.substr(start, end - start), cache, out);
    if (!m) break;
    out.push_back(t.specials[m->index].second);
    start = m->pos + t.specials[m->index].first.size();
  }
}

}  // namespace ember::detail
