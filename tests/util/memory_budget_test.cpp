// memory_budget.hpp: the byte formatting, the text estimate and a sane
// budget; the refusals under a real limit are in tests/cli/memory_limit.sh.
#include <cstdint>

#include <catch2/catch.hpp>

#include <ember/util/memory_budget.hpp>

TEST_CASE("MemoryBudget: bytes are shown in powers of 1000", "[config]") {
  CHECK(ember::format_bytes(17) == "17 B");
  CHECK(ember::format_bytes(12000) == "12.0 KB");
  CHECK(ember::format_bytes(300000000) == "300.0 MB");
  CHECK(ember::format_bytes(999999937) == "1.0 GB");
  CHECK(ember::format_bytes(1500000000) == "1.5 GB");
}

TEST_CASE("MemoryBudget: the text estimate is 9x the text", "[config]") {
  // text + 24 bytes per token at one token per 3 bytes.
  CHECK(ember::text_in_memory_bytes(3000000) == 3000000 + 24 * 1000001);
  CHECK(ember::text_in_memory_bytes(0) == 24);
}

TEST_CASE("MemoryBudget: this process has some memory left", "[config]") {
  const ember::MemoryBudget b = ember::available_memory();
  CHECK(b.bytes > (uint64_t{16} << 20));
  if (b.bytes != UINT64_MAX) CHECK(!b.limit.empty());
}
