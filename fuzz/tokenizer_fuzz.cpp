// libFuzzer target for the tokenizer: any bytes must round-trip through
// encode_bytes, and valid UTF-8 must give the same ids through every entry
// point and across every next_safe_split boundary. Not built by CMake (needs
// clang); build and run from the repository root:
//
//   clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined \
//     -Iinclude -Ibuild/generated fuzz/tokenizer_fuzz.cpp src/tokenizer.cpp \
//     src/io.cpp -lutf8proc -lfmt -o build/tokenizer_fuzz
//   build/tokenizer_fuzz -max_total_time=60 -max_len=512
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <ember/tokenizer.hpp>

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
