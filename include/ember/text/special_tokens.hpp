// Special tokens and input checks of encode: where special-token text is
// (tiktoken's core.py allowed_special / disallowed_special, raising on a
// disallowed one), cutting the text at allowed ones (src/lib.rs
// _encode_native), and the UTF-8 check with its offset. Internal to the
// tokenizer; the public types (AllowedSpecial, Disallowed) are in
// tokenizer.hpp.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include <ember/text/hash_tables.hpp>
#include <ember/text/tokenizer.hpp>
#include <ember/text/vocab_tables.hpp>

namespace ember::detail {

/// Throws Utf8Error at the first invalid UTF-8 byte of `text`. `base`: the
/// stream offset of text[0], for the message and offset().
void check_utf8(std::string_view text, uint64_t base = 0);

/// Throws DisallowedSpecialError at the first special token in `text` that
/// `allowed` does not allow. `base`: the stream offset of text[0], for the
/// message and offset().
void raise_if_disallowed(
    const Tokenizer::Tables& t,
    std::string_view text,
    const AllowedSpecial& allowed,
    uint64_t base = 0);

// tiktoken's encode: disallowed specials raise (core.py), allowed ones cut
// the text into segments that are pre-tokenized independently (lib.rs
// _encode_native), everything else is ordinary text.
void encode_with_specials(
    const Tokenizer::Tables& t,
    std::string_view text,
    const AllowedSpecial& allowed,
    Disallowed on_disallowed,
    PieceCache& cache,
    std::vector<TokenId>& out);

}  // namespace ember::detail
