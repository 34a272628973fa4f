#include "ember/text/tokenizer.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>
#include <utility>

#include <fmt/core.h>

#include <ember/text/bpe.hpp>
#include <ember/text/hash_tables.hpp>
#include <ember/text/special_tokens.hpp>
#include <ember/text/vocab_tables.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

// Design and performance notes (measured on the project machine, Debian 12,
// 2 cores, g++ 12 -O3; see bench/README.md "Tokenizer" for the figures):
// - The pre-tokenizer is hand-written (no regex engine): one pass over the
//   bytes with an ASCII class table, and utf8proc categories (cached for the
//   BMP in a 64 KiB table built once) for everything else. Code points that
//   utf8proc calls unassigned (Cn) are looked up in a table generated at
//   build time (unicode_table.hpp: letters, numbers and white space new in
//   Unicode 15.1/16.0, which tiktoken knows), so assigned characters never
//   reach it and the hot path is unchanged.
// - Every pre-token is first looked up whole in the vocabulary (tiktoken's
//   single-token fast path). Pieces of <= 8 bytes use a table keyed by the
//   bytes packed into a uint64 plus the length; longer ones a byte-string
//   table. Only misses run BPE, and their ids are cached for the rest of the
//   call (pieces repeat a lot in real text).
// - BPE merges token pairs through a pair table (a, b) -> id of bytes(a) ++
//   bytes(b), built at load from every split of every token into two tokens.
//   Since GPT-2's rank is its id, the lowest merged id is the lowest rank of
//   the concatenated bytes, exactly what tiktoken's byte_pair_merge picks.
//   Short pieces use tiktoken's quadratic scan on a stack array; long ones
//   (>= 128 bytes, e.g. 10,000 repeats of a char) a heap ordered by
//   (rank, position), which picks the same leftmost-lowest pair each step.
// - Measured on mixed.txt (19.6 MB): 5.32 M pre-tokens, 80% found whole in
//   the vocabulary, 18% in the call's cache, 1.6% run BPE (9 bytes on
//   average). perf: ~27% in vocabulary lookups (mostly cache misses on the
//   table), ~27% in the splitter, ~16% in BPE (pair-table misses). The
//   short-token table is sized to 1 MiB (load 0.6), one L2; a 2 MiB table
//   (load 0.3) was ~4% slower. Software prefetching of table slots 8 pieces
//   ahead was slower (best of 15: 79-86 vs 88-98 MB/s CPU time), so dropped.
//   The call's cache compares pieces of <= 8 bytes by their packed bytes
//   instead of reading the text again (+8-12%); a Bloom filter in front of
//   the pair table gives a few % more (best of 15: 112-123 MB/s CPU time).
// - Loading uses Debian libraries: simdjson's On-Demand API parses
//   encoder.json in 0.9 ms (best of 15, 1.0 MB), against 1.4 ms for the
//   hand-written parser it replaced and 7.7 ms for nlohmann's SAX parser (its
//   DOM: 162 ms); OpenSSL's EVP SHA-256 pins both files (the CPU's SHA
//   instructions). The rest of the load is building the tables below; the
//   pair table, 39% of the load's CPU time (perf), is built at the first BPE
//   merge instead (Tables::pairs), so a short text whose pieces are all
//   whole tokens never pays for it. Prefetching its short-map probes was
//   measured no faster, so not done.
//
// Where each piece lives: hash_tables.hpp (ShortMap, PairMap, BitFilter,
// PieceCache), unicode_class.hpp/.cpp (classes, the BMP table),
// pretokenizer.hpp/.cpp (split_gpt2, next_safe_split), vocab_tables.hpp/.cpp
// (Tables, loading, the pair table), bpe.hpp/.cpp (encode_segment,
// byte_pair_merge), special_tokens.hpp/.cpp, encode_stream.cpp; this file
// holds the Tokenizer's entry points, encode_parallel and decode. The hot
// loop still compiles as one unit (bpe.cpp, with the tables, the class
// decoder and the splitter inline from their headers): callgrind, 4 MB of
// mixed.txt, encode loop 149.37 M instructions before the split, 149.77 M
// after (+0.27%; wall-clock differences were within this machine's noise).

namespace ember {

using detail::check_utf8;
using detail::encode_segment;
using detail::encode_with_specials;
using detail::kEndOfText;
using detail::load_tables;
using detail::PieceCache;
using detail::raise_if_disallowed;

Tokenizer::Tokenizer(std::shared_ptr<const Tables> tables)
    : tables_(std::move(tables)) {}

Tokenizer Tokenizer::gpt2() {
  return gpt2(gpt2_vocab_dir());
}

Tokenizer Tokenizer::gpt2(const std::string& dir) {
  return Tokenizer(load_tables(dir));
}

std::vector<TokenId> Tokenizer::encode(
    std::string_view text,
    const AllowedSpecial& allowed,
    Disallowed on_disallowed) const {
  check_utf8(text);
  std::vector<TokenId> out;
  out.reserve(text.size() / 2 + 16);
  PieceCache cache;
  encode_with_specials(*tables_, text, allowed, on_disallowed, cache, out);
  return out;
}

std::vector<TokenId> Tokenizer::encode_ordinary(std::string_view text) const {
  check_utf8(text);
  std::vector<TokenId> out;
  out.reserve(text.size() / 2 + 16);
  PieceCache cache;
  encode_segment(*tables_, text, cache, out);
  return out;
}

std::vector<TokenId> Tokenizer::encode_bytes(std::string_view bytes) const {
  std::vector<TokenId> out;
  out.reserve(bytes.size() / 2 + 16);
  PieceCache cache;
  encode_segment(*tables_, bytes, cache, out);
  return out;
}

std::vector<TokenId> Tokenizer::encode_parallel(
    std::string_view text,
    const AllowedSpecial& allowed,
    Disallowed on_disallowed,
    unsigned num_threads) const {
  if (num_threads == 0)
    num_threads = std::max(1u, std::thread::hardware_concurrency());
  // Below this size a thread costs more than it saves.
  constexpr size_t kMinChunk = 1 << 16;
  if (num_threads == 1 || text.size() < 2 * kMinChunk) {
    return encode(text, allowed, on_disallowed);
  }
  check_utf8(text);
  if (on_disallowed == Disallowed::kRaise) {
    // Raise exactly as encode() would, before any work; the chunks then hold
    // no disallowed special (a split never cuts one), so they skip the scan.
    raise_if_disallowed(*tables_, text, allowed);
    on_disallowed = Disallowed::kAsText;
  }
  // A few chunks per thread even out uneven chunk costs.
  const size_t num_chunks =
      std::min<size_t>(size_t{num_threads} * 4, text.size() / kMinChunk);
  std::vector<size_t> bounds{0};
  for (size_t k = 1; k < num_chunks; ++k) {
    const size_t target = text.size() * k / num_chunks;
    if (target <= bounds.back()) continue;
    const size_t cut = next_safe_split(text, target);
    if (cut >= text.size()) break;
    if (cut > bounds.back()) bounds.push_back(cut);
  }
  bounds.push_back(text.size());
  const size_t chunks = bounds.size() - 1;
  std::vector<std::vector<TokenId>> results(chunks);
  std::vector<std::exception_ptr> errors(chunks);
  std::atomic<size_t> next_chunk{0};
  auto worker = [&] {
    PieceCache cache;
    for (;;) {
      const size_t k = next_chunk.fetch_add(1);
      if (k >= chunks) return;
      try {
        const std::string_view part =
            text.substr(bounds[k], bounds[k + 1] - bounds[k]);
        results[k].reserve(part.size() / 2 + 16);
        encode_with_specials(
            *tables_, part, allowed, on_disallowed, cache, results[k]);
      } catch (...) {
        errors[k] = std::current_exception();
      }
    }
  };
  // The cache's keys point into `text`, which outlives every worker.
  std::vector<std::thread> threads;
  const size_t num_workers = std::min<size_t>(num_threads, chunks);
  for (size_t k = 1; k < num_workers; ++k) threads.emplace_back(worker);
  worker();
  for (auto& th : threads) th.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  size_t total = 0;
  for (const auto& r : results) total += r.size();
  std::vector<TokenId> out;
  out.reserve(total);
  for (const auto& r : results) out.insert(out.end(), r.begin(), r.end());
  return out;
}

std::string Tokenizer::decode(const std::vector<TokenId>& ids) const {
  const Tables& t = *tables_;
  size_t total = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    const TokenId id = ids[i];
    if (id < t.num_ordinary) {
      total += t.offsets[id + 1] - t.offsets[id];
      continue;
    }
    bool special = false;
    for (const auto& sp : t.specials) {
      if (sp.second == id) {
        total += sp.first.size();
        special = true;
      }
    }
    if (!special) {
      throw TokenizerError(fmt::format(
          "decode: id {} at index {} is outside the vocabulary (expected 0 to "
          "{})",
          id,
          i,
          vocab_size() - 1));
    }
  }
  std::string out;
  out.reserve(total);
  for (const TokenId id : ids) {
    if (id < t.num_ordinary) {
      out += t.token_bytes(id);
    } else {
      for (const auto& sp : t.specials) {
        if (sp.second == id) out += sp.first;
      }
    }
  }
  return out;
}

size_t Tokenizer::vocab_size() const {
  return tables_->num_ordinary + tables_->specials.size();
}

TokenId Tokenizer::eot_token() const {
  for (const auto& sp : tables_->specials) {
    if (sp.first == kEndOfText) return sp.second;
  }
  throw TokenizerError("eot_token: vocabulary has no <|endoftext|>");
}

std::vector<std::string> Tokenizer::special_tokens() const {
  std::vector<std::string> names;
  for (const auto& sp : tables_->specials) names.push_back(sp.first);
  return names;
}

}  // namespace ember
