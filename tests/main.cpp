// The one Catch2 main of ember_tests (compiled once). c10::Error is
// translated to msg() so REQUIRE_THROWS_WITH can pin messages exactly:
// what() would append a backtrace.
#define CATCH_CONFIG_MAIN
#include <c10/util/Exception.h>
#include <catch2/catch.hpp>

CATCH_TRANSLATE_EXCEPTION(const c10::Error& e) {
  return e.msg();
}
