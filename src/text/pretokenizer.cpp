#include "ember/text/pretokenizer.hpp"

#include <cstring>
#include <string_view>

#include <ember/text/tokenizer.hpp>

namespace ember {

size_t next_safe_split(std::string_view text, size_t from) {
  if (from == 0) from = 1;
  const size_t n = text.size();
  for (size_t i = from; i < n; ++i) {
    const auto* hit =
        static_cast<const char*>(std::memchr(text.data() + i, ' ', n - i));
    if (hit == nullptr) return n;
    i = static_cast<size_t>(hit - text.data());
    if (i > 0 && detail::splits_before_space(text[i - 1])) return i;
  }
  return n;
}

}  // namespace ember
