#include "ember/text/bpe.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <queue>

#include <ember/text/pretokenizer.hpp>

namespace ember::detail {
namespace {

using Tables = Tokenizer::Tables;

// tiktoken's byte_pair_merge on token ids; appends the result to `out`.
void byte_pair_merge(
    const Tables& t, const uint8_t* s, size_t n, std::vector<TokenId>& out) {
  constexpr size_t kSmall = 128;
  const PairMap& pairs = t.pairs();
  if (n < kSmall) {
    // The quadratic scan of tiktoken's lib.rs, on a stack array.
    std::array<uint32_t, kSmall> tok;
    std::array<uint32_t, kSmall> rank;
    for (size_t i = 0; i < n; ++i) tok[i] = t.byte_token[s[i]];
    size_t m = n;
    for (size_t i = 0; i + 1 < m; ++i) rank[i] = pairs.find(tok[i], tok[i + 1]);
    while (m > 1) {
      uint32_t best = kNoRank;
      size_t at = 0;
      for (size_t i = 0; i + 1 < m; ++i) {
        if (rank[i] < best) {
          best = rank[i];
          at = i;
        }
      }
      if (best == kNoRank) break;
      tok[at] = best;
      for (size_t i = at + 1; i + 1 < m; ++i) {
        tok[i] = tok[i + 1];
        rank[i] = rank[i + 1];
      }
      --m;
      if (at > 0) rank[at - 1] = pairs.find(tok[at - 1], tok[at]);
      if (at + 1 < m) rank[at] = pairs.find(tok[at], tok[at + 1]);
    }
    out.insert(out.end(), tok.begin(), tok.begin() + static_cast<long>(m));
    return;
  }
  // Long pieces: doubly linked parts and a min-heap of (rank, position);
  // stale heap entries are skipped. Each step merges the lowest rank,
  // leftmost on ties, as the quadratic scan does.
  std::vector<uint32_t> tok(n), next(n), prev(n);
  std::vector<char> alive(n, 1);
  using Entry = uint64_t;  // rank << 32 | position
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
  constexpr uint32_t kNone = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    tok[i] = t.byte_token[s[i]];
    next[i] = i + 1 < n ? static_cast<uint32_t>(i + 1) : kNone;
    prev[i] = i > 0 ? static_cast<uint32_t>(i - 1) : kNone;
  }
  auto push = [&](uint32_t i) {
    if (next[i] == kNone) return;
    const uint32_t r = pairs.find(tok[i], tok[next[i]]);
    if (r != kNoRank) heap.push(Entry{r} << 32 | i);
  };
  for (uint32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const Entry e = heap.top();
    heap.pop();
    const auto r = static_cast<uint32_t>(e >> 32);
    const auto i = static_cast<uint32_t>(e & 0xFFFFFFFFu);
    if (!alive[i] || next[i] == kNone) continue;
    const uint32_t j = next[i];
    if (pairs.find(tok[i], tok[j]) != r) continue;
    tok[i] = r;
    alive[j] = 0;
    next[i] = next[j];
    if (next[j] != kNone) prev[next[j]] = i;
    if (prev[i] != kNone) push(prev[i]);
    push(i);
  }
  for (uint32_t i = 0; i != kNone; i = next[i]) out.push_back(tok[i]);
}

// A pre-token with its lookup key computed.
struct PendingPiece {
  const uint8_t* s;
  uint32_t n;
  uint64_t key;  // packed bytes (n <= 8) or hash_bytes (n > 8)
  size_t slot;   // ShortMap index (n <= 8)
};

inline PendingPiece make_pending(
    const Tables& t, const uint8_t* s, size_t n, const uint8_t* end) {
  PendingPiece p{s, static_cast<uint32_t>(n), 0, 0};
  if (n == 1) return p;  // a byte is always its own token
  if (n <= 8) {
    p.key = pack8(s, n, end);
    p.slot = t.short_map.index(p.key, p.n);
  } else {
    p.key = hash_bytes(s, n);
  }
  return p;
}

// Appends the ids of one pre-token: whole-piece lookup, else the call's
// cache, else BPE.
inline void encode_piece(
    const Tables& t,
    const PendingPiece& p,
    PieceCache& cache,
    std::vector<TokenId>& out) {
  if (p.n == 1) {
    out.push_back(t.byte_token[*p.s]);
    return;
  }
  const uint32_t id = p.n <= 8 ? t.short_map.find_from(p.slot, p.key, p.n)
                               : t.find_long_hashed(p.s, p.n, p.key);
  if (id != kNoRank) {
    out.push_back(id);
    return;
  }
  const std::string_view key(reinterpret_cast<const char*>(p.s), p.n);
  const uint64_t h = p.key;  // packed bytes or hash: see PieceCache::find
  if (cache.find(key, h, out)) return;
  const size_t before = out.size();
  byte_pair_merge(t, p.s, p.n, out);
  cache.insert(key, h, out.data() + before, out.size() - before);
}

}  // namespace

// Pre-tokenizes and encodes text with no special handling.
void encode_segment(
    const Tables& t,
    std::string_view text,
    PieceCache& cache,
    std::vector<TokenId>& out) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const auto* end = s + text.size();
  split_gpt2(s, end, [&](const uint8_t* piece, size_t n) {
    encode_piece(t, make_pending(t, piece, n, end), cache, out);
  });
}

}  // namespace ember::detail
