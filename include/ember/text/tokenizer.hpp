// GPT-2 byte-level BPE, id-for-id identical to tiktoken's `gpt2` encoding.
// Mirrors tiktoken's src/lib.rs (CoreBPE::encode, byte_pair_merge) and
// tiktoken/core.py (Encoding.encode's allowed_special / disallowed_special).
// Plain C++17: no LibTorch. Leaves out training a vocabulary and other
// encodings (cl100k, o200k).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <ember/util/error.hpp>
#include <ember/util/io.hpp>  // find_invalid_utf8

namespace ember {

/// A token id (tiktoken's `Rank`): 0 .. vocab_size() - 1.
using TokenId = uint32_t;

/// Which special tokens `encode` turns into their ids (tiktoken's
/// `allowed_special`). Default: none.
class AllowedSpecial {
 public:
  AllowedSpecial() = default;
  static AllowedSpecial none() {
    return {};
  }
  static AllowedSpecial all() {
    AllowedSpecial a;
    a.all_ = true;
    return a;
  }
  /// A set of special-token texts, e.g. {"<|endoftext|>"}.
  explicit AllowedSpecial(std::set<std::string> names)
      : names_(std::move(names)) {}

  bool allows(std::string_view token) const {
    return all_ || names_.count(std::string(token)) != 0;
  }
  bool is_all() const {
    return all_;
  }
  const std::set<std::string>& names() const {
    return names_;
  }

 private:
  bool all_ = false;
  std::set<std::string> names_;
};

/// What `encode` does with special-token text that is not allowed
/// (tiktoken's `disallowed_special`): throw (the default, like tiktoken's
/// "all"), or encode it as ordinary text (like `disallowed_special=()`).
enum class Disallowed { kRaise, kAsText };

/// Thrown by Tokenizer::encode when the text holds special-token text that is
/// neither allowed nor to be encoded as text. `token()` is the special token,
/// `offset()` the byte offset of its first occurrence.
///   "encode: text contains the special token '<|endoftext|>' at byte 6, which
///    is not allowed; hint: ..."
class DisallowedSpecialError : public TokenizerError {
 public:
  DisallowedSpecialError(
      const std::string& what, std::string token, size_t offset)
      : TokenizerError(what), token_(std::move(token)), offset_(offset) {}
  const std::string& token() const noexcept {
    return token_;
  }
  size_t offset() const noexcept {
    return offset_;
  }

 private:
  std::string token_;
  size_t offset_;
};

// find_invalid_utf8() is in io.hpp.

/// Smallest i >= `from` (and > 0) at which the GPT-2 pre-tokenizer cannot merge
/// across: text[i] is U+0020 and text[i-1] is an ASCII byte other than
/// whitespace. No pre-token crosses i, and pre-tokenizing text[i..] alone gives
/// exactly the pre-tokens of the whole text from i on (the pattern has no
/// look-behind), so encode(a + b) == encode(a) ++ encode(b) for a split there.
/// Never inside a special token (none contains U+0020). Returns text.size()
/// when there is no such position.
///   next_safe_split("ab cd ef", 0) -> 2;  next_safe_split("ab cd ef", 3) -> 5
size_t next_safe_split(std::string_view text, size_t from);

class Tokenizer {
 public:
  /// Loads the GPT-2 vocabulary from `dir` (encoder.json and vocab.bpe), each
  /// checked against its pinned SHA-256; a mismatch throws TokenizerError with
  /// both hashes. Default `dir`: ember::gpt2_vocab_dir().
  static Tokenizer gpt2();
  static Tokenizer gpt2(const std::string& dir);

  /// Encodes UTF-8 text. Special-token text is encoded as its id when
  /// `allowed` allows it; otherwise `on_disallowed` decides (default: throw
  /// TokenizerError naming the token). Throws Utf8Error (with the byte offset)
  /// on invalid UTF-8.
  ///   encode("hello world") -> {31373, 995}
  std::vector<TokenId> encode(
      std::string_view text,
      const AllowedSpecial& allowed = AllowedSpecial::none(),
      Disallowed on_disallowed = Disallowed::kRaise) const;

  /// Encodes text with no special-token handling at all (tiktoken's
  /// encode_ordinary). Throws Utf8Error on invalid UTF-8.
  std::vector<TokenId> encode_ordinary(std::string_view text) const;

  /// Byte-level entry point: encodes any byte string (invalid UTF-8 included;
  /// each bad byte is its own pre-token), special tokens as ordinary text.
  /// decode(encode_bytes(b)) == b for every b. Never throws on content.
  std::vector<TokenId> encode_bytes(std::string_view bytes) const;

  /// Same ids as encode(), computed on `num_threads` threads (0 = all cores)
  /// by splitting the text only where the GPT-2 pre-tokenizer cannot merge
  /// across the split.
  std::vector<TokenId> encode_parallel(
      std::string_view text,
      const AllowedSpecial& allowed = AllowedSpecial::none(),
      Disallowed on_disallowed = Disallowed::kRaise,
      unsigned num_threads = 0) const;

  /// Encodes a whole stream without holding it in memory: cuts it into
  /// pieces of about `chunk_bytes`, each ending at a next_safe_split boundary
  /// (a piece grows until it has one), encodes them on `num_threads` threads
  /// (0 = all cores) and hands each piece's ids to `sink` in stream order.
  /// One thread reads and calls `sink` while the workers encode the pieces
  /// after it, with no barrier between pieces; at most 2 x threads + 2 pieces
  /// are in flight. The concatenated ids equal encode() of the whole stream.
  /// Errors carry offsets into the whole stream: Utf8Error on invalid UTF-8,
  /// DisallowedSpecialError as encode(); `sink` has then seen the ids of the
  /// pieces before. Throws Error on a read error. Returns the number of bytes
  /// read.
  uint64_t encode_stream(
      std::FILE* in,
      const std::function<void(const std::vector<TokenId>&)>& sink,
      const AllowedSpecial& allowed = AllowedSpecial::none(),
      Disallowed on_disallowed = Disallowed::kRaise,
      unsigned num_threads = 0,
      size_t chunk_bytes = size_t{1} << 20) const;

  /// Concatenated bytes of `ids`. Throws TokenizerError on an id outside
  /// [0, vocab_size()), naming the id and its index.
  std::string decode(const std::vector<TokenId>& ids) const;

  /// 50257 for GPT-2: 50256 ordinary tokens plus <|endoftext|>.
  size_t vocab_size() const;
  /// The id of <|endoftext|> (50256).
  TokenId eot_token() const;
  /// Special-token texts, e.g. {"<|endoftext|>"}.
  std::vector<std::string> special_tokens() const;

  struct Tables;  // the immutable vocabulary tables (vocab_tables.hpp)

 private:
  explicit Tokenizer(std::shared_ptr<const Tables> tables);
  // Shared and immutable: copying a Tokenizer is cheap and thread-safe.
  std::shared_ptr<const Tables> tables_;
};

}  // namespace ember
