// The GPT-2 vocabulary as the tokenizer holds it (Tokenizer::Tables: token
// bytes by id, whole-token lookup, the lazily built pair table, the special
// tokens) and its loader from encoder.json + vocab.bpe, each pinned by
// SHA-256. Mirrors tiktoken's load.py (data_gym_to_mergeable_bpe_ranks) and
// the encoder/decoder maps of src/lib.rs CoreBPE; leaves out other encodings.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ember/text/hash_tables.hpp>
#include <ember/text/tokenizer.hpp>

namespace ember {

namespace detail {

inline constexpr const char* kEndOfText = "<|endoftext|>";

}  // namespace detail

struct Tokenizer::Tables {
  // Bytes of ordinary token i: bytes[offsets[i] .. offsets[i + 1]).
  std::string bytes;
  std::vector<uint32_t> offsets;
  uint32_t num_ordinary = 0;
  std::array<TokenId, 256> byte_token{};
  detail::ShortMap short_map;
  // Tokens of more than 8 bytes: open addressing on hash_bytes, value = id,
  // plus the hash's top 32 bits to skip other tokens without touching them.
  std::vector<uint32_t> long_slots;
  std::vector<uint32_t> long_tags;
  size_t long_mask = 0;
  // The pair table, built at the first BPE merge rather than at load: a
  // short text whose pieces are all whole tokens never needs it (39% of the
  // load's CPU time; see the notes).
  const detail::PairMap& pairs() const;
  mutable std::once_flag pairs_built;
  mutable detail::PairMap pair_map;
  // Special tokens (text, id), e.g. ("<|endoftext|>", 50256).
  std::vector<std::pair<std::string, TokenId>> specials;

  std::string_view token_bytes(TokenId id) const {
    return std::string_view(bytes).substr(
        offsets[id], offsets[id + 1] - offsets[id]);
  }

  uint32_t find_long(const uint8_t* s, size_t n) const {
    return find_long_hashed(s, n, detail::hash_bytes(s, n));
  }
  uint32_t find_long_hashed(const uint8_t* s, size_t n, uint64_t h) const {
    size_t i = static_cast<size_t>(h) & long_mask;
    const auto tag = static_cast<uint32_t>(h >> 32);
    for (;;) {
      const uint32_t id = long_slots[i];
      if (id == detail::kNoRank) return detail::kNoRank;
      if (long_tags[i] == tag) {
        const std::string_view t = token_bytes(id);
        if (t.size() == n && std::memcmp(t.data(), s, n) == 0) return id;
      }
      i = (i + 1) & long_mask;
    }
  }

  uint32_t find(const uint8_t* s, size_t n, const uint8_t* end) const {
    if (n <= 8) {
      return short_map.find(detail::pack8(s, n, end), static_cast<uint32_t>(n));
    }
    return find_long(s, n);
  }
};

namespace detail {

/// Fills `out` with every split of every token into two tokens: (a, b) ->
/// the id of bytes(a) ++ bytes(b).
void build_pair_table(const Tokenizer::Tables& t, PairMap& out);

/// Loads `dir`/encoder.json and `dir`/vocab.bpe, each checked against its
/// pinned SHA-256. Throws Error (unreadable) or TokenizerError naming the
/// file (hash mismatch, malformed JSON, ids not 0..50255 plus <|endoftext|>).
std::shared_ptr<const Tokenizer::Tables> load_tables(const std::string& dir);

}  // namespace detail

// Inline, as when it shared byte_pair_merge's translation unit: asked for
// once per piece that runs BPE.
inline const detail::PairMap& Tokenizer::Tables::pairs() const {
  std::call_once(
      pairs_built, [this] { detail::build_pair_table(*this, pair_map); });
  return pair_map;
}

}  // namespace ember
