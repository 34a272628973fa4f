// Byte-level BPE of text with no special tokens: the GPT-2 pre-tokenizer
// cuts it into pieces, each piece is looked up whole in the vocabulary, else
// in the call's cache, else merged. Mirrors tiktoken's src/lib.rs
// (CoreBPE::encode_ordinary, byte_pair_merge); the merge order and the
// measurements behind these choices are in src/text/tokenizer.cpp's notes.
#pragma once

#include <string_view>
#include <vector>

#include <ember/text/hash_tables.hpp>
#include <ember/text/tokenizer.hpp>
#include <ember/text/vocab_tables.hpp>

namespace ember::detail {

/// Pre-tokenizes `text` and appends the ids of its pieces to `out`; special
/// tokens are ordinary text here. Any bytes: an invalid UTF-8 byte is a piece
/// of its own. `cache` keeps ids of pieces that ran BPE; its keys point into
/// `text`, so clear it before the text goes away.
void encode_segment(
    const Tokenizer::Tables& t,
    std::string_view text,
    PieceCache& cache,
    std::vector<TokenId>& out);

}  // namespace ember::detail
