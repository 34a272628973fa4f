// libFuzzer target for the input of `ember decode` (ember::parse_decode_input):
// any bytes either give ids that all decode, or throw TokenizerError; id text
// that parses re-parses to the same ids from its canonical form. The first
// input byte picks a mode: odd = if the rest is a token file, its checksum is
// recomputed first, so the fuzzer gets past it to the header and the ids.
// Built with -DEMBER_FUZZ=ON (CXX=clang++); run with scripts/fuzz.sh decode.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <ember/text/id_text.hpp>
#include <ember/text/token_file.hpp>
#include <ember/text/tokenizer.hpp>
#include <ember/util/error.hpp>

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ember::Tokenizer tok = ember::Tokenizer::gpt2();
  if (size == 0) return 0;
  const bool fix_checksum = (data[0] & 1) != 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  const bool token_file = bytes.compare(0, 8, ember::kTokenFileMagic) == 0;
  if (fix_checksum && token_file &&
      bytes.size() >= ember::kTokenFileHeaderSize) {
    // With the algorithm of the header's version; a header the parser
    // refuses is refused before the checksum is looked at, so it stays.
    try {
      const auto h = ember::parse_token_file_header(bytes, "fuzz");
      ember::PayloadChecksum checksum(h.version);
      checksum.update(
          bytes.data() + ember::kTokenFileHeaderSize,
          bytes.size() - ember::kTokenFileHeaderSize);
      const uint64_t sum = checksum.digest();
      for (int i = 0; i < 8; ++i)
        bytes[24 + i] = static_cast<char>(sum >> (8 * i));
    } catch (const ember::TokenizerError&) {
    }
  }
  std::vector<ember::TokenId> ids;
  try {
    ids = ember::parse_decode_input(bytes, "fuzz", tok.vocab_size());
  } catch (const ember::TokenizerError&) {
    return 0;  // refused with a message: fine
  }
  // Every id accepted must decode (decode throws on an id outside the
  // vocabulary, which would escape and be reported).
  const std::string text = tok.decode(ids);
  (void)text;
  if (!token_file) {
    std::string canonical;
    for (const auto id : ids) canonical += std::to_string(id) + "\n";
    require(ember::parse_id_text(canonical, "fuzz", tok.vocab_size()) == ids);
  }
  return 0;
}
