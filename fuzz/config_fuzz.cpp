// libFuzzer target for the config loader (ember::parse_config): any TOML text
// either gives a config or throws an ember::Error (ConfigError) -- any other
// exception or a crash is a finding; a config that loads survives to_toml ->
// parse_config unchanged. Input: TOML text, optionally followed by a NUL and
// one `--set` override per line. Built with -DEMBER_FUZZ=ON (CXX=clang++);
// run with scripts/fuzz.sh config.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <ember/config/config.hpp>
#include <ember/util/error.hpp>

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view toml = input.substr(0, nul);
  std::vector<std::string> overrides;
  if (nul != std::string_view::npos) {
    std::string_view rest = input.substr(nul + 1);
    while (!rest.empty()) {
      const size_t nl = rest.find('\n');
      overrides.emplace_back(rest.substr(0, nl));
      if (nl == std::string_view::npos) break;
      rest = rest.substr(nl + 1);
    }
  }
  ember::Config config;
  try {
    config = ember::parse_config(toml, "fuzz.toml", overrides);
  } catch (const ember::Error&) {
    return 0;  // refused with a message: fine
  }
  const std::string text = ember::to_toml(config);
  const ember::Config again = ember::parse_config(text, "fuzz.toml (again)");
  require(ember::differing_keys(config, again).empty());
  require(ember::to_toml(again) == text);
  return 0;
}
