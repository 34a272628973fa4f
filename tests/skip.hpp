// Skipping a Catch2 v2 case that cannot run on this machine (Catch2 2.x has
// no SKIP, and a case that WARNs and returns is reported as Passed). Under
// CTest (tests/CMakeLists.txt sets EMBER_CTEST_SKIP=77 and SKIP_RETURN_CODE
// 77 on every discovered case, each of which runs alone; the sanitized
// suite runs a file's cases together, the [cuda] ones alone) the case prints
// one line "skipped: <what>: <why>" and exits 77, which CTest shows as Skipped
// and scripts/check_skips.sh checks against tests/allowed_skips.txt. Run by
// hand (the whole binary at once) it prints the same line as a WARN and
// returns, so the other cases still run.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include <catch2/catch.hpp>

namespace ember::test {

/// Prints "skipped: WHAT: WHY" on stdout; exits with $EMBER_CTEST_SKIP when
/// it is set (under CTest), else returns. Called by EMBER_SKIP_CASE:
///   if (!torch::cuda::is_available())
///     EMBER_SKIP_CASE("CUDA forward", "no CUDA device");
inline void skip_line(const std::string& what, const std::string& why) {
  std::printf("skipped: %s: %s\n", what.c_str(), why.c_str());
  std::fflush(stdout);
  const char* code = std::getenv("EMBER_CTEST_SKIP");
  if (code != nullptr && *code != '\0') std::exit(std::atoi(code));
}

}  // namespace ember::test

// Prints "skipped: WHAT: WHY"; under CTest exits with the skip code, by
// hand WARNs and returns from the test case.
#define EMBER_SKIP_CASE(what, why)                \
  do {                                            \
    ::ember::test::skip_line(what, why);          \
    WARN("skipped: " << (what) << ": " << (why)); \
    return;                                       \
  } while (false)
