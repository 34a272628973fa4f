#include "ember/text/unicode_class.hpp"

#include <algorithm>
#include <iterator>

#include <ember/text/unicode_table.hpp>  // generated: scripts/gen_unicode_table.mjs

// The generated table fills in what utf8proc's Unicode 15.0 lacks; an older
// utf8proc would leave earlier additions unknown.
static_assert(
    UTF8PROC_VERSION_MAJOR > 2 ||
        (UTF8PROC_VERSION_MAJOR == 2 && UTF8PROC_VERSION_MINOR >= 8),
    "ember needs utf8proc >= 2.8 (Unicode 15.0); the build-time table adds "
    "only what is new in Unicode 15.1 and 16.0");

namespace ember::detail {

static_assert(
    static_cast<int>(UnicodeClass::kLetter) == kLetter &&
        static_cast<int>(UnicodeClass::kNumber) == kNumber &&
        static_cast<int>(UnicodeClass::kSpace) == kSpace,
    "unicode_table.hpp classes must match Cls");

[[gnu::cold, gnu::noinline]] Cls class_of_unassigned(int32_t cp) {
  const auto& table = kUnicodeNewClassRanges;
  const auto it = std::upper_bound(
      std::begin(table),
      std::end(table),
      static_cast<uint32_t>(cp),
      [](uint32_t c, const UnicodeClassRange& r) { return c < r.first; });
  if (it == std::begin(table)) return kOther;
  const UnicodeClassRange& r = *(it - 1);
  return static_cast<uint32_t>(cp) <= r.last ? static_cast<Cls>(r.cls) : kOther;
}

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

}  // namespace ember::detail
