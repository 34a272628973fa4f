// libFuzzer target for the tokenizer: any bytes must round-trip through
// encode_bytes, and valid UTF-8 must give the same ids through every entry
// point and across every next_safe_split boundary. Built with
// -DEMBER_FUZZ=ON (CXX=clang++); run with `bash scripts/fuzz.sh [seconds]`.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <ember/text/tokenizer.hpp>

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ember::Tokenizer tok = ember::Tokenizer::gpt2();
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto ids = tok.encode_bytes(bytes);
  require(tok.decode(ids) == bytes);
  if (ember::find_invalid_utf8(bytes)) return 0;
  require(tok.encode_ordinary(bytes) == ids);
  const auto with_specials = tok.encode(bytes, ember::AllowedSpecial::all());
  require(tok.decode(with_specials) == bytes);
  for (size_t at = ember::next_safe_split(bytes, 0); at < size;
       at = ember::next_safe_split(bytes, at + 1)) {
    auto left = tok.encode_ordinary(bytes.substr(0, at));
    const auto right = tok.encode_ordinary(bytes.substr(at));
    left.insert(left.end(), right.begin(), right.end());
    require(left == ids);
  }
  return 0;
}
