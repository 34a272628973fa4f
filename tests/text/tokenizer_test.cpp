#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <ember_test_paths.hpp>
#include <nlohmann/json.hpp>
#include <unistd.h>
#include <utf8proc.h>

#include <ember/text/tokenizer.hpp>
#include <ember/text/unicode_table.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

using ember::AllowedSpecial;
using ember::Disallowed;
using ember::TokenId;
using ember::Tokenizer;
using Ids = std::vector<TokenId>;

namespace {

// Loaded once: the tables are immutable and Tokenizer is thread-safe.
const Tokenizer& gpt2() {
  static const Tokenizer tok = Tokenizer::gpt2();
  return tok;
}

std::string verdict() {
  return ember::read_file(
      std::string(EMBER_SOURCE_DIR) + "/data/the-verdict.txt");
}

// Bench corpora ($EMBER_BENCH_DIR, else ../shared/data/bench beside the
// source); empty when absent.
std::vector<std::string> bench_corpora() {
  const char* env = std::getenv("EMBER_BENCH_DIR");
  const std::string dir =
      env && *env ? std::string(env)
                  : std::string(EMBER_SOURCE_DIR) + "/../shared/data/bench";
  std::vector<std::string> out;
  for (const char* name : {"mixed.txt", "code.txt"}) {
    const std::string path = dir + "/" + name;
    if (std::ifstream(path).good()) out.push_back(path);
  }
  return out;
}

void append_utf8(std::string& s, uint32_t cp) {
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Random valid UTF-8, weighted towards ASCII, spaces and apostrophes.
std::string random_utf8(uint32_t seed) {
  std::mt19937 rng(seed);
  const size_t len = std::uniform_int_distribution<size_t>(0, 200)(rng);
  std::string s;
  for (size_t i = 0; i < len; ++i) {
    const int kind = std::uniform_int_distribution<int>(0, 9)(rng);
    uint32_t cp = 0;
    if (kind <= 3) {
      cp = std::uniform_int_distribution<uint32_t>(0x20, 0x7E)(rng);
    } else if (kind == 4) {
      const uint32_t picks[] = {
          ' ', ' ', '\n', '\t', '\'', 0xA0, 0x3000, 0x2028};
      cp = picks[std::uniform_int_distribution<int>(0, 7)(rng)];
    } else if (kind <= 7) {
      cp = std::uniform_int_distribution<uint32_t>(0x80, 0xFFFF)(rng);
    } else {
      cp = std::uniform_int_distribution<uint32_t>(0x10000, 0x10FFFF)(rng);
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'x';
    append_utf8(s, cp);
  }
  return s;
}

}  // namespace

TEST_CASE(
    "Tokenizer: the-verdict encodes to the book's 5145 ids", "[tokenizer]") {
  const Ids ids = gpt2().encode(verdict());
  REQUIRE(ids.size() == 5145);
  const Ids head(ids.begin(), ids.begin() + 9);
  CHECK(head == Ids{40, 367, 2885, 1464, 1807, 3619, 402, 271, 10899});
  CHECK(gpt2().decode(ids) == verdict());
}

TEST_CASE("Tokenizer: the book's example sentences", "[tokenizer]") {
  const std::string text =
      "Hello, do you like tea? <|endoftext|> In the sunlit terracesof "
      "someunknownPlace.";
  CHECK(
      gpt2().encode(text, AllowedSpecial({"<|endoftext|>"})) ==
      Ids{15496, 11,   466,   345,  588,  8887, 30,  220,   50256, 554,
          262,   4252, 18250, 8812, 2114, 1659, 617, 34680, 27271, 13});
  CHECK(
      gpt2().encode("Hello, world. Is this-- a test?") ==
      Ids{15496, 11, 995, 13, 1148, 428, 438, 257, 1332, 30});
  CHECK(gpt2().encode("hello world") == Ids{31373, 995});
  CHECK(gpt2().decode({31373, 995}) == "hello world");
}

TEST_CASE("Tokenizer: hard cases match tiktoken's golden ids", "[tokenizer]") {
  std::ifstream in(
      std::string(EMBER_SOURCE_DIR) + "/tests/golden/tokenizer_cases.jsonl");
  REQUIRE(in.good());
  std::string line;
  std::getline(in, line);  // header
  size_t n = 0;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    const std::string text = j.at("text").get<std::string>();
    const Ids ids = j.at("ids").get<Ids>();
    const Ids as_text = j.at("as_text_ids").get<Ids>();
    INFO("text: " << nlohmann::json(text).dump());
    CHECK(gpt2().encode(text, AllowedSpecial::all()) == ids);
    CHECK(
        gpt2().encode(text, AllowedSpecial::none(), Disallowed::kAsText) ==
        as_text);
    CHECK(gpt2().encode_ordinary(text) == as_text);
    CHECK(gpt2().encode_bytes(text) == as_text);
    CHECK(gpt2().decode(ids) == text);
    ++n;
  }
  CHECK(n >= 100);
}

TEST_CASE(
    "Tokenizer: letters and numbers new in Unicode 15.1/16.0 match tiktoken",
    "[tokenizer]") {
  // utf8proc 2.8 (Unicode 15.0) calls these unassigned; tiktoken's Unicode
  // 16.0 tables call them \p{L} / \p{N}. "X's" shows the class: after a
  // letter or number "'s" is its own piece (338); after "other" the
  // apostrophe joins X's run and "s" follows (6 82). Ids from
  // tiktoken@1.0.22 (node: Array.from(enc.encode(text))).
  struct Case {
    uint32_t cp;
    Ids ids;
  };
  for (const Case& c : {
           Case{0x2EBF0, {172, 106, 107, 108, 338}},  // CJK Ext. I (15.1), Lo
           Case{0x2EE5D, {172, 106, 117, 251, 338}},  // its last, Lo
           Case{0x10D41, {172, 238, 113, 223, 338}},  // Garay digit one, Nd
           Case{0x10D4A, {172, 238, 113, 232, 338}},  // Garay letter, Lo
           Case{0x1C89, {157, 110, 231, 338}},        // Cyrillic Tje (BMP), Lu
           Case{0xA7CB, {166, 253, 233, 338}},  // Latin ramshorn (BMP), Lu
           Case{0x11BF0, {172, 239, 107, 108, 338}},  // Sunuwar digit zero, Nd
           Case{0x16D43, {172, 244, 113, 225, 338}},  // Kirat Rai letter, Lo
           Case{0x13460, {172, 241, 239, 254, 338}},  // Egyptian Hier. Ext. A
           Case{0x1CCF0, {172, 250, 111, 108, 338}},  // outlined digit zero, Nd
           // Still unassigned in 16.0, and a new mark (Mn): other.
           Case{0x2EE5E, {172, 106, 117, 252, 6, 82}},
           Case{0x10D69, {172, 238, 113, 102, 6, 82}},
       }) {
    std::string text;
    append_utf8(text, c.cp);
    text += "'s";
    INFO("U+" << std::hex << c.cp);
    CHECK(gpt2().encode(text) == c.ids);
    CHECK(gpt2().encode_bytes(text) == c.ids);
    CHECK(gpt2().decode(c.ids) == text);
  }
  // Garay letters then digits, CJK Ext. I: a run, "'s" / "'ll" on their own.
  std::string text = " ";
  for (const uint32_t cp : {0x10D4A, 0x10D4B, 0x10D41, 0x10D42}) {
    append_utf8(text, cp);
  }
  text += "'s ";
  append_utf8(text, 0x2EBF0);
  append_utf8(text, 0x2EBF1);
  text += "'ll";
  CHECK(gpt2().encode(text) == Ids{220, 172, 238, 113, 232, 172, 238,
                                   113, 233, 172, 238, 113, 223, 172,
                                   238, 113, 224, 338, 220, 172, 106,
                                   107, 108, 172, 106, 107, 109, 1183});
  CHECK(gpt2().encode_parallel(text) == gpt2().encode(text));
}

TEST_CASE(
    "Tokenizer: the generated Unicode 16.0 table is sorted and agrees with "
    "utf8proc",
    "[tokenizer]") {
  using ember::detail::kUnicodeNewClassRanges;
  using ember::detail::UnicodeClass;
  const auto class_of = [](uint32_t cp) -> std::optional<UnicodeClass> {
    for (const auto& r : kUnicodeNewClassRanges) {
      if (cp >= r.first && cp <= r.last) return r.cls;
    }
    return std::nullopt;
  };
  CHECK(std::string(ember::detail::kUnicodeTableVersion) == "16.0.0");
  CHECK(class_of(0x2EBF0) == UnicodeClass::kLetter);  // CJK Ext. I
  CHECK(class_of(0x10D41) == UnicodeClass::kNumber);  // Garay digit one
  CHECK(class_of(0x10D4A) == UnicodeClass::kLetter);  // Garay letter
  CHECK(class_of(0x1CCF0) == UnicodeClass::kNumber);  // outlined digit zero
  CHECK_FALSE(class_of(0x10D69).has_value());         // Garay mark (Mn)
  CHECK_FALSE(class_of('a').has_value());             // known to utf8proc
  uint64_t count = 0;
  uint32_t prev_last = 0;
  bool first = true;
  for (const auto& r : kUnicodeNewClassRanges) {
    INFO("range U+" << std::hex << r.first << "..U+" << r.last);
    REQUIRE(r.first <= r.last);
    REQUIRE(r.last <= 0x10FFFF);
    REQUIRE((first || r.first > prev_last));
    first = false;
    prev_last = r.last;
    for (uint32_t cp = r.first; cp <= r.last; ++cp) {
      ++count;
      // The table is consulted only where utf8proc says Cn; a utf8proc that
      // knows the code point must put it in the same class.
      const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
      if (cat == UTF8PROC_CATEGORY_CN) continue;
      const bool letter =
          cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
      const bool number =
          cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO;
      const bool space =
          (cat >= UTF8PROC_CATEGORY_ZS && cat <= UTF8PROC_CATEGORY_ZP) ||
          (cp >= 0x09 && cp <= 0x0D) || cp == 0x85;
      INFO(
          "U+" << std::hex << cp << " category " << std::dec
               << static_cast<int>(cat));
      CHECK(
          (r.cls == UnicodeClass::kLetter   ? letter
           : r.cls == UnicodeClass::kNumber ? number
                                            : space));
    }
  }
  // 5,004 code points: Unicode 15.1 + 16.0 letters and numbers.
  CHECK(count == 5004);
}

TEST_CASE(
    "Tokenizer: decode(encode(s)) == s for random valid UTF-8", "[tokenizer]") {
  const auto seed = GENERATE(take(300, random(0u, 0xFFFFFFFFu)));
  const std::string s = random_utf8(seed);
  INFO("seed " << seed);
  REQUIRE_FALSE(ember::find_invalid_utf8(s).has_value());
  const Ids ids = gpt2().encode(s, AllowedSpecial::none(), Disallowed::kAsText);
  CHECK(gpt2().decode(ids) == s);
  CHECK(gpt2().encode_bytes(s) == ids);
}

TEST_CASE(
    "Tokenizer: encode_bytes round-trips random byte strings", "[tokenizer]") {
  const auto seed = GENERATE(take(300, random(0u, 0xFFFFFFFFu)));
  std::mt19937 rng(seed);
  const size_t len = std::uniform_int_distribution<size_t>(0, 300)(rng);
  std::string bytes(len, '\0');
  for (char& c : bytes) {
    c = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
  }
  INFO("seed " << seed);
  CHECK(gpt2().decode(gpt2().encode_bytes(bytes)) == bytes);
}

TEST_CASE(
    "Tokenizer: encode_bytes gives each invalid byte its own pre-token",
    "[tokenizer]") {
  // 0xFF is invalid: it splits "ab\xffcd" like a non-space that joins nothing.
  const Ids ab = gpt2().encode("ab");
  const Ids cd = gpt2().encode("cd");
  Ids expected = ab;
  expected.push_back(gpt2().encode_bytes("\xff").at(0));
  expected.insert(expected.end(), cd.begin(), cd.end());
  CHECK(
      gpt2().encode_bytes("ab\xff"
                          "cd") == expected);
  CHECK(gpt2().encode_bytes("\xff").size() == 1);
  // A truncated 3-byte sequence is two bad bytes.
  CHECK(gpt2().decode(gpt2().encode_bytes("x\xe2\x82")) == "x\xe2\x82");
}

TEST_CASE(
    "Tokenizer: 10,000 repeats, the empty string, a lone special",
    "[tokenizer]") {
  CHECK(gpt2().encode("").empty());
  CHECK(gpt2().decode({}).empty());
  CHECK(gpt2().encode("<|endoftext|>", AllowedSpecial::all()) == Ids{50256});
  CHECK(gpt2().decode({50256}) == "<|endoftext|>");
  // Ids from tiktoken@1.0.22 (node: enc.encode(unit.repeat(10000))).
  struct Repeat {
    const char* unit;
    size_t num_ids;
    TokenId first;
  };
  for (const Repeat& r : {
           Repeat{"a", 2500, 24794},  // "aaaa"
           Repeat{" ", 10000, 220},   // GPT-2 has no multi-space token
           Repeat{"\n", 5000, 628},   // "\n\n"
           Repeat{"!", 1250, 34635},  // "!!!!!!!!"
           Repeat{"1", 2500, 26259},  // "1111"
           Repeat{"\xc3\xa9", 10000, 2634},
           Repeat{"\xf0\x9f\x98\x80", 20000, 47249},
       }) {
    std::string s;
    for (int i = 0; i < 10000; ++i) s += r.unit;
    INFO("unit " << nlohmann::json(std::string(r.unit)).dump());
    const Ids ids = gpt2().encode(s);
    CHECK(ids.size() == r.num_ids);
    CHECK(ids.at(0) == r.first);
    CHECK(gpt2().decode(ids) == s);
  }
}

TEST_CASE(
    "Tokenizer: special tokens are disallowed, allowed, or text",
    "[tokenizer]") {
  const std::string text = "a <|endoftext|> b";
  REQUIRE_THROWS_AS(gpt2().encode(text), ember::DisallowedSpecialError);
  REQUIRE_THROWS_WITH(
      gpt2().encode(text),
      "encode: text contains the special token '<|endoftext|>' at byte 2, "
      "which is not allowed; hint: allow it (allowed_special) to encode it "
      "as id 50256, or pass Disallowed::kAsText to encode it as ordinary text");
  try {
    gpt2().encode(text);
  } catch (const ember::DisallowedSpecialError& e) {
    CHECK(e.token() == "<|endoftext|>");
    CHECK(e.offset() == 2);
  }
  const Ids allowed = gpt2().encode(text, AllowedSpecial({"<|endoftext|>"}));
  CHECK(allowed == Ids{64, 220, 50256, 275});
  CHECK(gpt2().encode(text, AllowedSpecial::all()) == allowed);
  const Ids as_text =
      gpt2().encode(text, AllowedSpecial::none(), Disallowed::kAsText);
  CHECK(as_text == gpt2().encode_ordinary(text));
  CHECK(as_text == Ids{64, 1279, 91, 437, 1659, 5239, 91, 29, 275});
  CHECK(gpt2().decode(as_text) == text);
  CHECK(gpt2().eot_token() == 50256);
  CHECK(gpt2().vocab_size() == 50257);
  CHECK(gpt2().special_tokens() == std::vector<std::string>{"<|endoftext|>"});
  // A partial special is ordinary text even when specials are disallowed.
  CHECK_NOTHROW(gpt2().encode("<|endoftext"));
}

TEST_CASE(
    "Tokenizer: decode rejects ids outside the vocabulary", "[tokenizer]") {
  REQUIRE_THROWS_AS(gpt2().decode({31373, 50257}), ember::TokenizerError);
  REQUIRE_THROWS_WITH(
      gpt2().decode({31373, 995, 50257}),
      "decode: id 50257 at index 2 is outside the vocabulary (expected 0 to "
      "50256)");
  REQUIRE_THROWS_WITH(
      gpt2().decode({4294967295u}),
      "decode: id 4294967295 at index 0 is outside the vocabulary (expected 0 "
      "to 50256)");
}

TEST_CASE(
    "Tokenizer: invalid UTF-8 is rejected with the byte offset",
    "[tokenizer]") {
  using ember::find_invalid_utf8;
  CHECK_FALSE(find_invalid_utf8("").has_value());
  CHECK_FALSE(find_invalid_utf8("plain ascii text, long enough").has_value());
  CHECK_FALSE(
      find_invalid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf")
          .has_value());
  CHECK(find_invalid_utf8("abc\xff").value() == 3);
  CHECK(
      find_invalid_utf8("0123456789\x80").value() == 10);  // lone continuation
  CHECK(find_invalid_utf8("a\xc0\xaf").value() == 1);      // overlong '/'
  CHECK(find_invalid_utf8("a\xe0\x80\xaf").value() == 1);  // overlong 3-byte
  CHECK(
      find_invalid_utf8("a\xf0\x80\x80\xaf").value() == 1);  // overlong 4-byte
  CHECK(find_invalid_utf8("a\xed\xa0\x80").value() == 1);    // surrogate D800
  CHECK(find_invalid_utf8("a\xf4\x90\x80\x80").value() == 1);  // > U+10FFFF
  CHECK(find_invalid_utf8("ab\xe2\x82").value() == 2);         // truncated
  REQUIRE_THROWS_AS(gpt2().encode("ok\xff"), ember::Utf8Error);
  REQUIRE_THROWS_WITH(
      gpt2().encode("ok\xff"),
      "encode: invalid utf-8 at byte 2 (got 0xff); hint: use encode_bytes "
      "for arbitrary bytes");
  try {
    gpt2().encode("ok\xff");
  } catch (const ember::Utf8Error& e) {
    CHECK(e.offset() == 2);
  }
}

TEST_CASE(
    "next_safe_split: a space after an ASCII non-space byte", "[tokenizer]") {
  CHECK(ember::next_safe_split("ab cd ef", 0) == 2);
  CHECK(ember::next_safe_split("ab cd ef", 3) == 5);
  CHECK(ember::next_safe_split("ab cd ef", 6) == 8);
  CHECK(ember::next_safe_split(" ab", 0) == 3);   // position 0 is never a split
  CHECK(ember::next_safe_split("a  b", 0) == 1);  // before the first space only
  CHECK(ember::next_safe_split("a  b", 2) == 4);  // "  " is one run
  CHECK(ember::next_safe_split("\xc3\xa9 x", 0) == 4);  // not after non-ASCII
  CHECK(ember::next_safe_split("a\n b", 0) == 4);       // not after whitespace
  CHECK(ember::next_safe_split("", 0) == 0);
}

TEST_CASE(
    "next_safe_split: splitting there never changes the ids", "[tokenizer]") {
  const std::string text = verdict();
  const Ids whole = gpt2().encode(text);
  size_t checked = 0;
  for (size_t at = ember::next_safe_split(text, 0); at < text.size();
       at = ember::next_safe_split(text, at + 97)) {
    Ids parts = gpt2().encode(std::string_view(text).substr(0, at));
    const Ids right = gpt2().encode(std::string_view(text).substr(at));
    parts.insert(parts.end(), right.begin(), right.end());
    INFO("split at byte " << at);
    REQUIRE(parts == whole);
    ++checked;
  }
  CHECK(checked > 100);
  // Random UTF-8: every safe split of each string.
  for (uint32_t seed = 1; seed <= 200; ++seed) {
    const std::string s = random_utf8(seed);
    const Ids ids =
        gpt2().encode(s, AllowedSpecial::none(), Disallowed::kAsText);
    for (size_t at = ember::next_safe_split(s, 0); at < s.size();
         at = ember::next_safe_split(s, at + 1)) {
      Ids parts = gpt2().encode_ordinary(std::string_view(s).substr(0, at));
      const Ids right = gpt2().encode_ordinary(std::string_view(s).substr(at));
      parts.insert(parts.end(), right.begin(), right.end());
      INFO("seed " << seed << ", split at byte " << at);
      REQUIRE(parts == ids);
    }
  }
}

TEST_CASE(
    "Tokenizer: encode_parallel equals encode at 1, 2 and 4 threads",
    "[tokenizer]") {
  std::vector<std::string> texts;
  texts.push_back(verdict());
  // Big enough to be cut into chunks (encode_parallel keeps small inputs
  // whole).
  std::string repeated;
  for (int i = 0; i < 40; ++i) repeated += verdict() + "<|endoftext|>";
  texts.push_back(repeated);
  for (const auto& path : bench_corpora())
    texts.push_back(ember::read_file(path));
  if (texts.size() == 2)
    WARN("bench corpora not found; using the-verdict only");
  for (const auto& text : texts) {
    const Ids expected = gpt2().encode(text, AllowedSpecial::all());
    for (const unsigned threads : {1u, 2u, 4u}) {
      INFO(text.size() << " bytes, " << threads << " threads");
      CHECK(
          gpt2().encode_parallel(
              text, AllowedSpecial::all(), Disallowed::kRaise, threads) ==
          expected);
    }
  }
  // The same errors as encode().
  REQUIRE_THROWS_WITH(
      gpt2().encode_parallel(
          repeated, AllowedSpecial::none(), Disallowed::kRaise, 2),
      Catch::Contains("special token '<|endoftext|>' at byte 20479"));
  CHECK(
      gpt2().encode_parallel(
          repeated, AllowedSpecial::none(), Disallowed::kAsText, 2) ==
      gpt2().encode_ordinary(repeated));
}

TEST_CASE(
    "Tokenizer: a vocabulary that fails its SHA-256 pin is refused",
    "[tokenizer]") {
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("ember_vocab_test_" + std::to_string(::getpid())))
                              .string();
  std::filesystem::create_directories(dir);
  const std::string vocab = ember::gpt2_vocab_dir();
  std::string enc = ember::read_file(vocab + "/encoder.json");
  ember::write_file_atomic(
      dir + "/vocab.bpe", ember::read_file(vocab + "/vocab.bpe"));
  enc += ' ';  // still valid JSON, but not the pinned bytes
  ember::write_file_atomic(dir + "/encoder.json", enc);
  const std::string expected =
      "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783";
  REQUIRE_THROWS_WITH(
      Tokenizer::gpt2(dir),
      "load " + dir + "/encoder.json: sha256 mismatch (got " +
          ember::sha256_hex(enc) + ", expected " + expected +
          "); hint: the file is corrupt or a different version, rerun "
          "scripts/setup.sh");
  REQUIRE_THROWS_WITH(
      Tokenizer::gpt2(dir + "/missing"),
      "read " + dir + "/missing/encoder.json: no such file");
  ember::remove_tree(dir);
}

namespace {

// A temporary stream holding `data`, rewound.
std::FILE* stream_of(const std::string& data) {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  REQUIRE(std::fwrite(data.data(), 1, data.size(), f) == data.size());
  std::rewind(f);
  return f;
}

Ids encode_stream_all(
    const std::string& data,
    size_t chunk_bytes,
    const AllowedSpecial& allowed = AllowedSpecial::all()) {
  std::FILE* f = stream_of(data);
  Ids all;
  size_t calls = 0;
  try {
    const uint64_t n = gpt2().encode_stream(
        f,
        [&](const Ids& ids) {
          all.insert(all.end(), ids.begin(), ids.end());
          ++calls;
        },
        allowed,
        Disallowed::kRaise,
        2,
        chunk_bytes);
    CHECK(n == data.size());
  } catch (...) {
    std::fclose(f);
    throw;
  }
  std::fclose(f);
  if (chunk_bytes < data.size() / 4) CHECK(calls > 1);
  return all;
}

}  // namespace

TEST_CASE(
    "Tokenizer: encode_stream equals encode for any chunk size",
    "[tokenizer]") {
  std::string text = verdict() + "<|endoftext|>";
  for (uint32_t seed = 1; seed <= 100; ++seed) text += random_utf8(seed);
  const Ids expected = gpt2().encode(text, AllowedSpecial::all());
  for (const size_t chunk :
       {size_t{1}, size_t{7}, size_t{100}, size_t{4096}, size_t{1} << 20}) {
    INFO("chunk_bytes " << chunk);
    CHECK(encode_stream_all(text, chunk) == expected);
  }
  CHECK(encode_stream_all("", 100).empty());
}

TEST_CASE(
    "Tokenizer: encode_stream errors carry offsets into the stream",
    "[tokenizer]") {
  const std::string bad_utf8 = verdict() + " abc\xff";
  REQUIRE_THROWS_WITH(
      encode_stream_all(bad_utf8, 1000),
      "encode: invalid utf-8 at byte 20483 (got 0xff); hint: use encode_bytes "
      "for arbitrary bytes");
  const std::string special = verdict() + " <|endoftext|>";
  REQUIRE_THROWS_WITH(
      encode_stream_all(special, 1000, AllowedSpecial::none()),
      "encode: text contains the special token '<|endoftext|>' at byte 20480, "
      "which is not allowed; hint: allow it (allowed_special) to encode it as "
      "id 50256, or pass Disallowed::kAsText to encode it as ordinary text");
}
