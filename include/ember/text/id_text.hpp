// The input of `ember decode`: whitespace-separated decimal ids, or a token
// file (docs/token_file.md) recognised by its magic. Plain C++17, no torch,
// so the parser is unit-tested and fuzzed (fuzz/decode_fuzz.cpp) on its own.
// Leaves out: signs, hex, and separators other than ASCII whitespace.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include <ember/text/tokenizer.hpp>

namespace ember {

/// Whitespace-separated decimal ids, each below `vocab_size`. `what` names
/// the input in messages. Throws TokenizerError naming the token, its index
/// and byte offset:
///   parse_id_text("31373 x", "<stdin>", 50257) throws "decode: <stdin>:
///   token 'x' at index 1 (byte 6) is not an id (expected a decimal integer
///   from 0 to 50256)"
///   parse_id_text(" 31373\n995 ", "f", 50257) == {31373, 995}
std::vector<TokenId> parse_id_text(
    std::string_view text, std::string_view what, size_t vocab_size);

/// The ids of a decode input: a token file when `data` starts with
/// kTokenFileMagic (decode_token_file; its ids must be below `vocab_size`
/// too), else parse_id_text. Throws TokenizerError.
std::vector<TokenId> parse_decode_input(
    std::string_view data, std::string_view what, size_t vocab_size);

}  // namespace ember
